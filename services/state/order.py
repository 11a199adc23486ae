"""Display order: creation order, then the user's persisted order, minus hidden sessions.

Pure functions over names; the persisted user order is a list of session names (stable across
tmux restarts, unlike ids). Names in it that no longer exist keep their place, so a session that
comes back (a tmux restart, a resurrect plugin) takes its old position again.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

FILTERS = ("all", "active", "running")
RUNNING_STATES = {"running", "tool-running", "waiting"}
MAX_REMEMBERED = 1000


def id_number(session_id: str) -> int:
    try:
        return int(session_id.lstrip("$"))
    except ValueError:
        return 1 << 30


def display_order(sessions: Iterable, user_order: Sequence[str]) -> list:
    """Sessions (objects with name, created, id) in the order the user sees them, hidden included."""
    by_creation = sorted(sessions, key=lambda s: (s.created, id_number(s.id)))
    position = {name: i for i, name in enumerate(user_order)}
    placed = sorted((s for s in by_creation if s.name in position), key=lambda s: position[s.name])
    return placed + [s for s in by_creation if s.name not in position]


def visible_order(ordered: Sequence, hidden: set[str], current: set[str], filter_: str = "all",
                  agent_state: Callable[[object], str | None] = lambda s: None,
                  has_agents: Callable[[object], bool] = lambda s: False) -> list:
    """What the sidebar lists, and what index N means. A hidden session stays while a client is in it."""
    out = []
    for s in ordered:
        if s.name in hidden and s.name not in current:
            continue
        if filter_ == "active" and not has_agents(s) and s.name not in current:
            continue
        if filter_ == "running" and agent_state(s) not in RUNNING_STATES and s.name not in current:
            continue
        out.append(s)
    return out


def reorder(full_order: Sequence[str], visible: Sequence[str], name: str, direction: str) -> list[str]:
    """Move `name` one step among the visible sessions; returns the new full order to persist.

    `full_order` holds every name in display order (hidden and remembered ones too); the step is
    a swap with the visible neighbour, so hidden sessions keep their places.
    """
    if name not in visible:
        raise KeyError(name)
    i = visible.index(name)
    j = i - 1 if direction == "up" else i + 1
    if j < 0 or j >= len(visible):
        return list(full_order)
    neighbour = visible[j]
    new = list(full_order)
    a, b = new.index(name), new.index(neighbour)
    new[a], new[b] = new[b], new[a]
    return new


def merged_order(user_order: Sequence[str], ordered_names: Sequence[str]) -> list[str]:
    """The full order to persist: live sessions in display order, with remembered names kept in
    place — each right after the live name that preceded it in the old order. Linear time."""
    live = set(ordered_names)
    after: dict[str | None, list[str]] = {}   # anchor (None = the front) → remembered names
    anchor = None
    for name in user_order:
        if name in live:
            anchor = name
        else:
            after.setdefault(anchor, []).append(name)
    out = list(after.get(None, []))
    for name in ordered_names:
        out.append(name)
        out.extend(after.get(name, []))
    remembered = [n for n in user_order if n not in live]
    excess = len(out) - MAX_REMEMBERED
    if excess > 0:
        forget = set(remembered[:excess])
        out = [n for n in out if n not in forget]
    return out


def rename_in(names: Sequence[str], old: str, new: str) -> list[str]:
    if old not in names or old == new:
        return list(names)
    return [new if n == old else n for n in names if n != new]


def rename_all(names: Sequence[str], mapping: dict[str, str]) -> list[str]:
    """Apply several renames at once (a chain a→b→c or a swap must not clobber each other)."""
    renamed = [mapping.get(n, n) for n in names]
    seen: set[str] = set()
    out = []
    for n in renamed:   # a new name that was also remembered elsewhere keeps its renamed place
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out
