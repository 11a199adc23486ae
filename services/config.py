"""The user's config file (`config.toml` in the config dir): known keys with defaults.

A file that is not valid TOML is moved aside with a logged error and defaults are used; unknown
keys and values of the wrong type are logged and ignored, never fatal.
"""
from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, fields

from services import log
from services.paths import move_aside


@dataclass(frozen=True)
class Config:
    exited_linger: float = 30.0      # seconds an exited agent stays listed
    stale_after: float = 180.0       # running with no evidence and no live process → stale
    tmux_poll: float = 2.0           # the safety poll behind control-mode notifications
    process_scan: float = 1.0        # how often agent processes are looked for
    ports_scan: float = 10.0
    git_scan: float = 5.0


_SECTION = "opensessions"


def parse(data: dict) -> tuple[Config, list[str]]:
    """Config from a parsed TOML document; the list says what was ignored and why."""
    section = data.get(_SECTION, {})
    problems: list[str] = []
    if not isinstance(section, dict):
        return Config(), [f"[{_SECTION}] must be a table"]
    known = {f.name: f for f in fields(Config)}
    values = {}
    for key, value in section.items():
        if key not in known:
            problems.append(f"unknown key {key!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            problems.append(f"{key} must be a positive number")
        else:
            values[key] = float(value)
    return Config(**values), problems


def load(path: str) -> Config:
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        return Config()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        try:
            aside = move_aside(path, time.time())
        except OSError:   # another service moved it first (all three read it at start)
            aside = "(already moved aside)"
        log.error("config_corrupt", path=path, error=e, kept_as=aside, action="using defaults")
        return Config()
    except OSError as e:
        log.error("config_unreadable", path=path, error=e, action="using defaults")
        return Config()
    config, problems = parse(doc)
    for p in problems:
        log.warn("config_ignored", path=path, problem=p)
    return config
