"""Where sidebars should be, and what to do about it (pure).

State keeps the rule: with sidebars on, every window a client looks at has exactly one sidebar
pane (titled opensessions-sidebar); with them off, none does; a window left with nothing but
its sidebar closes — and when it is its session's last window, the clients there move to the
neighbouring session first. The loop carries the plans out with tmux commands.
"""
from __future__ import annotations

from dataclasses import dataclass

from services.state.model import Model
from services.tmux import SIDEBAR_TITLE


@dataclass(frozen=True)
class Spawn:
    window_id: str
    target_pane: str       # a pane of that window to split from


@dataclass(frozen=True)
class CloseWindow:
    window_id: str
    session_id: str
    last_of_session: bool


def sidebar_panes(model: Model) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in model.panes.values():
        if p.title == SIDEBAR_TITLE:
            out.setdefault(p.window_id, []).append(p.id)
    return out


def plan_spawns(model: Model, on: bool, pending: set[str]) -> list[Spawn]:
    """Windows clients look at that lack a sidebar (and are not already getting one)."""
    if not on:
        return []
    have = sidebar_panes(model)
    out, planned = [], set()
    for c in sorted(model.clients.values(), key=lambda c: c.tty):
        w = c.window_id
        if not w or w in have or w in pending or w in planned:
            continue
        panes = [p for p in model.panes.values() if p.window_id == w]
        if not panes:
            continue
        target = next((p.id for p in panes if p.active), panes[0].id)
        out.append(Spawn(w, target))
        planned.add(w)
    return out


def plan_extra_sidebars(model: Model) -> list[str]:
    """Never two in one window: all but the first (lowest id) of each window go."""
    out = []
    for panes in sidebar_panes(model).values():
        out += sorted(panes, key=lambda p: int(p.lstrip("%") or 0))[1:]
    return out


def plan_lonely(model: Model) -> list[CloseWindow]:
    """Windows whose every pane is a sidebar: their user panes are gone."""
    by_window: dict[str, list] = {}
    for p in model.panes.values():
        by_window.setdefault(p.window_id, []).append(p)
    out = []
    for w, panes in by_window.items():
        if panes and all(p.title == SIDEBAR_TITLE for p in panes):
            sid = panes[0].session_id
            windows = {p.window_id for p in model.panes.values() if p.session_id == sid}
            out.append(CloseWindow(w, sid, len(windows) == 1))
    return out


def index_bindings(names: list[str], keys: int = 9) -> list[tuple[int, str | None]]:
    """Key N → the Nth visible session's name, or None where there is no Nth session."""
    return [(n, names[n - 1] if n <= len(names) else None) for n in range(1, keys + 1)]
