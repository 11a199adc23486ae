"""The bench's world at scale: a private tmux server with S sessions of P panes each, an agent
process in A panes of every session, C pty-attached clients, a sidebar in each client's window,
the real trio under supervisord — and everything torn down again, whatever happens.

The agent processes are `claude`: a tiny shell script that sleeps in `read`, so the collector
finds a Claude Code process under the pane (argv `/bin/sh …/bin/claude`, comm `claude`) while
it costs nothing. What the agents *do* (transcripts, status files, hooks) is bench/agent_load.py.

Python's bytecode cache is on (in the world's own dir) as an installed package has it: the CLI,
hook and sidebar start the way a user's do, not by compiling every module on each start.
"""
from __future__ import annotations

import dataclasses
import os
import time

import orjson

from bench.harness import BIN, PtyClient, World, wait_for
from bench.sidebar import paints

AGENT_STUB = """#!/bin/sh
# a stand-in agent process: the collector sees Claude Code here; it sleeps until the pane closes
while read -r line; do :; done
"""


@dataclasses.dataclass(frozen=True)
class Scale:
    sessions: int
    panes_per_session: int = 5
    agents_per_session: int = 2
    clients: int = 3
    rate: float = 5.0              # events per second per agent thread
    hook_procs: float = 4.0        # real `opensessions hook` processes per second (part of the load)

    @property
    def panes(self) -> int:
        return self.sessions * self.panes_per_session

    @property
    def threads(self) -> int:
        return self.sessions * self.agents_per_session

    @classmethod
    def full(cls) -> "Scale":
        return cls(sessions=100)

    @classmethod
    def quick(cls) -> "Scale":
        return cls(sessions=10, hook_procs=2.0)


@dataclasses.dataclass
class AgentPane:
    session: str
    pane: str
    pid: int
    cwd: str
    tid: str          # the Claude session id this agent's thread has


@dataclasses.dataclass
class Sidebar:
    client: PtyClient
    session: str
    pane: str
    log: str
    pid: int


