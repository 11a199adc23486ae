"""A line an agent writes reaches the collector's PUSH socket through inotify, not the poll:
the collector runs in-process against a real tmux server, a private HOME with real files, and a
PULL socket standing in for state. The poll interval is a minute, and the test checks the full
scan did not run again, so only inotify can explain what arrives."""
from __future__ import annotations

import json
import os
import time

from services.collector.watchers.claude import encode_dir

from .collector_helpers import harness_factory, wait_for  # noqa: F401  (fixture)

LONG = 60.0
TID = "00000000-0000-4000-8000-000000000001"
CODEX_ID = "01a21f1d-0618-7d50-a17c-a64b04d3ef1a"


def line(obj: dict) -> str:
    return json.dumps(obj) + "\n"


def append(path, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(text)


def _events_until(h, predicate, what: str) -> list[dict]:
    """Step the loop until an obs.events item satisfies predicate; every event item received."""
    def got():
        h.step(0.05)
        h.drain()
        items = [e for m in h.received if m["type"] == "obs.events" for e in m["events"]]
        return any(predicate(e) for e in items) and items
    return wait_for(got, what=what)


def _started(h):
    h.world.new_session("work")
    wait_for(lambda: (h.step(0.05), h.svc.file_scans >= 1 and h.svc.listings >= 1)[1], what="the first scans")
    assert h.svc.watching()
    return h.svc.file_scans


def test_transcript_lines_and_new_files_arrive_by_inotify(harness_factory, home):
    cwd = "/home/u/proj"
    transcript = home / ".claude" / "projects" / encode_dir(cwd) / f"{TID}.jsonl"
    append(transcript, line({"type": "user", "sessionId": TID, "cwd": cwd, "message": {"content": "hello"}}))
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    scans = _started(h)
    _events_until(h, lambda e: e.get("thread_id") == TID, "the first scan's history")

    append(transcript, line({"type": "assistant", "sessionId": TID, "cwd": cwd,
                             "message": {"stop_reason": "tool_use", "content": [{"type": "tool_use"}]}}))
    _events_until(h, lambda e: e.get("thread_id") == TID and e.get("status") == "tool-running", "the new line")

    # Claude started in a dir it never ran in: a new project dir, then its transcript
    tid2 = "00000000-0000-4000-8000-000000000002"
    other = home / ".claude" / "projects" / encode_dir("/home/u/other") / f"{tid2}.jsonl"
    append(other, line({"type": "user", "sessionId": tid2, "cwd": "/home/u/other", "message": {"content": "hi"}}))
    _events_until(h, lambda e: e.get("thread_id") == tid2 and e.get("status") == "running", "the new project")

    # its status file names the pid that owns the thread
    append(home / ".claude" / "sessions" / "4242.json",
           json.dumps({"pid": 4242, "sessionId": tid2, "cwd": "/home/u/other", "status": "waiting"}))
    _events_until(h, lambda e: e.get("source") == "status-file" and e.get("status") == "waiting", "the status file")

    # Codex on a day it has not run before: new date dirs, a rollout, then its name in the index
    day = home / ".codex" / "sessions" / time.strftime("%Y/%m/%d")
    rollout = day / f"rollout-2026-11-30T10-00-00-{CODEX_ID}.jsonl"
    append(rollout, line({"timestamp": "2026-11-30T10:00:00Z", "type": "session_meta",
                          "payload": {"id": CODEX_ID, "cwd": "/home/u/proj"}}))
    _events_until(h, lambda e: e.get("agent") == "codex" and e.get("thread_id") == CODEX_ID, "the rollout")
    append(rollout, line({"timestamp": "2026-11-30T10:00:01Z", "type": "event_msg",
                          "payload": {"type": "task_started"}}))
    _events_until(h, lambda e: e.get("thread_id") == CODEX_ID and e.get("status") == "running", "task_started")
    append(home / ".codex" / "session_index.jsonl", line({"id": CODEX_ID, "thread_name": "fix the build"}))
    _events_until(h, lambda e: e.get("thread_name") == "fix the build", "the codex name")

    assert h.svc.file_scans == scans and h.svc.changed_scans >= 6     # never the poll


def test_pi_and_amp_files_arrive_by_inotify(harness_factory, home):
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    scans = _started(h)
    pi = home / ".pi" / "agent" / "sessions" / "--home-u-proj--" / "2026-11-30T10-00-00-000Z_pi-1.jsonl"
    append(pi, line({"type": "session", "id": "pi-1", "cwd": "/home/u/proj", "timestamp": "2026-11-30T10:00:00Z"}))
    append(pi, line({"type": "message", "id": "m1", "timestamp": "2026-11-30T10:00:01Z",
                     "message": {"role": "user", "content": "do it"}}))
    _events_until(h, lambda e: e.get("agent") == "pi" and e.get("status") == "running", "the pi session")

    thread = home / ".local" / "share" / "amp" / "threads" / "T-0000aaaa-0000-4000-8000-000000000001.json"
    os.makedirs(thread.parent)
    tmp = thread.parent / ".tmp-write"
    with open(tmp, "w") as f:
        json.dump({"v": 1, "id": "T-0000aaaa-0000-4000-8000-000000000001", "created": 0,
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "amp it"}]}]}, f)
    os.replace(tmp, thread)                                   # rewritten whole, by rename
    _events_until(h, lambda e: e.get("agent") == "amp" and e.get("status") == "running", "the amp thread")
    assert h.svc.file_scans == scans
