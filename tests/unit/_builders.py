"""Shared builders for the unit tests: tmux rows as the collector sends them, and a model."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from services.state.model import Model
from services.state.tracker import Event, Thread, Tracker
from services.tmux import ClientRow, PaneRow

# Hypothesis keeps caches (unicode tables, constants) in a home dir; keep them out of the repo.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), f"opensessions-unit-hypothesis-{os.getuid()}"))

# every property test: bounded, no deadline (CI machines stall), no example database on disk
PROPS = settings(max_examples=200, deadline=None, database=None)
FEW = settings(max_examples=60, deadline=None, database=None)


def pane_row(pane_id: str, session_id: str, session_name: str, *, created: int = 100,
             path: str = "/home/u/proj", windows: int = 1, window_id: str = "@1", window_index: int = 0,
             window_active: bool = True, pane_pid: int = 1000, pane_active: bool = True,
             command: str = "bash", title: str = "") -> dict:
    """One `list-panes -a` row as a dict, the shape obs.tmux carries (PaneRow via asdict)."""
    return asdict(PaneRow(session_id, session_name, created, path, windows, window_id, window_index,
                          window_active, pane_id, pane_pid, pane_active, command, title))


def client_row(tty: str, session_id: str, session_name: str, *, pane_id: str = "%0",
               window_id: str = "@1", pid: int = 500, activity: int = 0, control: bool = False) -> dict:
    return asdict(ClientRow(tty, pid, control, activity, session_id, session_name, window_id, pane_id))


def make_model(sessions, clients=(), now: float = 0.0, **model_kwargs) -> Model:
    """sessions: (session_id, name, created, [pane ids]) tuples; clients: client_row dicts."""
    m = Model(**model_kwargs)
    m.apply_tmux(session_rows(sessions), list(clients), now)
    return m


def session_rows(sessions) -> list[dict]:
    rows = []
    pid = 1000
    for sid, name, created, panes in sessions:
        for i, pane_id in enumerate(panes):
            pid += 1
            rows.append(pane_row(pane_id, sid, name, created=created, path=f"/work/{sid.lstrip('$')}",
                                 window_id=f"@{sid.lstrip('$')}", pane_pid=pid, pane_active=(i == 0)))
    return rows


# -- agent evidence -----------------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"   # shared/ sits beside the checkout


def load_jsonl(path: Path) -> list[dict]:
    """The lines of a captured .jsonl fixture (shared/fixtures), in order."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def iso_ts(text: str) -> float:
    """`2026-11-27T22:24:44.586Z` → epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def event(agent: str = "claude-code", source: str = "hook", status: str | None = None, **fields) -> Event:
    """A tracker Event; keyword fields as in tracker.Event."""
    return Event(agent=agent, source=source, status=status, **fields)


def nobody_looks(_thread) -> bool:
    return False


def everybody_looks(_thread) -> bool:
    return True


def no_dir(_directory: str):
    return None


class Feed:
    """A Tracker with the world around it (pane → session map, dir → session, who looks):
    `feed(status=..., thread_id=..., at=...)` applies one event at time `at` (or `now`)."""

    def __init__(self, tracker: Tracker | None = None, pane_session: dict | None = None,
                 dirs: dict | None = None, looking=nobody_looks):
        self.tracker = tracker if tracker is not None else Tracker()
        self.pane_session = dict(pane_session or {})
        self.dirs = dict(dirs or {})
        self.looking = looking

    def __call__(self, agent: str = "claude-code", source: str = "hook", status: str | None = None,
                 now: float | None = None, **fields) -> bool:
        ev = event(agent, source, status, **fields)
        when = now if now is not None else (ev.at if ev.at is not None else 0.0)
        return self.tracker.apply_event(ev, when, self.pane_session, self.dirs.get, self.looking)

    def thread(self, thread_id: str, agent: str = "claude-code") -> Thread:
        return self.tracker.threads[Tracker.key(agent, thread_id)]
