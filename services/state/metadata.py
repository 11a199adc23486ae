"""What scripts push about a session: a status pill, a progress bar, a short log (DESIGN §3).

Kept per session name (names survive a restart of tmux; ids do not). Limits are checked by the
protocol before anything gets here; this keeps the log bounded (oldest dropped).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from services.protocol import LOGS_PER_SESSION


@dataclass
class Metadata:
    status: dict | None = None          # {text, tone, ts}
    progress: dict | None = None        # {current, total, percent, label, ts}
    logs: deque = field(default_factory=lambda: deque(maxlen=LOGS_PER_SESSION))

    def to_dict(self) -> dict:
        return {"status": self.status, "progress": self.progress, "logs": list(self.logs)}

    @classmethod
    def from_dict(cls, d: dict) -> "Metadata":
        m = cls()
        if isinstance(d.get("status"), dict) and isinstance(d["status"].get("text"), str):
            m.status = d["status"]
        if isinstance(d.get("progress"), dict):
            m.progress = d["progress"]
        logs = d.get("logs")
        for entry in logs if isinstance(logs, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("message"), str):
                m.logs.append(entry)
        return m

    @property
    def empty(self) -> bool:
        return self.status is None and self.progress is None and not self.logs


def progress_of(current: float | None, total: float | None, percent: float | None,
                label: str | None, now: float) -> dict:
    """Normalise the two ways to give progress; ValueError names what is wrong."""
    if percent is not None:
        if current is not None or total is not None:
            raise ValueError("give either --percent or --current with --total, not both")
        if not 0 <= percent <= 100:
            raise ValueError("percent must be between 0 and 100")
        return {"current": None, "total": None, "percent": float(percent), "label": label, "ts": now}
    if current is None or total is None:
        raise ValueError("progress needs --current and --total, or --percent")
    if total <= 0 or current < 0 or current > total:
        raise ValueError("progress needs 0 ≤ current ≤ total and total > 0")
    return {"current": current, "total": total, "percent": round(100.0 * current / total, 1),
            "label": label, "ts": now}
