"""Claude Code's own files, parsed (pure) — AGENTS.md, checked against Claude Code 2.1.197.

- `~/.claude/sessions/<pid>.json`: rewritten on every state change, removed on exit: pid →
  sessionId, status idle|busy|waiting. The best zero-setup source.
- `~/.claude/projects/<encoded-cwd>/<session-id>.jsonl`: the transcript. Turn in progress: a
  prompt, a tool result or an assistant tool_use; turn done: system/turn_duration (or end_turn
  then last-prompt in print mode). A permission prompt and a running tool look the same here.
"""
from __future__ import annotations

import os

from services.collector.watchers.timeparse import iso_to_epoch, number_to_epoch

AGENT = "claude-code"
NOISE_PREFIXES = ("<command-name>", "<command-message>", "<local-command-", "<bash-", "<system-reminder>",
                  "<user-prompt-submit-hook>", "Caveat:")
STATUS_FILE_MAP = {"idle": "idle", "busy": "running", "waiting": "waiting"}


def encode_dir(directory: str) -> str:
    """The transcript folder name for a working dir: every non-alphanumeric character → '-'."""
    return "".join(c if c.isalnum() else "-" for c in directory)


def status_file_event(doc: object, mtime: float) -> dict | None:
    """One `sessions/<pid>.json` → evidence with the pid that owns the thread."""
    if not isinstance(doc, dict):
        return None
    sid, pid, status = doc.get("sessionId"), doc.get("pid"), doc.get("status")
    if not isinstance(sid, str) or not sid or not isinstance(pid, int) or isinstance(pid, bool):
        return None
    ev: dict = {"agent": AGENT, "source": "status-file", "thread_id": sid[:256], "pid": pid,
                "at": number_to_epoch(doc.get("statusUpdatedAt")) or number_to_epoch(doc.get("updatedAt")) or mtime}
    if isinstance(status, str) and status in STATUS_FILE_MAP:
        ev["status"] = STATUS_FILE_MAP[status]   # idle after a turn: the tracker makes it `done`
    if isinstance(doc.get("cwd"), str):
        ev["dir"] = doc["cwd"]
    if isinstance(doc.get("name"), str) and doc.get("nameSource") == "user":
        ev["thread_name"], ev["name_rank"] = doc["name"], 3
    return ev


def _user_text(content: object) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [c.get("text") for c in content if isinstance(c, dict) and c.get("type") == "text"]
        if texts and all(isinstance(t, str) for t in texts):
            return "\n".join(texts)
    return None


def _is_tool_result(content: object) -> bool:
    return isinstance(content, list) and any(isinstance(c, dict) and c.get("type") == "tool_result" for c in content)


class TranscriptState:
    """Follows one transcript line by line and says what each line means."""

    def __init__(self, path: str):
        self.thread_id = os.path.basename(path)[:-len(".jsonl")] if path.endswith(".jsonl") else os.path.basename(path)
        self.dir: str | None = None
        self.last_assistant_end = False

    def feed(self, obj: object, mtime: float) -> dict | None:
        """The evidence in one parsed line, or None (noise, bookkeeping, unknown types)."""
        if not isinstance(obj, dict):
            return None
        kind = obj.get("type")
        if isinstance(obj.get("sessionId"), str) and obj["sessionId"]:
            self.thread_id = obj["sessionId"][:256]
        if isinstance(obj.get("cwd"), str):
            self.dir = obj["cwd"]
        at = iso_to_epoch(obj.get("timestamp")) or mtime
        ev = {"agent": AGENT, "source": "transcript", "thread_id": self.thread_id, "at": at}
        if self.dir:
            ev["dir"] = self.dir
        if obj.get("isSidechain") is True:
            return None
        if kind == "user":
            message = obj.get("message") if isinstance(obj.get("message"), dict) else {}
            content = message.get("content")
            self.last_assistant_end = False
            if _is_tool_result(content):
                return {**ev, "status": "running"}
            text = _user_text(content)
            if text is None:
                return None
            stripped = text.lstrip()
            if stripped.startswith("[Request interrupted"):
                return {**ev, "status": "interrupted"}
            if stripped.startswith(NOISE_PREFIXES) or obj.get("isMeta") is True:
                return None
            return {**ev, "status": "running", "thread_name": stripped[:500], "name_rank": 1}
        if kind == "assistant":
            message = obj.get("message") if isinstance(obj.get("message"), dict) else {}
            stop = message.get("stop_reason")
            content = message.get("content")
            if stop == "tool_use" or (isinstance(content, list) and any(
                    isinstance(c, dict) and c.get("type") == "tool_use" for c in content)):
                self.last_assistant_end = False
                return {**ev, "status": "tool-running"}
            self.last_assistant_end = stop == "end_turn"
            return {**ev, "status": "running"} if stop is None else None
        if kind == "system":
            if obj.get("subtype") == "turn_duration":
                self.last_assistant_end = False
                return {**ev, "status": "done"}
            return None
        if kind == "last-prompt":
            if self.last_assistant_end:    # print mode ends a turn this way
                self.last_assistant_end = False
                return {**ev, "status": "done"}
            return None
        if kind == "ai-title" and isinstance(obj.get("aiTitle"), str):
            return {**ev, "thread_name": obj["aiTitle"][:500], "name_rank": 2}
        if kind == "custom-title" and isinstance(obj.get("customTitle"), str):
            return {**ev, "thread_name": obj["customTitle"][:500], "name_rank": 3}
        return None
