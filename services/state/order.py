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
    """The full order to persist: live sessions in display order, with remembered names kept in place."""
    live = set(ordered_names)
    remembered = [n for n in user_order if n not in live]
    out = list(ordered_names)
    # remembered names go back right after the live name that preceded them in the old order
    for name in remembered:
        idx = user_order.index(name)
        anchor = next((user_order[k] for k in range(idx - 1, -1, -1) if user_order[k] in live), None)
        pos = out.index(anchor) + 1 if anchor in out else 0
        while pos < len(out) and out[pos] in remembered and user_order.index(out[pos]) < idx:
            pos += 1
        out.insert(pos, name)
    excess = len(out) - MAX_REMEMBERED
    if excess > 0:
        forget = set(remembered[:excess])
        out = [n for n in out if n not in forget]
    return out


def rename_in(names: Sequence[str], old: str, new: str) -> list[str]:
    if old not in names:
        return list(names)
    return [new if n == old else n for n in names if n != new]
