"""Shared builders for the unit tests: tmux rows as the collector sends them, and a model."""
from __future__ import annotations

import os
import tempfile
from dataclasses import asdict

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from services.state.model import Model
from services.tmux import ClientRow, PaneRow

# Hypothesis keeps caches (unicode tables, constants) in a home dir; keep them out of the repo.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), f"opensessions-unit-hypothesis-{os.getuid()}"))

# every property test: bounded, no deadline (CI machines stall), no example database on disk
PROPS = settings(max_examples=200, deadline=None, database=None)
FEW = settings(max_examples=60, deadline=None, database=None)


def pane_row(pane_id: str, session_id: str, session_name: str, *, created: int = 100,
             path: str = "/home/u/proj", windows: int = 1, window_id: str = "@1", window_index: int = 0,
             window_active: bool = True, pane_pid: int = 1000, pane_active: bool = True,
             command: str = "bash", current_path: str | None = None, title: str = "") -> dict:
    """One `list-panes -a` row as a dict, the shape obs.tmux carries (PaneRow via asdict)."""
    return asdict(PaneRow(session_id, session_name, created, path, windows, window_id, window_index,
                          window_active, pane_id, pane_pid, pane_active, command,
                          current_path if current_path is not None else path, title))


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
