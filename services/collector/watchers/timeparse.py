"""Timestamps as agents write them → epoch seconds."""
from __future__ import annotations

from datetime import datetime


def iso_to_epoch(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def number_to_epoch(value: object) -> float | None:
    """Seconds or milliseconds since the epoch (agents use both)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value / 1000.0 if value > 1e11 else float(value)
