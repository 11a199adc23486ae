"""User settings that state keeps and every sidebar follows: one place for names, defaults and
what a valid value is."""
from __future__ import annotations

FILTERS = ("all", "active", "running")
THEMES = ("catppuccin-mocha", "catppuccin-latte", "tokyo-night", "gruvbox-dark", "nord", "dracula",
          "one-dark", "transparent")
WIDTH_MIN, WIDTH_MAX = 16, 80
POSITIONS = ("left", "right")
INDEX_KEY_PREFIXES = ("", "M-", "C-", "C-M-")   # "" = index keys only after the prefix key table

DEFAULTS = {"filter": "all", "theme": "catppuccin-mocha", "width": 32, "position": "left",
            "sidebars": "off", "keytable": "off", "index_keys": ""}


def validate(key: str, value: object) -> object:
    """The value to store, or ValueError with a message a user can act on."""
    if key == "filter":
        if value not in FILTERS:
            raise ValueError(f"filter must be one of {', '.join(FILTERS)}")
        return value
    if key == "theme":
        if value not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}")
        return value
    if key == "width":
        if isinstance(value, bool) or not isinstance(value, int) or not WIDTH_MIN <= value <= WIDTH_MAX:
            raise ValueError(f"width must be a whole number from {WIDTH_MIN} to {WIDTH_MAX}")
        return value
    if key == "position":
        if value not in POSITIONS:
            raise ValueError("position must be left or right")
        return value
    if key in ("sidebars", "keytable"):
        if value not in ("on", "off"):
            raise ValueError(f"{key} must be on or off")
        return value
    if key == "index_keys":
        if value not in INDEX_KEY_PREFIXES:
            raise ValueError("index keys must be one of: (none), M-, C-, C-M- (e.g. M- binds M-1 … M-9)")
        return value
    raise ValueError(f"unknown setting {key!r}; known: {', '.join(DEFAULTS)}")


def from_stored(stored: dict) -> dict:
    """Settings read from disk: valid values kept, anything else back to its default."""
    out = dict(DEFAULTS)
    for key, value in stored.items():
        try:
            out[key] = validate(key, value)
        except ValueError:
            pass
    return out
