"""A private world to drive opensessions in, for end-to-end tests and benchmarks: a private
tmux server, clients attached on real ptys, the real CLI and trio, a private HOME, config and
runtime dir."""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import orjson

BIN = str(Path(sys.executable).with_name("opensessions"))


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; nan for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def wait_for(predicate, timeout: float = 8.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as e:  # the thing under test may not be ready yet
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


class World:
    """One test's private world: dirs, environment, a tmux server socket."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="os-", dir="/tmp")   # short: unix socket paths are limited
        self.home = os.path.join(self.root, "home")
        self.config_home = os.path.join(self.root, "cfg")
        self.runtime = os.path.join(self.root, "rt")
        self.bin = os.path.join(self.root, "bin")
        for d in (self.home, self.config_home, self.bin):
            os.makedirs(d)
        self.socket = os.path.join(self.root, "tmux.sock")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "OPENSESSIONS"))}
        env.update(HOME=self.home, XDG_CONFIG_HOME=self.config_home, OPENSESSIONS_RUNTIME_DIR=self.runtime,
                   TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8",
                   PATH=f"{self.bin}:{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}")
        self.env = env
        self.clients: list[PtyClient] = []

    # -- tmux
    def tmux(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null", *args], env=self.env,
                              capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"tmux {args} failed: {proc.stderr.decode()}")
        return proc.stdout.decode()

    def new_session(self, name: str, command: str | None = None) -> None:
        args = ["new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-c", self.home]
        if command:
            args.append(command)
        self.tmux(*args)

    def kill_server(self) -> None:
        self.tmux("kill-server", check=False)
        wait_for(lambda: subprocess.run(["tmux", "-S", self.socket, "list-sessions"], capture_output=True,
                                        env=self.env, timeout=5).returncode != 0, what="tmux server to exit")
        wait_for(lambda: not os.path.exists(self.socket) or self._refuses(), what="socket to be free")

    def _refuses(self) -> bool:
        import socket as _s
        sock = _s.socket(_s.AF_UNIX)
        try:
            sock.connect(self.socket)
            return False
        except OSError:
            return True
        finally:
            sock.close()

    def session_names(self) -> list[str]:
        return self.tmux("list-sessions", "-F", "#{session_name}", check=False).splitlines()

    def client_session(self, tty: str) -> str:
        for line in self.tmux("list-clients", "-F", "#{client_tty}\t#{session_name}").splitlines():
            t, s = line.split("\t", 1)
            if t == tty:
                return s
        raise AssertionError(f"no client {tty}")

    def attach(self, session: str) -> "PtyClient":
        c = PtyClient(self, session)
        self.clients.append(c)
        return c

    # -- the CLI
    def cli(self, *args: str, timeout: float = 30, env: dict | None = None, server: bool = True):
        argv = [BIN, *(("-S", self.socket) if server else ()), *args]
        return subprocess.run(argv, env=env or self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def ok(self, *args: str) -> str:
        proc = self.cli(*args)
        assert proc.returncode == 0, f"opensessions {args} exited {proc.returncode}: {proc.stderr}"
        return proc.stdout

    def snapshot(self) -> dict:
        return orjson.loads(self.ok("ls", "--json"))

    def names(self) -> list[str]:
        return [s["name"] for s in self.snapshot()["sessions"]]

    def runtime_dir(self) -> str:
        from services.paths import Runtime
        return Runtime.for_socket(self.socket, self.env).dir

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.cli("down", timeout=30)
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


class PtyClient:
    """A real tmux client attached on a pty, its output drained so tmux never blocks on it."""

    def __init__(self, world: World, session: str, cols: int = 160, rows: int = 48):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.tty = os.ttyname(slave)
        self.proc = subprocess.Popen(["tmux", "-S", world.socket, "attach-session", "-t", "=" + session],
                                     stdin=slave, stdout=slave, stderr=slave, env=world.env,
                                     start_new_session=True)
        os.close(slave)
        self._stop = False
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        wait_for(lambda: self.tty in world.tmux("list-clients", "-F", "#{client_tty}"),
                 what=f"client {self.tty} to attach")

    def _drain(self) -> None:
        while not self._stop:
            try:
                if not os.read(self.master, 65536):
                    return
            except OSError:
                return

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self._stop = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)   # what a closing terminal sends
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        try:
            os.close(self.master)
        except OSError:
            pass


