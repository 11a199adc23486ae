"""Codex's own files, parsed (pure) — AGENTS.md, checked against Codex 0.171.0.

`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`, lines {timestamp, type, payload}:
task_started → running, function_call → tool-running, function_call_output → running,
task_complete → done, turn_aborted → interrupted. The thread id is the trailing UUID; names are
in `$CODEX_HOME/session_index.jsonl` ({id, thread_name}). No approval event is written.
"""
from __future__ import annotations

import os
import re

from services.collector.watchers.timeparse import iso_to_epoch

AGENT = "codex"
_UUID_TAIL = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$")


def thread_id_from_path(path: str) -> str:
    m = _UUID_TAIL.search(os.path.basename(path))
    return m.group(1) if m else os.path.basename(path)


def index_entry(obj: object) -> tuple[str, str] | None:
    """One session_index.jsonl line → (thread id, name)."""
    if isinstance(obj, dict) and isinstance(obj.get("id"), str) and isinstance(obj.get("thread_name"), str):
        name = obj["thread_name"].strip()
        return (obj["id"], name) if name else None
    return None


class RolloutState:
    def __init__(self, path: str):
        self.thread_id = thread_id_from_path(path)
        self.dir: str | None = None

    def feed(self, obj: object, mtime: float) -> dict | None:
        if not isinstance(obj, dict):
            return None
        kind, payload = obj.get("type"), obj.get("payload")
        if not isinstance(payload, dict):
            return None
        at = iso_to_epoch(obj.get("timestamp")) or mtime
        if kind == "session_meta":
            if isinstance(payload.get("id"), str):
                self.thread_id = payload["id"][:256]
            if isinstance(payload.get("cwd"), str):
                self.dir = payload["cwd"]
            return self._ev(at, None)
        if kind == "turn_context" and isinstance(payload.get("cwd"), str):
            self.dir = payload["cwd"]
            return None
        ptype = payload.get("type")
        if kind == "event_msg":
            if ptype == "task_started":
                return self._ev(at, "running")
            if ptype == "task_complete":
                return self._ev(at, "done")
            if ptype == "turn_aborted":
                return self._ev(at, "interrupted")
            if ptype == "error":
                return self._ev(at, "error")
            return None
        if kind == "response_item":
            if ptype in ("function_call", "custom_tool_call", "local_shell_call"):
                return self._ev(at, "tool-running")
            if ptype in ("function_call_output", "custom_tool_call_output"):
                return self._ev(at, "running")
            if ptype == "message" and payload.get("role") == "user":
                text = _first_text(payload.get("content"))
                if text and not text.lstrip().startswith("<"):
                    ev = self._ev(at, None)
                    ev["thread_name"], ev["name_rank"] = text.strip()[:500], 1
                    return ev
        return None

    def _ev(self, at: float, status: str | None) -> dict:
        ev = {"agent": AGENT, "source": "transcript", "thread_id": self.thread_id, "at": at}
        if status is not None:
            ev["status"] = status
        if self.dir:
            ev["dir"] = self.dir
        return ev


def _first_text(content: object) -> str | None:
    if isinstance(content, list):
        for c in content:
            if isinstance(c, dict) and isinstance(c.get("text"), str):
                return c["text"]
    return None
