"""Pi's session files, parsed (pure), and the watcher that follows them (AGENTS.md "Pi").

`$PI_CODING_AGENT_DIR/sessions/<encoded-cwd>/<timestamp>_<id>.jsonl` (default `~/.pi/agent`).
First line `{"type": "session", "id", "cwd", "timestamp", "version"}`; then entries with `id`,
`parentId`, `timestamp`: `message` entries carry `message: {role, content, stopReason,
timestamp}` with role user / assistant / toolResult (also bashExecution, custom); `session_info`
carries a user-given `name`. Pi writes nothing until the first assistant message exists, then
appends each message once it is complete: a streaming reply is not visible, so the turn reads
as running from the prompt or tool result before it.

Checked against Pi's source (coding-agent session-manager.ts, pi-ai StopReason), not against a
real session file: there is no fixture yet.
"""
from __future__ import annotations

import os
from typing import Callable

import orjson

from services.collector.watchers.evidence import clean_dir, clean_id, clean_name, content_text, evidence
from services.collector.watchers.files import JsonlWatcher
from services.collector.watchers.timeparse import iso_to_epoch, number_to_epoch

AGENT = "pi"
STOP_REASONS = {"toolUse": "tool-running", "stop": "done", "length": "done", "error": "error",
                "aborted": "interrupted", "cancelled": "interrupted"}
HEADER_MAX = 64 << 10


def thread_id_from_path(path: str) -> str:
    stem = os.path.basename(path)
    stem = stem[:-len(".jsonl")] if stem.endswith(".jsonl") else stem
    return stem.split("_", 1)[1] if "_" in stem else stem


def _field(obj: dict, message: dict, key: str) -> object:
    # entries nest the message; older or hand-written lines have been seen flat
    value = message.get(key)
    return obj.get(key) if value is None else value


class PiState:
    """Follows one session file and says what each entry means. `header` is the file's first
    line when the watcher could read it: a long file is first read from its tail, and only the
    header knows the session id and cwd for sure."""

    def __init__(self, path: str, header: object = None):
        self.thread_id = clean_id(thread_id_from_path(path)) or "unknown"
        self.dir: str | None = None
        self.named = False
        if isinstance(header, dict) and header.get("type") == "session":
            self._take_header(header)

    def _take_header(self, obj: dict) -> None:
        self.thread_id = clean_id(obj.get("id")) or self.thread_id
        self.dir = clean_dir(obj.get("cwd")) or self.dir

    def feed(self, obj: object, mtime: float) -> dict | None:
        if not isinstance(obj, dict):
            return None
        kind = obj.get("type")
        if kind == "session":
            self._take_header(obj)
            return None
        message = obj.get("message") if isinstance(obj.get("message"), dict) else {}
        at = iso_to_epoch(obj.get("timestamp")) or number_to_epoch(message.get("timestamp")) or mtime
        if kind == "session_info":
            name = clean_name(obj.get("name"))
            return evidence(AGENT, self.thread_id, at, None, self.dir, name, 3) if name else None
        if kind != "message":
            return None
        role = _field(obj, message, "role")
        if role == "toolResult":
            return evidence(AGENT, self.thread_id, at, "running", self.dir)
        if role == "user":
            name = None
            if not self.named:
                name = clean_name(content_text(_field(obj, message, "content")))
                self.named = name is not None
            return evidence(AGENT, self.thread_id, at, "running", self.dir, name, 1)
        if role == "assistant":
            status = STOP_REASONS.get(_field(obj, message, "stopReason"))
            return evidence(AGENT, self.thread_id, at, status, self.dir) if status else None
        return None


def read_header(path: str) -> object:
    """The first line of a session file, decoded, or None."""
    try:
        with open(path, "rb") as f:
            line = f.readline(HEADER_MAX)
        return orjson.loads(line)
    except (OSError, orjson.JSONDecodeError):
        return None


def sessions_dir() -> str:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    agent_dir = os.environ.get("PI_CODING_AGENT_DIR") or os.path.join(home, ".pi", "agent")
    return os.path.join(agent_dir, "sessions")


def pi_watcher(recent: float = 1800.0, roots: Callable[[], list[str]] | None = None) -> JsonlWatcher:
    return JsonlWatcher(roots or (lambda: [sessions_dir()]), ".jsonl", 1,
                        lambda path: PiState(path, read_header(path)), recent=recent)
