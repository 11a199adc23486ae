"""Agent threads known to state, one per thread, each in exactly one session.

This part covers presence by process identity: an agent process seen under a pane is a thread
that is `alive`; when its process goes away it is `exited`, and it is forgotten after a linger.
"""
from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("idle", "running", "tool-running", "waiting", "done", "error", "interrupted", "stale")
TERMINAL = {"done", "error", "interrupted", "stale"}
PRIORITY = {s: i for i, s in enumerate(
    ("tool-running", "running", "error", "stale", "interrupted", "waiting", "done", "idle"))}
AGENTS = ("claude-code", "codex", "opencode", "amp", "pi", "kilo", "gemini", "aider")


@dataclass
class Thread:
    agent: str
    thread_id: str
    pane_id: str | None
    session_id: str | None
    pid: int | None = None
    thread_name: str | None = None
    status: str = "idle"
    unseen: bool = False
    liveness: str = "alive"
    since: float = 0.0
    source: str = "process"

    def to_dict(self) -> dict:
        return {"agent": self.agent, "thread_id": self.thread_id, "thread_name": self.thread_name,
                "status": self.status, "unseen": self.unseen, "liveness": self.liveness,
                "pane_id": self.pane_id, "since": self.since}


def representative_state(threads: list[Thread]) -> str | None:
    """The session's one state: a waiting agent always shows; otherwise by priority."""
    if not threads:
        return None
    if any(t.status == "waiting" for t in threads):
        return "waiting"
    return min((t.status for t in threads), key=lambda s: PRIORITY.get(s, len(PRIORITY)))


class Tracker:
    def __init__(self, exited_linger: float = 30.0):
        self.threads: dict[str, Thread] = {}
        self.exited_linger = exited_linger

    @staticmethod
    def presence_id(agent: str, pane_id: str, pid: int) -> str:
        return f"{agent}:{pane_id}:{pid}"

    def apply_presence(self, panes: dict[str, list[tuple[str, int]]], pane_session: dict[str, str],
                       now: float) -> bool:
        """Agent processes now under each scanned pane. Returns whether anything changed."""
        changed = False
        seen: set[str] = set()
        for pane_id, agents in panes.items():
            for agent, pid in agents:
                tid = self.presence_id(agent, pane_id, pid)
                seen.add(tid)
                t = self.threads.get(tid)
                session_id = pane_session.get(pane_id)
                if t is None:
                    self.threads[tid] = Thread(agent, tid, pane_id, session_id, pid, since=now)
                    changed = True
                elif t.liveness != "alive" or t.session_id != session_id:
                    t.liveness, t.session_id, t.since = "alive", session_id, now
                    changed = True
        for t in self.threads.values():
            if t.source == "process" and t.thread_id not in seen and t.liveness == "alive":
                t.liveness, t.since = "exited", now
                changed = True
        return changed

    def forget_panes(self, live_panes: set[str], now: float) -> bool:
        """Panes that no longer exist cannot host a live agent."""
        changed = False
        for t in self.threads.values():
            if t.pane_id is not None and t.pane_id not in live_panes and t.liveness == "alive":
                t.liveness, t.since = "exited", now
                changed = True
        return changed

    def expire(self, now: float) -> bool:
        gone = [tid for tid, t in self.threads.items()
                if t.liveness == "exited" and now - t.since >= self.exited_linger]
        for tid in gone:
            del self.threads[tid]
        return bool(gone)

    def by_session(self) -> dict[str, list[Thread]]:
        out: dict[str, list[Thread]] = {}
        for t in self.threads.values():
            if t.session_id is not None:
                out.setdefault(t.session_id, []).append(t)
        for threads in out.values():
            threads.sort(key=lambda t: (t.pane_id or "", t.since, t.thread_id))
        return out