class PaintLog:
    """A sidebar's paint log ($OPENSESSIONS_SIDEBAR_PAINT_LOG), read incrementally."""

    def __init__(self, path: str):
        self.path, self.offset, self.lines = path, 0, []   # [(wall time, seq, has snapshot)]
        self._rest = b""

    def read(self) -> list[tuple[float, int, int]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.lines
        self.offset += len(data)
        data = self._rest + data
        *complete, self._rest = data.split(b"\n")
        for line in complete:
            parts = line.split()
            if len(parts) == 3:
                self.lines.append((float(parts[0]), int(parts[1]), int(parts[2])))
        return self.lines


class ScaleWorld:
    """Build with `build()`; always `close()` (also after a failed build)."""

    def __init__(self, scale: Scale, say=print):
        self.scale = scale
        self.say = say
        self.w = World()
        env = self.w.env
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(self.w.root, "pyc")
        self.agents: list[AgentPane] = []
        self.plain_panes: dict[str, list[str]] = {}   # session → panes without an agent
        self.session_dirs: dict[str, str] = {}
        self.sidebars: list[Sidebar] = []
        self.clients: list[PtyClient] = []
        self.names = [f"s{i + 1}" for i in range(scale.sessions)]
        self.server_pid = 0

    # -- building --------------------------------------------------------------------------

    def build(self, before_up=None) -> None:
        """before_up(): what must exist before the trio first looks (files it should find)."""
        t0 = time.monotonic()
        w, sc = self.w, self.scale
        stub = os.path.join(w.bin, "claude")
        with open(stub, "w") as f:
            f.write(AGENT_STUB)
        os.chmod(stub, 0o755)
        agent_slots = set(range(1, 1 + sc.agents_per_session))   # pane indexes that run an agent
        batch: list[str] = []
        for k, name in enumerate(self.names):
            d = os.path.join(w.home, "src", name)
            os.makedirs(d)
            self.session_dirs[name] = d
            cmds = [["new-session", "-d", "-s", name, "-x", "200", "-y", "60", "-c", d]]
            for p in range(1, sc.panes_per_session):
                split = ["split-window", "-d", "-t", f"={name}:", "-c", d]
                if p in agent_slots:
                    split.append(f"exec {stub}")
                cmds.append(split)
            cmds.append(["select-layout", "-t", f"={name}:", "tiled"])
            for c in cmds:
                batch += c + [";"]
            if (k + 1) % 10 == 0 or k + 1 == len(self.names):
                w.tmux(*batch[:-1])
                batch = []
        self.server_pid = int(w.tmux("display-message", "-p", "#{pid}").strip())
        rows = w.tmux("list-panes", "-a", "-F", "#{session_name}\t#{pane_index}\t#{pane_id}\t#{pane_pid}")
        for line in rows.splitlines():
            name, index, pane, pid = line.split("\t")
            if int(index) in agent_slots:
                tid = f"00000000-0000-4000-8000-{len(self.agents):012d}"
                self.agents.append(AgentPane(name, pane, int(pid), self.session_dirs[name], tid))
            else:
                self.plain_panes.setdefault(name, []).append(pane)
        assert len(self.agents) == sc.threads, (len(self.agents), sc.threads)
        self.say(f"  tmux: {sc.sessions} sessions, {sc.panes} panes, {len(self.agents)} agent processes "
                 f"({time.monotonic() - t0:.1f} s)")
        # warm the bytecode cache the CLI, hook and sidebar will start from
        w.cli("--help")
        w.cli("hook", "claude-code", server=False)
        if before_up is not None:
            before_up()
        w.ok("up")
        wait_for(lambda: len(w.names()) == sc.sessions, timeout=30, what="all sessions listed")
        for name in self.names[:sc.clients]:
            self.clients.append(w.attach(name))
        for c, name in zip(self.clients, self.names):
            self.open_sidebar(c, name)
        wait_for(lambda: self.agents_listed() >= sc.threads, timeout=30, interval=0.2,
                 what=f"{sc.threads} agent processes in the snapshot")
        self.say(f"  trio up, {len(self.clients)} clients, {len(self.sidebars)} sidebars "
                 f"({time.monotonic() - t0:.1f} s)")

    def open_sidebar(self, client: PtyClient, session: str) -> Sidebar:
        log = os.path.join(self.w.root, f"paint-{session}.log")
        err = os.path.join(self.w.root, "sidebar-err")
        pane = self.w.tmux("split-window", "-d", "-h", "-l", "32", "-t", f"={session}:", "-P", "-F", "#{pane_id}",
                           f"exec env OPENSESSIONS_SIDEBAR_PAINT_LOG={log} {BIN} sidebar 2>>{err}").strip()
        wait_for(lambda: any(has for _, _, has in paints(log)), timeout=15, interval=0.02,
                 what=f"sidebar in {session} to paint")
        pid = int(self.w.tmux("display-message", "-p", "-t", pane, "#{pane_pid}").strip())
        sb = Sidebar(client, session, pane, log, pid)
        self.sidebars.append(sb)
        return sb

    # -- reading ---------------------------------------------------------------------------

    def snapshot(self) -> dict:
        return orjson.loads(self.w.ok("ls", "--json"))

    def agents_listed(self) -> int:
        return sum(len(s["agents"]) for s in self.snapshot()["sessions"])

    def service_pids(self) -> dict[str, int]:
        status = orjson.loads(self.w.ok("status", "--json"))
        return {n: i["pid"] for n, i in status["services"].items()}

    def sidebar_errors(self) -> str:
        path = os.path.join(self.w.root, "sidebar-err")
        return open(path).read() if os.path.exists(path) else ""

    # -- teardown --------------------------------------------------------------------------

    def close(self) -> None:
        """Clients, the trio (`opensessions down`, else its supervisord by pid), the tmux server
        (its panes' agent stubs and sidebars with it), the world's dir. Each step on its own."""
        import shutil
        import signal
        import subprocess
        from services.paths import Runtime
        for c in self.w.clients:
            try:
                c.close()
            except Exception:
                pass
        rt = Runtime.for_socket(self.w.socket, self.w.env)
        try:
            down = self.w.cli("down", timeout=30).returncode == 0
        except Exception:
            down = False
        if not down:
            try:
                with open(rt.supervisor_pidfile) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)   # supervisord stops its group
            except (OSError, ValueError):
                pass
        try:
            subprocess.run(["tmux", "-S", self.w.socket, "kill-server"], capture_output=True, timeout=10)
        except Exception:
            pass
        shutil.rmtree(self.w.root, ignore_errors=True)
