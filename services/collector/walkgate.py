"""When the process walk can be skipped (pure): most seconds nothing under any pane changed, and
proving that costs far less than walking 500 process trees.

New agents need a new process, and every new process (and thread) takes the next pid, so the
last pid allocated (the last field of /proc/loadavg) standing still means nothing was created
since the last look. When it moved, the pids handed out since are checked one by one: one that
is gone, or alive but not below a pane (the rest of the machine forks all the time), cannot be
an agent in a pane. What a new pid cannot reveal is caught otherwise:

- `exec claude` in a pane replaces the shell without a fork: the pane's current command
  (already in every tmux listing) changes, and so does the pane signature;
- a fork is usually followed by an exec that takes no pid: a walk prompted by new processes is
  followed by one more on the next cycle, to see them under their final names;
- an agent (or a process between it and its pane) exits: its pid is gone;
- anything else (a background process exec'ing long after its fork): the safety walk.
"""
from __future__ import annotations

from dataclasses import dataclass

SAFETY_EVERY = 10.0


@dataclass
class WalkGate:
    last_pid: int | None = None        # the last pid allocated, as far as we have accounted for it
    panes: object = None               # the pane signature at the last walk
    walked_at: float | None = None     # monotonic time of the last walk
    again: bool = False                # walk once more: the last walk saw processes just forked
    every: float = SAFETY_EVERY

    def reason(self, last_pid: int | None, new_in_panes: bool | None, panes: object, gone: bool,
               now: float) -> str | None:
        """Why the table must be walked now, or None when it cannot have changed.

        last_pid: the last pid allocated now, None when unknown (no /proc/loadavg): walk always.
        new_in_panes: whether any pid allocated since `self.last_pid` is alive below a pane (None:
        not checked, counts as yes). panes: the pane signature now. gone: a process the last walk found on
        the way to an agent no longer exists."""
        if self.walked_at is None:
            return "first"
        if last_pid is None or self.last_pid is None:
            return "no-last-pid"
        if panes != self.panes:
            return "panes"
        if gone:
            return "gone"
        if last_pid != self.last_pid and new_in_panes is not False:
            return "new-pids"
        if self.again:
            return "again"
        if now - self.walked_at >= self.every:
            return "safety"
        return None

    def record(self, reason: str | None, last_pid: int | None, panes: object, now: float) -> None:
        """After deciding: `reason` is what reason() returned (None: the walk was skipped)."""
        self.last_pid = last_pid       # skipped: every pid up to here is accounted for
        if reason is None:
            return
        self.panes, self.walked_at = panes, now
        self.again = reason == "new-pids"


RESERVED_PIDS = 300     # after wrapping, Linux hands out pids from here (kernel/pid.c)


def allocated_since(after: int, upto: int, pid_max: int | None, limit: int = 64) -> list[int] | None:
    """The pids handed out after `after` up to `upto` (the last pid then and now), wrapping at
    pid_max; None when there are more than `limit` of them (or the wrap cannot be followed),
    i.e. when checking them one by one costs more than the walk it might save."""
    if upto >= after:
        if upto - after > limit:
            return None
        return list(range(after + 1, upto + 1))
    if pid_max is None or pid_max <= after:
        return None
    low = RESERVED_PIDS if upto >= RESERVED_PIDS else 1
    count = (pid_max - 1 - after) + (upto - low + 1)
    if count > limit:
        return None
    return list(range(after + 1, pid_max)) + list(range(low, upto + 1))


def parse_last_pid(loadavg: bytes | str) -> int | None:
    """The last field of /proc/loadavg (`0.52 0.58 0.59 2/345 12345`), or None."""
    parts = loadavg.split()
    if len(parts) != 5:
        return None
    try:
        pid = int(parts[4])
    except ValueError:
        return None
    return pid if pid >= 0 else None
