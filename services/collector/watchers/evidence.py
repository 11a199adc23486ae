"""Building evidence dicts from untrusted agent data (pure).

Every value here comes out of a file some other program wrote, so ids and dirs are checked
against what the protocol accepts (services/protocol.py COMMANDS["event"]) before they leave
the collector: one odd value must cost its own evidence, not a whole obs.events batch.
"""
from __future__ import annotations

ID_MAX, NAME_MAX, DIR_MAX = 256, 500, 4096


def _has_control(value: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def clean_id(value: object) -> str | None:
    """A thread id the protocol accepts, or None (an id cut short would name another thread)."""
    if not isinstance(value, str) or not value or len(value) > ID_MAX or _has_control(value):
        return None
    return value


def clean_dir(value: object) -> str | None:
    if not isinstance(value, str) or not value or len(value) > DIR_MAX or _has_control(value):
        return None
    return value


def clean_name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:NAME_MAX] or None


def content_text(content: object) -> str | None:
    """The text of a message body: a plain string, or the text blocks of a block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [c["text"] for c in content
                 if isinstance(c, dict) and c.get("type") == "text" and isinstance(c.get("text"), str)]
        if texts:
            return "\n".join(texts)
    return None


def evidence(agent: str, thread_id: str, at: float | None, status: str | None = None, dir: str | None = None,
             name: str | None = None, rank: int = 1) -> dict:
    ev: dict = {"agent": agent, "source": "transcript", "thread_id": thread_id}
    if at is not None:
        ev["at"] = at
    if status is not None:
        ev["status"] = status
    if dir is not None:
        ev["dir"] = dir
    if name is not None:
        ev["thread_name"], ev["name_rank"] = name, rank
    return ev
