"""Run the trio under supervisord: write its config, start it, wait, stop it, read it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client

from services import protocol as P
from services.paths import Runtime, atomic_write, ensure_private_dir

SERVICES = ("state", "publisher", "collector")   # start order
UP_TIMEOUT = 20.0
DOWN_TIMEOUT = 10.0
RPC_TIMEOUT = 5.0


class SuperviseError(Exception):
    pass


def _esc(text: str) -> str:
    return text.replace("%", "%%")   # supervisord interpolates %(name)s


def supervisord_config(rt: Runtime, python: str = sys.executable,
                       extra_args: dict[str, list[str]] | None = None) -> str:
    extra_args = extra_args or {}
    log_dir = _esc(rt.log_dir)
    lines = [
        "; written by `opensessions up`; rewritten on every start",
        "[unix_http_server]",
        f"file={_esc(rt.supervisor_socket)}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={log_dir}/supervisord.log",
        "logfile_maxbytes=1MB",
        "logfile_backups=1",
        f"pidfile={_esc(rt.supervisor_pidfile)}",
        f"childlogdir={log_dir}",
        f"directory={_esc(rt.dir)}",
        "nodaemon=false",
        "silent=true",
        "loglevel=info",
        f"identifier=opensessions-{os.path.basename(rt.dir)}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_esc(rt.supervisor_socket)}",
        "",
    ]
    common = ["--tmux-socket", rt.socket_path, "--runtime-dir", rt.dir, "--config-dir", rt.config_dir]
    for priority, name in enumerate(SERVICES, start=1):
        argv = [python, "-u", "-m", f"services.{name}", *common, *extra_args.get(name, [])]
        command = " ".join(_shell_quote(a) for a in argv)
        lines += [
            f"[program:{name}]",
            f"command={_esc(command)}",
            f"directory={_esc(rt.dir)}",
            f"priority={priority * 10}",
            'environment=PYTHONUNBUFFERED="1"',
            "autostart=true",
            "autorestart=true",
            "startsecs=1",
            "startretries=100",
            "stopsignal=TERM",
            "stopwaitsecs=5",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={log_dir}/{name}.log",
            "stdout_logfile_maxbytes=1MB",
            "stdout_logfile_backups=2",
            "",
        ]
    return "\n".join(lines)


def _shell_quote(arg: str) -> str:
    # supervisord splits `command` with shlex
    import shlex
    return shlex.quote(arg)


def rpc(rt: Runtime):
    from supervisor.xmlrpc import SupervisorTransport
    transport = SupervisorTransport(None, None, f"unix://{rt.supervisor_socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def _with_timeout(fn):
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(RPC_TIMEOUT)
    try:
        return fn()
    finally:
        socket.setdefaulttimeout(old)


def process_info(rt: Runtime) -> dict[str, dict] | None:
    """Each service's supervisord state and pid, or None when supervisord does not answer."""
    if not os.path.exists(rt.supervisor_socket):
        return None
    try:
        infos = _with_timeout(lambda: rpc(rt).supervisor.getAllProcessInfo())
    except (OSError, xmlrpc.client.Error):
        return None
    return {i["name"]: {"state": i["statename"], "pid": i["pid"] or None, "description": i["description"]}
            for i in infos}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def supervisord_pid(rt: Runtime) -> int | None:
    try:
        with open(rt.supervisor_pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _remove_runtime_files(rt: Runtime) -> None:
    for path in rt.socket_files + [rt.supervisor_pidfile]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _state_answers(rt: Runtime) -> bool:
    from cli.client import NotRunning, request
    try:
        return request(rt.state_endpoint, P.encode("ping"), timeout=0.5, retries=0)["ok"]
    except (NotRunning, P.ProtocolError):
        return False


def up(rt: Runtime, extra_args: dict[str, list[str]] | None = None) -> str:
    ensure_private_dir(rt.dir)
    os.makedirs(rt.log_dir, mode=0o700, exist_ok=True)
    info = process_info(rt)
    if info is not None:
        for name in SERVICES:
            if info.get(name, {}).get("state") not in ("RUNNING", "STARTING"):
                try:
                    _with_timeout(lambda: rpc(rt).supervisor.startProcess(name, False))
                except (OSError, xmlrpc.client.Error):
                    pass
        _wait_ready(rt)
        return "already running"
    stale = supervisord_pid(rt)
    if stale is not None:   # alive but not answering: it cannot be trusted with the trio
        _kill_supervisord(stale)
    _remove_runtime_files(rt)
    atomic_write(rt.supervisor_conf, supervisord_config(rt, extra_args=extra_args).encode())
    proc = subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", rt.supervisor_conf],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=UP_TIMEOUT)
    if proc.returncode != 0:
        out = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        raise SuperviseError("supervisord did not start: " + (out[-1] if out else f"exit {proc.returncode}"))
    _wait_ready(rt)
    return "started"


def _wait_ready(rt: Runtime) -> None:
    deadline = time.monotonic() + UP_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        last = process_info(rt)
        if last is not None and all(last.get(n, {}).get("state") == "RUNNING" for n in SERVICES) \
                and _state_answers(rt):
            return
        time.sleep(0.1)
    states = ", ".join(f"{n}={(last or {}).get(n, {}).get('state', '?')}" for n in SERVICES)
    raise SuperviseError(f"the services did not come up in {UP_TIMEOUT:.0f}s ({states}); "
                         f"see `opensessions logs`")


def _kill_supervisord(pid: int) -> None:
    for sig, wait in ((signal.SIGTERM, DOWN_TIMEOUT), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return
            time.sleep(0.05)


def down(rt: Runtime) -> bool:
    """Stop everything; True if something was running."""
    pid = supervisord_pid(rt)
    was_running = pid is not None
    if pid is not None:
        services = [i["pid"] for i in (process_info(rt) or {}).values() if i["pid"]]
        try:
            _with_timeout(lambda: rpc(rt).supervisor.shutdown())
        except (OSError, xmlrpc.client.Error):
            pass
        # supervisord stops its programs one per tick; signalling all three now stops them in
        # parallel (it is shutting down, so it restarts none of them)
        for service_pid in services:
            try:
                os.kill(service_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + DOWN_TIMEOUT
        while time.monotonic() < deadline and _pid_alive(pid):
            _reap(pid)
            time.sleep(0.05)
        if _pid_alive(pid):
            _kill_supervisord(pid)
    _remove_runtime_files(rt)
    try:
        os.unlink(rt.supervisor_conf)
    except FileNotFoundError:
        pass
    return was_running


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_files(rt: Runtime) -> dict[str, str]:
    names = list(SERVICES) + ["supervisord"]
    return {n: os.path.join(rt.log_dir, f"{n}.log") for n in names}


def tail(path: str, lines: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]
