"""Which control-mode notifications mean the collector's listing is out of date (pure).

The listing costs the tmux server a few ms at 500 panes, and state a full decode; it must not
follow news that state already has or that changes nothing listed:

- `%client-session-changed` for a client the last listing had: state's own control client
  applies the switch itself, and the next safety poll confirms the client's window and pane.
  An unknown client is a new attach: state learns of clients only from the listing.
- `%layout-change` that keeps the window's panes: a resize (a switch to a window sized for
  another client, the sidebar's width repaired); the listing has no sizes. A split or a kill
  changes the pane ids in the layout, and is listed.

`%client-detached` stays relevant: only the listing tells state a client is gone.
"""
from __future__ import annotations

import re

QUIET = ("%output", "%extended-output", "%pane-mode-changed", "%paste-buffer", "%subscription-changed",
         "%begin", "%end", "%error", "%message", "%config-error")
# a layout leaf is WIDTHxHEIGHT,X,Y,PANE; a container has no PANE and opens { or [
_CELL = re.compile(r"\d+x\d+,\d+,\d+(?:,(\d+))?")


def layout_panes(layout: str) -> frozenset[str] | None:
    """The pane ids (`%N`) of a window layout (`c7fe,160x47,0,0[160x23,0,0,1,160x23,0,24,3]`),
    or None when it does not read as one."""
    checksum, sep, body = layout.partition(",")
    if not sep or len(checksum) != 4 or not body:
        return None
    panes, pos = [], 0
    for m in _CELL.finditer(body):
        if m.start() != pos:
            return None            # something between cells that is not a separator
        pos = m.end()
        if m.group(1) is not None:
            panes.append("%" + m.group(1))
        while pos < len(body) and body[pos] in ",[]{}":
            pos += 1
    if pos != len(body) or not panes:
        return None
    return frozenset(panes)


def relevant(line: str, clients: set[str], window_panes: dict[str, frozenset[str]]) -> bool:
    """Whether this notification can change what the listing says. clients: the ttys the last
    listing had; window_panes: window id → its pane ids in the last listing."""
    if line.startswith(QUIET):
        return False
    if line.startswith("%client-session-changed "):
        parts = line.split(" ", 2)
        return len(parts) < 3 or parts[1] not in clients
    if line.startswith("%layout-change "):
        parts = line.split(" ")
        if len(parts) < 3 or parts[1] not in window_panes:
            return True
        return layout_panes(parts[2]) != window_panes[parts[1]]
    return True
