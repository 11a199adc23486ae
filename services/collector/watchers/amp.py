"""Amp's thread files, parsed (pure), and the watcher that rereads them (AGENTS.md "Amp").

`$XDG_DATA_HOME/amp/threads/T-<uuid>.json` (default `~/.local/share`), rewritten whole:
`{v, id, created, title?, messages: [...], env?: {initial: {trees: [{uri: "file://…"}]}}}`.
Messages have `role` user / assistant / info and `content` blocks (`text`, `thinking`,
`tool_use`, and in user messages `tool_result` with `run.status` in-progress / queued /
blocked-on-user / done / error / cancelled / cancellation-requested / rejected-by-user);
assistant messages carry `state: {type: streaming | complete | cancelled | error, stopReason}`.
The last user or assistant message decides the thread's state.

Checked against public readers of these files and Amp's own tool-status enum, not against a
real thread file: there is no fixture yet. Not done: `session.json` `lastThreadId` (the user
opened a thread) — the protocol has no field to carry "seen".
"""
from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from services.collector.watchers.evidence import clean_dir, clean_id, clean_name, content_text, evidence
from services.collector.watchers.files import SmallFiles

AGENT = "amp"
TOOL_PENDING = {"in-progress", "queued", "cancellation-requested"}
TOOL_STOPPED = {"cancelled", "rejected-by-user"}
STOP_REASONS = {"end_turn": "done", "tool_use": "tool-running", "max_tokens": "done", "stop_sequence": "done",
                "refusal": "done"}


def _tool_results_status(content: object) -> str | None:
    """What the agent is doing with the tool results a user message carries, or None when it
    carries none."""
    if not isinstance(content, list):
        return None
    runs = [c.get("run") for c in content if isinstance(c, dict) and c.get("type") == "tool_result"]
    if not runs:
        return None
    statuses = {r.get("status") for r in runs if isinstance(r, dict)}
    if "blocked-on-user" in statuses:
        return "waiting"            # a tool asks the user for approval
    if statuses & TOOL_PENDING:
        return "tool-running"
    if statuses & TOOL_STOPPED:
        return "interrupted"        # the user stopped a tool: taken as the turn's end until a reply says otherwise
    return "running"                # every result is back: the model is being asked again


def message_status(msg: object) -> str | None:
    if not isinstance(msg, dict):
        return None
    role = msg.get("role")
    if role == "user":
        return _tool_results_status(msg.get("content")) or "running"
    if role != "assistant":
        return None
    state = msg.get("state")
    if not isinstance(state, dict):
        return None
    kind = state.get("type")
    if kind == "streaming":
        return "running"
    if kind == "cancelled":
        return "interrupted"
    if kind == "error":
        return "error"
    if kind == "complete":
        return STOP_REASONS.get(state.get("stopReason"), "done")
    return None


def thread_dir(doc: dict) -> str | None:
    """The first workspace tree of the thread's environment, when it is a local file URI."""
    env = doc.get("env")
    if not isinstance(env, dict):
        return None
    initial = env.get("initial") if isinstance(env.get("initial"), dict) else env
    trees = initial.get("trees")
    if not isinstance(trees, list):
        return None
    for tree in trees:
        uri = tree.get("uri") if isinstance(tree, dict) else None
        if isinstance(uri, str) and uri.startswith("file://"):
            return clean_dir(unquote(urlparse(uri).path))
    return None


def thread_id_from_path(path: str) -> str:
    name = os.path.basename(path)
    return name[:-len(".json")] if name.endswith(".json") else name


def thread_event(doc: object, mtime: float, path: str) -> dict | None:
    """One whole thread file → its current evidence, or None when it is not a thread."""
    if not isinstance(doc, dict) or not isinstance(doc.get("messages", []), list):
        return None
    tid = clean_id(doc.get("id")) or clean_id(thread_id_from_path(path))
    if tid is None:
        return None
    messages = [m for m in doc.get("messages", []) if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    status = message_status(messages[-1]) if messages else None
    name, rank = clean_name(doc.get("title")), 2
    if name is None:      # not titled yet: the first prompt stands in, as for the other agents
        prompts = (content_text(m.get("content")) for m in messages if m.get("role") == "user")
        name, rank = clean_name(next((p for p in prompts if p), None)), 1
    if status is None and name is None:
        return None
    return evidence(AGENT, tid, mtime, status, thread_dir(doc), name, rank)


def threads_dir() -> str:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return os.path.join(data, "amp", "threads")


# mtimes move in coarse ticks: a rewrite landing in the same tick as our read keeps the mtime
# we saw, so a thread file changed this recently is read again (and deduplicated) next scan
SETTLE = 2.0


class AmpWatcher:
    """Rereads a thread file when its mtime changes; the file's mtime is when its state changed."""

    def __init__(self, recent: float = 1800.0):
        self.files = SmallFiles(lambda: [threads_dir()], ".json", self._parse, prefix="T-", recent=recent)
        self.reported: dict[str, tuple] = {}    # path → the evidence last reported from it
        self.no_evidence = 0      # not a thread, or a thread with nothing in it yet

    def _parse(self, doc: object, mtime: float, path: str) -> list[dict]:
        ev = thread_event(doc, mtime, path)
        if ev is None:
            self.no_evidence += 1
            return []
        key = tuple(sorted(ev.items()))
        if self.reported.get(path) == key:
            return []
        self.reported[path] = key
        ev["_path"] = path
        return [ev]

    def trees(self) -> list[tuple[str, int]]:
        return self.files.trees()

    def scan_paths(self, paths: set[str], mono_now: float, wall_now: float) -> list[dict]:
        events = self.files.scan_paths(paths, wall_now)
        self._settle(wall_now)
        return events

    def scan(self, mono_now: float, wall_now: float) -> list[dict]:
        events = self.files.scan(wall_now)
        self._settle(wall_now)
        return events

    def _settle(self, wall_now: float) -> None:
        for path, key in list(self.files.seen.items()):
            if wall_now - key[0] / 1e9 < SETTLE:   # key: (mtime_ns, inode, size)
                del self.files.seen[path]
        for path in [p for p in self.reported if p not in self.files.seen]:
            if not os.path.isfile(path):
                del self.reported[path]

    def stats(self) -> dict:
        return {"files": len(self.files.seen), "bad_files": self.files.bad_files, "no_evidence": self.no_evidence}
