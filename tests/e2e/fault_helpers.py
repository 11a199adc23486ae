"""Helpers for the fault, fuzz, load and isolation tests: service pids and restarts, one request
to a socket, supervisord's pid, processes left behind, a second tmux server in the same world."""
from __future__ import annotations

import copy
import os
import subprocess
import time

import orjson
import psutil
import zmq

from bench.harness import World, wait_for
from bench.storm import ask as storm_ask
from services import protocol as P
from services.paths import Runtime

SERVICES = ("state", "publisher", "collector")


def runtime(world: World) -> Runtime:
    return Runtime.for_socket(world.socket, world.env)


def status(world: World) -> dict:
    return orjson.loads(world.ok("status", "--json"))


def service_pids(world: World) -> dict[str, int | None]:
    return {name: info["pid"] for name, info in status(world)["services"].items()}


def running_pids(world: World) -> dict[str, int] | None:
    """name → pid when all three are RUNNING, else None."""
    services = status(world)["services"]
    if set(services) != set(SERVICES) or any(i["state"] != "RUNNING" for i in services.values()):
        return None
    return {name: info["pid"] for name, info in services.items()}


def wait_restarted(world: World, name: str, old_pid: int, timeout: float = 15.0) -> dict[str, int]:
    """Until supervisord runs `name` again under a new pid (and the others run); all pids."""
    return wait_for(lambda: (p := running_pids(world)) and p[name] != old_pid and p,
                    timeout=timeout, what=f"{name} to be restarted")


def alive(pid: int) -> bool:
    """A zombie (dead, waiting for whoever adopted it to reap it) is not alive."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def supervisord_pid(world: World) -> int | None:
    try:
        with open(runtime(world).supervisor_pidfile) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def processes_of(world: World) -> list[psutil.Process]:
    """Every live process whose command line names this world's runtime dir (supervisord, the
    trio) — what must be gone after a down or an orphaning."""
    rt_dir = runtime(world).dir
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if rt_dir in " ".join(p.info["cmdline"] or []) and alive(p.pid):
                out.append(p)
        except psutil.Error:
            continue
    return out


def control_clients(world: World) -> int:
    """How many tmux control-mode clients (the trio's tmux connections) are attached."""
    out = world.tmux("list-clients", "-F", "#{client_control_mode}", check=False)
    return sum(1 for line in out.split() if line == "1")


def ask(endpoint: str, message: bytes, timeout: float = 3.0, ctx: zmq.Context | None = None) -> dict:
    """One REQ round trip to a service socket; the decoded reply."""
    own = ctx is None
    ctx = ctx or zmq.Context()
    try:
        return storm_ask(ctx, endpoint, message, timeout)
    finally:
        if own:
            ctx.term()


def command(world: World, mtype: str, **fields) -> dict:
    """A command straight to state (for what the CLI has no verb for, e.g. set_setting)."""
    reply = ask(runtime(world).state_endpoint, P.encode(mtype, **fields))
    assert reply["ok"], reply
    return reply["result"]


def session_row(snapshot: dict, name: str) -> dict:
    return next(s for s in snapshot["sessions"] if s["name"] == name)


def pane_of(world: World, session: str) -> str:
    return world.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_id}").strip()


def logs(world: World, service: str | None = None, lines: int = 400) -> str:
    return world.ok("logs", *((service,) if service else ()), "-n", str(lines))


def cpu_share(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Each process's CPU use over `seconds`, as a fraction of one core."""
    procs = {n: psutil.Process(p) for n, p in pids.items()}
    before = {n: p.cpu_times() for n, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    out = {}
    for n, p in procs.items():
        after = p.cpu_times()
        out[n] = ((after.user + after.system) - (before[n].user + before[n].system)) / wall
    return out


class SecondServer:
    """Another tmux server in the same world: same HOME, config dir and runtime base, its own
    socket (so its own runtime dir, key and trio). Closed before the world is."""

    def __init__(self, world: World, name: str = "tmux2.sock"):
        self.w = copy.copy(world)
        self.w.socket = os.path.join(world.root, name)
        self.w.clients = []

    def close(self) -> None:
        for c in self.w.clients:
            c.close()
        self.w.cli("down", timeout=30)
        subprocess.run(["tmux", "-S", self.w.socket, "kill-server"], capture_output=True, timeout=10)
