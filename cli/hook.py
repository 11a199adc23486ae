"""`opensessions hook AGENT`: run by an agent on its events. Reads the agent's JSON, sends one
event to state and exits 0 — always, quickly, silently: a hook must never fail, slow down or
print into the agent (Claude feeds a hook's stdout to the model)."""
from __future__ import annotations

import os
import select
import sys
import time

STDIN_LIMIT = 1 << 20
STDIN_WAIT = 0.5
SEND_TIMEOUT = 0.15


def _read_payload(argv_payload: str | None) -> bytes:
    if argv_payload:                       # Codex's notify passes the JSON as an argument
        return argv_payload.encode()
    if sys.stdin is None or sys.stdin.isatty():
        return b""
    fd = sys.stdin.fileno()
    chunks, size, deadline = [], 0, time.monotonic() + STDIN_WAIT
    while size < STDIN_LIMIT:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _proc(pid: int):
    from services.collector.identity import Proc
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read().decode("utf-8", "replace")
    comm = stat[stat.index("(") + 1: stat.rindex(")")]
    ppid = int(stat[stat.rindex(")") + 2:].split()[1])
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = tuple(a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a)
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    return Proc(pid, ppid, comm, exe, argv)


def agent_pid(agent: str, start: int | None = None, levels: int = 6) -> int | None:
    """The agent process that ran this hook: the nearest ancestor that is that agent."""
    from services.collector.identity import agent_of
    pid = start if start is not None else os.getppid()
    for _ in range(levels):
        if pid <= 1:
            return None
        try:
            proc = _proc(pid)
        except (OSError, ValueError):
            return None
        if agent_of(proc) == agent:
            return pid
        pid = proc.ppid
    return None


def run(agent: str, argv_payload: str | None = None) -> int:
    try:
        from services import protocol as P
        from services.agents.hook_events import MAPPERS
        data = _read_payload(argv_payload)
        if not data:
            return 0
        payload = P.parse_json(data)
        if not isinstance(payload, dict):
            return 0
        ev = MAPPERS[agent](payload)
        if ev is None:
            return 0
        from cli.client import request
        from services.paths import Runtime, tmux_socket_path
        pane = os.environ.get("TMUX_PANE")
        if pane and os.environ.get("TMUX"):
            ev["pane"] = pane
        ev["pid"] = agent_pid(agent)
        ev["at"] = time.time()
        if isinstance(ev.get("thread_name"), str):
            ev["thread_name"] = ev["thread_name"][:P.NAME_MAX * 2]
        rt = Runtime.for_socket(tmux_socket_path())
        request(rt.state_endpoint, P.encode("event", **ev), timeout=SEND_TIMEOUT, retries=0)
    except BaseException:   # noqa: BLE001 — whatever happens, the agent goes on
        pass
    return 0
