"""Agent threads known to state: what each is doing, whether the user has seen its result,
whether its process lives, and in which one session it is. Pure: time is always given.

Evidence comes from sources of different strength (`SOURCE_RANK`). A claim is replaced by newer
evidence, never by older evidence, and a weaker source cannot replace a stronger `waiting` made
within `STRONG_HOLD` seconds (a hook saying `waiting` is not undone by a transcript line or a
screen capture that lands a moment later: neither can see the prompt for sure). A fresh `waiting` is cleared only by evidence that the user
answered (a tool finished, a new prompt, the turn ended) — not by a running-type hook that
re-fires during the turn. A thread's pane binding (from a hook's `$TMUX_PANE`, a status file or
an agent process under the pane) beats any guess from its working directory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


from services.protocol import AGENTS, SOURCES, STATUSES  # noqa: F401  (the wire vocabulary)

TERMINAL = {"done", "error", "interrupted", "stale"}
ACTIVE = {"running", "tool-running", "waiting"}
PRIORITY = {s: i for i, s in enumerate(
    ("tool-running", "running", "error", "stale", "interrupted", "waiting", "done", "idle"))}
SOURCE_RANK = {"process": 0, "screen": 1, "transcript": 2, "status-file": 3, "hook": 3, "emit": 3}

STRONG_HOLD = 5.0            # seconds a stronger claim shields itself from weaker sources
STALE_AFTER = 180.0          # running with no evidence and no live process → stale
PRUNE_SEEN_AFTER = 300.0     # terminal/idle threads without a live pane, seen
PRUNE_UNSEEN_AFTER = 1800.0  # … and unseen
MAX_THREADS = 2000           # memory bound: the oldest dead threads go first
NAME_MAX = 80
SCREEN_QUIET = 3.0           # seconds without evidence before the screen is worth a look


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
    since: float = 0.0              # when the status last changed
    source: str = "process"         # the source of the current status
    status_at: float = 0.0          # when that evidence happened
    evidence_at: float = 0.0        # the last evidence of any kind
    name_rank: int = 0
    placeholder: bool = False       # known only from a process; no thread id from the agent yet
    dir: str | None = None
    session_guessed: bool = False   # session from the working directory, not from a pane
    ended: bool = False             # the agent said it ended, or another thread took its pane
    ended_at: float = 0.0

    def to_dict(self) -> dict:
        return {"agent": self.agent, "thread_id": self.thread_id, "thread_name": self.thread_name,
                "status": self.status, "unseen": self.unseen, "liveness": self.liveness,
                "pane_id": self.pane_id, "since": self.since}


@dataclass
class Event:
    """One piece of evidence about an agent thread (see protocol's `event`)."""
    agent: str
    source: str
    status: str | None = None
    thread_id: str | None = None
    thread_name: str | None = None
    name_rank: int = 1              # 3 user-given title, 2 agent's title, 1 first prompt
    pane: str | None = None
    session: str | None = None      # a session id
    dir: str | None = None
    pid: int | None = None
    at: float | None = None
    keeps_waiting: bool = False     # running-type evidence that does not mean the user answered
    ends: bool = False              # the thread ended (its process quit)


def representative_state(threads: list[Thread]) -> str | None:
    """The session's one state: a waiting agent always shows; otherwise by priority."""
    if not threads:
        return None
    if any(t.status == "waiting" for t in threads):
        return "waiting"
    return min((t.status for t in threads), key=lambda s: PRIORITY.get(s, len(PRIORITY)))


def clean_name(text: str | None) -> str | None:
    if not text:
        return None
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    if not line:
        return None
    return line if len(line) <= NAME_MAX else line[:NAME_MAX - 1] + "…"


Looking = Callable[[Thread], bool]


class Tracker:
    def __init__(self, exited_linger: float = 30.0, stale_after: float = STALE_AFTER):
        self.threads: dict[str, Thread] = {}
        self.exited_linger = exited_linger
        self.stale_after = stale_after
        self.rejected = 0

    # -- identity -------------------------------------------------------------------------

    @staticmethod
    def key(agent: str, thread_id: str) -> str:
        return f"{agent}\x00{thread_id}"

    @staticmethod
    def presence_id(agent: str, pane_id: str, pid: int) -> str:
        return f"{agent}:{pane_id}:{pid}"

    def _bound(self, agent: str, pane: str) -> list[Thread]:
        return [t for t in self.threads.values() if t.agent == agent and t.pane_id == pane]

    def _find(self, ev: Event) -> Thread | None:
        if ev.thread_id:
            return self.threads.get(self.key(ev.agent, ev.thread_id))
        candidates = []
        if ev.pid is not None:
            candidates = [t for t in self.threads.values() if t.agent == ev.agent and t.pid == ev.pid]
        if not candidates and ev.pane:
            candidates = [t for t in self._bound(ev.agent, ev.pane) if t.liveness == "alive"] \
                or self._bound(ev.agent, ev.pane)
        return max(candidates, key=lambda t: (not t.placeholder, t.evidence_at), default=None)

    def _bind(self, t: Thread, pane: str, session_id: str | None, pid: int | None, now: float) -> None:
        """Give the pane to this thread: a placeholder there is absorbed, an older thread of the
        same agent there has ended (one agent process per pane runs one thread at a time)."""
        for other in self._bound(t.agent, pane):
            if other is t:
                continue
            if other.placeholder:
                if pid is None and other.liveness == "alive":
                    pid = other.pid
                del self.threads[self.key(other.agent, other.thread_id)]
            elif pid is None or other.pid == pid or other.pid is None:
                other.pane_id, other.liveness, other.ended, other.ended_at = None, "exited", True, now
                if other.status in ACTIVE:
                    self._set_status(other, "interrupted", "process", now, now, looking=None)
        t.pane_id = pane
        if session_id is not None:
            t.session_id, t.session_guessed = session_id, False
        if pid is not None:
            t.pid = pid
        t.liveness = "alive"   # the agent just spoke from that pane

    # -- evidence -------------------------------------------------------------------------

    def apply_event(self, ev: Event, now: float, pane_session: dict[str, str],
                    session_for_dir: Callable[[str], str | None], looking: Looking) -> bool:
        """Apply one piece of evidence. Returns whether anything visible changed."""
        at = ev.at if ev.at is not None else now
        t = self._find(ev)
        if t is None:
            if ev.ends and ev.status is None:
                return False
            tid = ev.thread_id or (f"{ev.source}:{ev.pane or ev.session or ev.dir or ev.pid}")
            t = Thread(ev.agent, tid, None, None, since=now, source=ev.source, status_at=at,
                       evidence_at=at, liveness="unknown")
            self.threads[self.key(ev.agent, tid)] = t
            changed = True
        else:
            changed = False
        before = (t.status, t.unseen, t.liveness, t.pane_id, t.session_id, t.thread_name)
        if ev.pane and ev.pane in pane_session:
            if t.pane_id != ev.pane or ev.pid is not None and t.pid != ev.pid:
                self._bind(t, ev.pane, pane_session[ev.pane], ev.pid, now)
            elif t.session_id != pane_session[ev.pane]:
                t.session_id, t.session_guessed = pane_session[ev.pane], False
        elif ev.session and t.pane_id is None:
            t.session_id, t.session_guessed = ev.session, False
        if ev.dir:
            t.dir = ev.dir
            if t.pane_id is None and (t.session_id is None or t.session_guessed):
                guess = session_for_dir(ev.dir)
                if guess is not None:
                    t.session_id, t.session_guessed = guess, True
        if ev.pid is not None and t.pid is None:
            t.pid = ev.pid
        if ev.pid is not None and t.liveness != "alive" and not ev.ends:
            t.liveness = "alive"
        name = clean_name(ev.thread_name)
        if name and (ev.name_rank > t.name_rank or t.thread_name is None
                     or (ev.name_rank == t.name_rank and ev.name_rank >= 2)):
            t.thread_name, t.name_rank = name, max(ev.name_rank, t.name_rank)
        t.evidence_at = max(t.evidence_at, at)
        if ev.source == "status-file" and ev.status == "idle" and t.status in ACTIVE:
            ev.status = "done"    # the agent's own word that it stopped working: the turn ended
        if ev.status is not None:
            if not self._accepts(t, ev, at):
                self.rejected += 1
            elif ev.status == t.status and SOURCE_RANK[ev.source] < SOURCE_RANK[t.source]:
                pass   # a weaker source agreeing confirms the claim; it does not take it over
            else:
                self._set_status(t, ev.status, ev.source, at, now, looking)
        if ev.ends:
            t.liveness, t.ended, t.ended_at = "exited", True, now
            if t.status in ACTIVE:
                self._set_status(t, "interrupted", ev.source, at, now, looking)
        return changed or before != (t.status, t.unseen, t.liveness, t.pane_id, t.session_id, t.thread_name)

    @staticmethod
    def _accepts(t: Thread, ev: Event, at: float) -> bool:
        if at < t.status_at:
            return False                                  # older evidence never wins
        stronger = SOURCE_RANK[t.source] > SOURCE_RANK[ev.source]
        if stronger and t.status == "waiting" and at - t.status_at < STRONG_HOLD and ev.status != t.status:
            return False      # a fresh, exact `waiting` holds: files cannot see a prompt, a screen may lag
        if t.status == "waiting" and ev.status in ("running", "tool-running") and ev.keeps_waiting:
            return False                                  # a re-fired running hook; no answer yet
        if t.status == "done" and ev.status == "idle":
            return False                                  # the idle prompt after a finished turn
        return True

    def _set_status(self, t: Thread, status: str, source: str, at: float, now: float,
                    looking: Looking | None) -> None:
        if status != t.status:
            t.since = now
        t.status, t.source, t.status_at = status, source, at
        if t.placeholder and status != "idle":
            t.placeholder = False
        if status in TERMINAL:
            t.unseen = not (looking(t) if looking is not None else False)
        else:
            t.unseen = False

    # -- processes ------------------------------------------------------------------------

    def apply_presence(self, panes: dict[str, list[tuple[str, int]]], pane_session: dict[str, str],
                       now: float, looking: Looking | None = None) -> bool:
        """Agent processes now under each scanned pane: presence and liveness. A pane's agent
        process with no thread yet gets a placeholder so it shows at once. A thread that ended
        stays ended even while its process lives on (Claude's /clear starts a new thread in the
        same process)."""
        changed = False
        alive_pids: dict[int, str] = {}
        by_pid: dict[tuple[str, int], list[Thread]] = {}      # indexed once: 200 agents, not 200²
        by_pane: dict[tuple[str, str], list[Thread]] = {}
        for t in self.threads.values():
            if t.ended:
                continue
            if t.pid is not None:
                by_pid.setdefault((t.agent, t.pid), []).append(t)
            elif t.pane_id is not None and not t.placeholder:
                by_pane.setdefault((t.agent, t.pane_id), []).append(t)
        for pane_id, agents in panes.items():
            for agent, pid in agents:
                alive_pids[pid] = agent
                owners = by_pid.get((agent, pid), []) + by_pane.get((agent, pane_id), [])
                if owners:
                    for t in owners:
                        if t.liveness != "alive" or t.pane_id != pane_id or t.pid != pid:
                            t.liveness, t.pid = "alive", pid
                            if t.pane_id != pane_id:
                                self._bind(t, pane_id, pane_session.get(pane_id), pid, now)
                            changed = True
                        if t.session_id != pane_session.get(pane_id) and pane_id in pane_session:
                            t.session_id, t.session_guessed = pane_session[pane_id], False
                            changed = True
                    continue
                tid = self.presence_id(agent, pane_id, pid)
                self.threads[self.key(agent, tid)] = Thread(agent, tid, pane_id, pane_session.get(pane_id), pid,
                                                            since=now, status_at=0.0, evidence_at=now,
                                                            placeholder=True)
                changed = True
        for t in self.threads.values():
            if t.pid is not None and t.liveness == "alive" and alive_pids.get(t.pid) != t.agent:
                changed |= self._process_gone(t, now, looking)
        return changed

    def _process_gone(self, t: Thread, now: float, looking: Looking | None = None) -> bool:
        """`kill -9` sends no SessionEnd: the process going away ends the thread."""
        t.liveness, t.ended_at = "exited", now
        if t.status in ACTIVE:
            self._set_status(t, "interrupted", "process", now, now, looking)
        if t.placeholder:
            t.since = now
        return True

    def forget_panes(self, live_panes: set[str], now: float, looking: Looking | None = None) -> bool:
        """Panes that no longer exist cannot host a live agent."""
        changed = False
        for t in self.threads.values():
            if t.pane_id is not None and t.pane_id not in live_panes:
                if t.liveness == "alive":
                    changed |= self._process_gone(t, now, looking)
                t.pane_id = None
                changed = True
        return changed

    # -- the user looking -----------------------------------------------------------------

    def mark_seen(self, looking: Looking) -> bool:
        changed = False
        for t in self.threads.values():
            if t.unseen and looking(t):
                t.unseen = False
                changed = True
        return changed

    def mark_seen_session(self, session_id: str) -> bool:
        changed = False
        for t in self.threads.values():
            if t.unseen and t.session_id == session_id:
                t.unseen = False
                changed = True
        return changed

    # -- time -----------------------------------------------------------------------------

    def expire(self, now: float, looking: Looking | None = None) -> bool:
        changed = False
        gone = []
        for k, t in self.threads.items():
            alive = t.liveness == "alive"
            if t.status in ("running", "tool-running") and not alive and now - t.evidence_at >= self.stale_after:
                self._set_status(t, "stale", "process", now, now, looking)
                changed = True
            if t.placeholder and t.liveness == "exited" and now - t.since >= self.exited_linger:
                gone.append(k)
            elif not alive and t.status not in ACTIVE:
                quiet = now - max(t.since, t.evidence_at, t.ended_at)   # counted from the end
                limit = PRUNE_UNSEEN_AFTER if t.unseen else PRUNE_SEEN_AFTER
                if t.liveness == "exited" and t.status == "idle" and not t.unseen:
                    limit = self.exited_linger      # nothing to tell about an idle agent that quit
                if quiet >= limit:
                    gone.append(k)
        for k in gone:
            del self.threads[k]
        if len(self.threads) > MAX_THREADS:
            dead = sorted((k for k, t in self.threads.items() if t.liveness != "alive"),
                          key=lambda k: self.threads[k].evidence_at)
            for k in dead[:len(self.threads) - MAX_THREADS]:
                del self.threads[k]
                gone.append(k)
        return changed or bool(gone)

    # -- views ----------------------------------------------------------------------------

    def screen_candidates(self, now: float, quiet: float = SCREEN_QUIET) -> list[Thread]:
        """Live threads whose state only the screen can tell now: working with no fresh evidence
        (a permission prompt writes nothing anywhere), waiting with no news (was it answered?),
        or known only by their process."""
        out = []
        for t in self.threads.values():
            if t.liveness != "alive" or t.pane_id is None:
                continue
            if t.placeholder or t.source in ("process", "screen") or \
                    (t.status in ACTIVE and now - t.evidence_at >= quiet):
                out.append(t)
        return out

    def by_session(self) -> dict[str, list[Thread]]:
        out: dict[str, list[Thread]] = {}
        for t in self.threads.values():
            if t.session_id is not None:
                out.setdefault(t.session_id, []).append(t)
        for threads in out.values():
            threads.sort(key=lambda t: (t.pane_id is None, t.pane_id or "", t.since, t.thread_id))
        return out
