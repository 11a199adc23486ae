"""How often state may publish. Every snapshot costs the whole pipeline (build, encode, the
publisher, every sidebar's decode and paint) the same, however small the change, so under a
stream of agent events state publishes at most once per `gap` and the last one carries them all.
The first change after a quiet spell goes out at once. Pure: the caller passes the clock."""
from __future__ import annotations

SNAPSHOT_GAP = 0.02   # s: ≤ 50 snapshots/s, well inside the 50 ms event → visible budget


class Pacer:
    def __init__(self, gap: float = SNAPSHOT_GAP) -> None:
        self.gap = gap
        self.not_before = float("-inf")
        self.due: float | None = None

    def want(self, now: float) -> bool:
        """Something changed: True to publish now; otherwise it is remembered as `due`."""
        if now >= self.not_before:
            self.sent(now)
            return True
        if self.due is None:
            self.due = self.not_before
        return False

    def ready(self, now: float) -> bool:
        """True when a remembered change is due now (the caller then publishes)."""
        if self.due is not None and now >= self.due:
            self.sent(now)
            return True
        return False

    def sent(self, now: float) -> None:
        self.not_before = now + self.gap
        self.due = None

    def wait(self, now: float, longest: float) -> float:
        """How long the loop may sleep before a remembered change is due."""
        return longest if self.due is None else max(0.0, min(longest, self.due - now))
