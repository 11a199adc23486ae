"""Where opensessions keeps things: the tmux socket it serves, its runtime dir, config files.

One tmux server (socket path) gets one runtime dir, keyed by a short hash of the socket path,
so two tmux servers on one machine never share sockets or state.
"""
from __future__ import annotations

import os
import stat

IPC_PATH_LIMIT = 100  # sun_path is 108 bytes on Linux; keep a margin


class PathError(Exception):
    """A path opensessions cannot use; the message says how to fix it."""


def tmux_socket_path(name: str | None = None, path: str | None = None,
                     env: dict[str, str] | None = None) -> str:
    """The tmux server socket the way tmux itself picks it: -S, -L, $TMUX, then `default`."""
    env = os.environ if env is None else env
    if path:
        return os.path.abspath(path)
    if name is None and env.get("TMUX"):
        return env["TMUX"].split(",", 1)[0]
    tmpdir = env.get("TMUX_TMPDIR") or "/tmp"
    return os.path.join(tmpdir, f"tmux-{os.getuid()}", name or "default")


def server_key(socket_path: str) -> str:
    try:
        from _sha1 import sha1   # the builtin: hashlib would load OpenSSL, ~4 ms of every CLI start
    except ImportError:
        from hashlib import sha1
    return sha1(socket_path.encode()).hexdigest()[:12]


def runtime_base(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("OPENSESSIONS_RUNTIME_DIR"):
        return env["OPENSESSIONS_RUNTIME_DIR"]
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "opensessions")
    return f"/tmp/opensessions-{os.getuid()}"


def config_dir(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return os.path.join(base, "opensessions")


def check_private_dir(path: str) -> None:
    """Refuse a dir another user owns or others may write to: its sockets would be theirs."""
    st = os.stat(path)
    if st.st_uid != os.getuid():
        raise PathError(f"runtime dir {path} is owned by uid {st.st_uid}, not you; "
                        f"remove it or set OPENSESSIONS_RUNTIME_DIR")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PathError(f"runtime dir {path} is group/world writable; run `chmod 700 {path}`")


def ensure_private_dir(path: str) -> str:
    """Create (0700) and check the dir and the base it lives in: whoever can write to the base
    can swap our dir for theirs."""
    base = os.path.dirname(path.rstrip("/"))
    os.makedirs(base, mode=0o700, exist_ok=True)
    check_private_dir(base)
    os.makedirs(path, mode=0o700, exist_ok=True)
    check_private_dir(path)
    return path


def check_socket_dir(socket_path: str) -> None:
    """Before a client connects to a socket: its dir and that dir's base must be private."""
    directory = os.path.dirname(socket_path)
    for d in (os.path.dirname(directory), directory):
        if os.path.isdir(d):
            check_private_dir(d)


class Runtime:
    """Every path of one trio. Pure: creating it touches nothing on disk."""
    __slots__ = ("socket_path", "dir", "config_dir")

    def __init__(self, socket_path: str, dir: str, config_dir: str):
        self.socket_path, self.dir, self.config_dir = socket_path, dir, config_dir

    def __eq__(self, other) -> bool:
        return isinstance(other, Runtime) and (self.socket_path, self.dir, self.config_dir) == \
            (other.socket_path, other.dir, other.config_dir)

    @classmethod
    def for_socket(cls, socket_path: str, env: dict[str, str] | None = None) -> "Runtime":
        base = runtime_base(env)
        return cls(socket_path=socket_path, dir=os.path.join(base, server_key(socket_path)),
                   config_dir=config_dir(env))

    def _ipc(self, name: str) -> str:
        endpoint = f"ipc://{os.path.join(self.dir, name)}"
        if len(endpoint) - len("ipc://") >= IPC_PATH_LIMIT:
            raise PathError(f"socket path {endpoint[6:]!r} is too long for a unix socket; "
                            f"set OPENSESSIONS_RUNTIME_DIR to a shorter dir")
        return endpoint

    @property
    def state_endpoint(self) -> str:          # ROUTER: commands
        return self._ipc("state.sock")

    @property
    def observe_endpoint(self) -> str:        # PULL in state: observations from the collector
        return self._ipc("observe.sock")

    @property
    def snapshot_in_endpoint(self) -> str:    # PULL in publisher: snapshots from state
        return self._ipc("snapin.sock")

    @property
    def pub_endpoint(self) -> str:            # PUB: snapshots and heartbeats
        return self._ipc("pub.sock")

    @property
    def sync_endpoint(self) -> str:           # ROUTER in publisher: late joiners ask here
        return self._ipc("sync.sock")

    @property
    def supervisor_socket(self) -> str:
        return os.path.join(self.dir, "supervisor.sock")

    @property
    def supervisor_conf(self) -> str:
        return os.path.join(self.dir, "supervisord.conf")

    @property
    def supervisor_pidfile(self) -> str:
        return os.path.join(self.dir, "supervisord.pid")

    @property
    def log_dir(self) -> str:
        return os.path.join(self.dir, "logs")

    @property
    def socket_files(self) -> list[str]:
        return [os.path.join(self.dir, n) for n in
                ("state.sock", "observe.sock", "snapin.sock", "pub.sock", "sync.sock", "supervisor.sock")]

    @property
    def order_file(self) -> str:
        return os.path.join(self.config_dir, f"order-{server_key(self.socket_path)}.json")

    @property
    def config_file(self) -> str:
        return os.path.join(self.config_dir, "config.toml")


def opensessions_binary() -> str:
    """This installation's own `opensessions` command (hooks, key bindings and sidebar panes run it)."""
    import sys
    exe = os.path.join(os.path.dirname(sys.executable), "opensessions")
    return exe if os.path.exists(exe) else os.path.realpath(sys.argv[0])


def atomic_write(path: str, data: bytes, mode: int = 0o600, durable: bool = True) -> None:
    """Write-then-rename, so a crash leaves the old file or the new one, never half of one.
    `durable=False` skips the fsync: for files in the runtime dir, which does not outlive the
    machine anyway, and a process crash cannot tear a renamed file."""
    import tempfile
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def move_aside(path: str, now: float) -> str:
    """Keep a file we could not read next to the original, for the user to inspect."""
    aside = f"{path}.corrupt-{int(now)}"
    os.replace(path, aside)
    return aside
