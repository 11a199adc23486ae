"""What state keeps on disk: the user's session order, the hidden set and settings.

Written atomically; a file that cannot be read is moved aside (kept for the user) and defaults
are used, so a corrupt file never stops the service.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import orjson

from services import log
from services.paths import atomic_write, move_aside
from services.settings import DEFAULTS, from_stored


@dataclass
class Persisted:
    order: list[str] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    settings: dict = field(default_factory=lambda: dict(DEFAULTS))


def parse(data: bytes) -> Persisted:
    """Raise ValueError when the content is not an order file we wrote."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    order, hidden, settings = doc.get("order", []), doc.get("hidden", []), doc.get("settings", {})
    if not (isinstance(order, list) and all(isinstance(n, str) for n in order)):
        raise ValueError("'order' must be a list of names")
    if not (isinstance(hidden, list) and all(isinstance(n, str) for n in hidden)):
        raise ValueError("'hidden' must be a list of names")
    if not isinstance(settings, dict):
        raise ValueError("'settings' must be an object")
    return Persisted(list(dict.fromkeys(order)), set(hidden), from_stored(settings))


def encode(p: Persisted) -> bytes:
    return orjson.dumps({"order": p.order, "hidden": sorted(p.hidden), "settings": p.settings},
                        option=orjson.OPT_INDENT_2)


def load(path: str) -> Persisted:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return Persisted()
    except OSError as e:
        log.error("order_file_unreadable", path=path, error=e)
        return Persisted()
    try:
        return parse(data)
    except ValueError as e:
        try:
            aside = move_aside(path, time.time())
        except OSError as move_error:
            aside = f"(left in place: {move_error})"
        log.error("order_file_corrupt", path=path, error=e, kept_as=aside, action="using defaults")
        return Persisted()


def save(path: str, p: Persisted) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, encode(p))
