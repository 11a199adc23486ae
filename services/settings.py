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


# a setting with a fixed set of values: the values, and what to tell a user who gave another
CHOICES = {
    "filter": (FILTERS, f"filter must be one of {', '.join(FILTERS)}"),
    "theme": (THEMES, f"theme must be one of {', '.join(THEMES)}"),
    "position": (POSITIONS, "position must be left or right"),
    "sidebars": (("on", "off"), "sidebars must be on or off"),
    "keytable": (("on", "off"), "keytable must be on or off"),
    "index_keys": (INDEX_KEY_PREFIXES, "index keys must be one of: (none), M-, C-, C-M- (e.g. M- binds M-1 … M-9)"),
}


def validate(key: str, value: object) -> object:
    """The value to store, or ValueError with a message a user can act on."""
    if key in CHOICES:
        allowed, message = CHOICES[key]
        if value not in allowed:
            raise ValueError(message)
        return value
    if key == "width":
        if isinstance(value, bool) or not isinstance(value, int) or not WIDTH_MIN <= value <= WIDTH_MAX:
            raise ValueError(f"width must be a whole number from {WIDTH_MIN} to {WIDTH_MAX}")
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
