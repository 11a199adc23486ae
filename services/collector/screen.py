"""What an agent's screen says (pure): the one reliable source for "blocked on a permission
prompt" when no hook says so, and the only source for agents with no hooks or files (Aider).

Only the bottom of the visible pane is read, and only markers the agents really draw
(fixtures/*/screens): a prompt asking to approve something → waiting; an interrupt hint while
working → running; the idle input prompt → idle.
"""
from __future__ import annotations

BOTTOM_LINES = 24

WAITING_MARKERS = {
    "claude-code": ("Do you want to proceed?", "Do you want to make this edit", "Do you want to create",
                    "Would you like to proceed?"),
    "codex": ("Would you like to run the following command?", "Would you like to make the following edits?",
              "Allow command?", "Press enter to confirm or esc to cancel"),
    "gemini": ("Allow execution", "Apply this change?", "Waiting for user confirmation"),
    "aider": ("(Y)es/(N)o", "[Yes]:", "(Y)es/(N)o/(D)on't ask again"),
}
GENERIC_WAITING = ("Do you want to proceed?", "(y/n)", "[y/N]", "[Y/n]", "Allow?")
RUNNING_MARKERS = ("esc to interrupt", "Esc to interrupt", "ctrl+c to interrupt")
IDLE_MARKERS = {
    "claude-code": ("? for shortcuts",),
    "codex": ("Ask Codex to do anything",),
    "aider": ("> ",),
}


def bottom(text: str, lines: int = BOTTOM_LINES) -> list[str]:
    rows = [r.rstrip() for r in text.splitlines()]
    while rows and not rows[-1]:
        rows.pop()
    return rows[-lines:]


def screen_status(agent: str, text: str) -> str | None:
    """waiting, running or idle from the bottom of the screen; None when it cannot tell."""
    rows = bottom(text)
    region = "\n".join(rows)
    for marker in WAITING_MARKERS.get(agent, ()) + GENERIC_WAITING:
        if marker in region:
            return "waiting"
    if any(m in region for m in RUNNING_MARKERS):
        return "running"
    last = "\n".join(rows[-4:])
    for marker in IDLE_MARKERS.get(agent, ()):
        if agent == "aider":
            if rows and rows[-1].startswith(marker.rstrip()) and len(rows[-1].strip()) <= 2:
                return "idle"
        elif marker in last:
            return "idle"
    return None


def screens_to_read(candidates: list, live: set[str], captured: dict[str, float], now: float,
                    every: float, limit: int, quiet: set[str] = frozenset(), reread: float = float("inf")) -> list[dict]:
    """Which candidates' screens to read this round: live panes of a known agent, each at most
    once per `every`, the least recently read first (never read: first of all), at most
    `limit`. Without the order, a long list would have its first `limit` read every round and
    the rest never. A pane in `quiet` (its window printed nothing since it was last read) shows
    what it showed then, so it is read again only after `reread`."""
    ok = [c for c in candidates if isinstance(c, dict) and c.get("pane") in live and isinstance(c.get("agent"), str)
          and now - captured.get(c["pane"], float("-inf")) >= (reread if c["pane"] in quiet else every)]
    ok.sort(key=lambda c: captured.get(c["pane"], float("-inf")))     # stable: state's order among equals
    return ok[:limit]


def quiet_panes(read_at: dict[str, float], window_of: dict[str, str], activity: dict[str, int]) -> set[str]:
    """Panes whose window has printed nothing since the pane's screen was last read. tmux keeps
    a window's last activity in whole seconds, so output in the very second of a read counts
    as after it (one read too many, never one too few). `read_at`: wall clock of each read."""
    out = set()
    for pane, at in read_at.items():
        last = activity.get(window_of.get(pane, ""))
        if last is not None and last < int(at):
            out.add(pane)
    return out
