"""services/collector/watchers/sqlite_agents.py: OpenCode / Kilo databases, read-only and incremental.

Real SQLite files in tmp_path, written by a second connection the way OpenCode writes them
(session row touched on each prompt, one `message` row per message with JSON `data`).
"""
from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from services.collector.agent_files import AgentFiles
from services.collector.watchers.sqlite_agents import (SqliteAgentWatcher, kilo_db_path, message_status,
                                                      opencode_db_path, session_event)
from services.protocol import validate_event

SCHEMA = """
CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL DEFAULT 'p', parent_id TEXT,
  slug TEXT NOT NULL DEFAULT 's', directory TEXT NOT NULL, title TEXT NOT NULL, version TEXT NOT NULL DEFAULT '1',
  time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL);
CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, time_created INTEGER NOT NULL,
  time_updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX message_session_time_created_id_idx ON message (session_id, time_created, id);
"""


def ms(t: float) -> int:
    return int(t * 1000)


class FakeOpenCode:
    """Writes an OpenCode-shaped database from its own connection, as the agent would."""

    def __init__(self, path: str, schema: str = SCHEMA):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.executescript(schema)
        self.n = 0

    def session(self, sid: str, at: float, title: str = "Fix the flaky build", directory: str = "/work/proj",
                parent: str | None = None) -> None:
        self.con.execute("INSERT INTO session (id, parent_id, directory, title, time_created, time_updated)"
                         " VALUES (?, ?, ?, ?, ?, ?)", (sid, parent, directory, title, ms(at), ms(at)))

    def touch(self, sid: str, at: float, title: str | None = None) -> None:
        if title is not None:
            self.con.execute("UPDATE session SET title = ? WHERE id = ?", (title, sid))
        self.con.execute("UPDATE session SET time_updated = ? WHERE id = ?", (ms(at), sid))

    def message(self, sid: str, at: float, data: dict | str) -> str:
        self.n += 1
        mid = f"msg_{self.n:06d}"
        raw = data if isinstance(data, str) else _json(data)
        self.con.execute("INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?,?,?,?,?)",
                         (mid, sid, ms(at), ms(at), raw))
        return mid

    def update(self, mid: str, at: float, data: dict) -> None:
        self.con.execute("UPDATE message SET data = ?, time_updated = ? WHERE id = ?", (_json(data), ms(at), mid))

    def prompt(self, sid: str, at: float) -> str:
        """A user prompt: OpenCode touches the session, then stores the message."""
        self.touch(sid, at)
        return self.message(sid, at, user(at))


def _json(obj: dict) -> str:
    return json.dumps(obj)


def user(at: float) -> dict:
    return {"role": "user", "time": {"created": ms(at)}, "agent": "build", "model": {"providerID": "x", "modelID": "y"}}


def assistant(at: float, finish: str | None = None, error: dict | None = None, done: bool = True) -> dict:
    d: dict = {"role": "assistant", "time": {"created": ms(at)}, "modelID": "y", "providerID": "x", "mode": "build"}
    if done:
        d["time"]["completed"] = ms(at) + 500
    if finish is not None:
        d["finish"] = finish
    if error is not None:
        d["error"] = error
    return d


@pytest.fixture
def db(home):
    return FakeOpenCode(opencode_db_path())


def watcher(agent: str = "opencode") -> SqliteAgentWatcher:
    return SqliteAgentWatcher(agent, opencode_db_path if agent == "opencode" else kilo_db_path)


def scan(w: SqliteAgentWatcher, now: float | None = None) -> list[dict]:
    return w.scan(time.monotonic(), time.time() if now is None else now)


# -- pure ------------------------------------------------------------------------------------

@pytest.mark.parametrize("msg,status", [
    (user(0), "running"),
    (assistant(0, done=False), "running"),
    (assistant(0, "tool-calls"), "tool-running"),
    (assistant(0, "stop"), "done"),
    (assistant(0, "length"), "done"),
    (assistant(0, "unknown"), "running"),
    (assistant(0, "error"), "error"),
    (assistant(0, error={"name": "APIError", "data": {"message": "overloaded"}}), "error"),
    (assistant(0, "stop", error={"name": "MessageAbortedError", "data": {"message": "aborted"}}), "interrupted"),
    (assistant(0, error={"name": "MessageAbortedError", "data": {}}), "interrupted"),
    ({"role": "system"}, None),
    ({"role": "assistant", "finish": 3}, None),
    ([], None),
    ("user", None),
])
def test_message_status(msg, status):
    assert message_status(msg) == status


def test_session_event_fields():
    now = 1_700_000_000.0
    ev = session_event("kilo", "ses_abc", "Refactor the parser", "/w/p", ms(now), assistant(now, "stop"), ms(now))
    assert ev == {"agent": "kilo", "source": "transcript", "thread_id": "ses_abc", "status": "done",
                  "dir": "/w/p", "thread_name": "Refactor the parser", "name_rank": 2, "at": now + 0.5}
    validate_event(ev)


def test_session_event_drops_placeholder_titles_and_bad_values():
    placeholder = "New session - 2025-01-02T03:04:05.000Z"
    ev = session_event("opencode", "ses_x", placeholder, "/w\n", 1_700_000_000_000, None, None)
    assert "thread_name" not in ev and "dir" not in ev and "status" not in ev and ev["at"] == 1_700_000_000.0
    assert session_event("opencode", "ses\x07bad", "t", "/w", 1, None, None) is None
    assert session_event("opencode", 42, "t", "/w", 1, None, None) is None


# -- reading a real database -----------------------------------------------------------------

def test_each_message_kind_gives_its_status(db):
    now = time.time()
    w = watcher()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    [ev] = scan(w)
    assert (ev["agent"], ev["thread_id"], ev["status"], ev["thread_name"], ev["name_rank"], ev["dir"]) == \
        ("opencode", "ses_1", "running", "Fix the flaky build", 2, "/work/proj")
    assert ev["_path"] == os.path.realpath(db.path)
    validate_event({k: v for k, v in ev.items() if k != "_path"})
    mid = db.message("ses_1", now + 1, assistant(now + 1, done=False))
    assert [e["status"] for e in scan(w)] == ["running"]      # a new, still streaming step
    db.update(mid, now + 2, assistant(now + 1, "tool-calls"))
    assert [e["status"] for e in scan(w)] == ["tool-running"]  # session row untouched: followed anyway
    db.message("ses_1", now + 3, assistant(now + 3, "stop"))
    assert [e["status"] for e in scan(w)] == ["done"]
    db.prompt("ses_1", now + 4)
    db.message("ses_1", now + 5, assistant(now + 5, error={"name": "MessageAbortedError", "data": {}}))
    assert [e["status"] for e in scan(w)] == ["interrupted"]
    db.prompt("ses_1", now + 6)
    db.message("ses_1", now + 7, assistant(now + 7, "error"))
    assert [e["status"] for e in scan(w)] == ["error"]


def test_no_change_no_evidence_and_only_new_rows_after(db):
    now = time.time()
    w = watcher()
    for i in range(3):
        db.session(f"ses_{i}", now)
        db.prompt(f"ses_{i}", now)
    assert sorted(e["thread_id"] for e in scan(w)) == ["ses_0", "ses_1", "ses_2"]
    assert scan(w) == []
    assert scan(w) == []
    db.message("ses_1", now + 1, assistant(now + 1, "stop"))
    [ev] = scan(w)
    assert (ev["thread_id"], ev["status"]) == ("ses_1", "done")
    db.touch("ses_2", now + 2, title="Speed up the importer")
    [ev] = scan(w)
    assert (ev["thread_id"], ev["thread_name"], ev["status"]) == ("ses_2", "Speed up the importer", "running")
    assert scan(w) == []


def test_unchanged_settled_file_is_not_even_opened(db):
    now = time.time()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    w = watcher()
    later = now + 60      # as if scanned a minute later: the files have settled
    assert len(scan(w, later)) == 1
    reads = w.reads
    assert scan(w, later + 1) == [] and scan(w, later + 2) == []
    assert w.reads == reads
    db.message("ses_1", now + 1, assistant(now + 1, "stop"))
    assert [e["status"] for e in scan(w, later + 3)] == ["done"]


def test_first_scan_of_a_long_history_reports_only_the_final_state(db):
    now = time.time()
    db.session("ses_long", now - 600)
    t = now - 600
    for _ in range(200):
        db.prompt("ses_long", t)
        db.message("ses_long", t + 1, assistant(t + 1, "tool-calls"))
        db.message("ses_long", t + 2, assistant(t + 2, "stop"))
        t += 3
    [ev] = scan(watcher())
    assert (ev["thread_id"], ev["status"]) == ("ses_long", "done")


def test_sessions_outside_the_recent_window_are_not_reported(db):
    now = time.time()
    db.session("ses_old", now - 7200)
    db.message("ses_old", now - 7200, user(now - 7200))
    db.session("ses_new", now - 60)
    db.message("ses_new", now - 60, user(now - 60))
    assert [e["thread_id"] for e in scan(watcher())] == ["ses_new"]


def test_child_sessions_are_subagents_not_threads(db):
    now = time.time()
    db.session("ses_parent", now)
    db.session("ses_child", now, title="Explore the codebase (@general subagent)", parent="ses_parent")
    db.prompt("ses_child", now)
    assert [e["thread_id"] for e in scan(watcher())] == ["ses_parent"]


def test_quiet_sessions_are_forgotten_after_the_window(db):
    now = time.time()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    w = watcher()
    assert len(scan(w)) == 1
    db.session("ses_2", now + 3600)
    db.prompt("ses_2", now + 3600)
    assert [e["thread_id"] for e in scan(w, now + 3600)] == ["ses_2"]
    assert "ses_1" not in w.followed


def test_garbage_message_data_is_counted_not_raised(db):
    now = time.time()
    db.session("ses_1", now)
    db.touch("ses_1", now)
    db.message("ses_1", now, "{not json")
    db.session("ses_2", now)
    db.message("ses_2", now, _json(assistant(now, "stop")))
    w = watcher()
    events = {e["thread_id"]: e for e in scan(w)}
    assert "status" not in events["ses_1"] and events["ses_2"]["status"] == "done"
    assert w.bad_rows == 1


def test_locked_database_is_retried_not_raised(db):
    now = time.time()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    w = watcher()
    db.con.execute("BEGIN EXCLUSIVE")
    db.con.execute("UPDATE session SET title = 'half written' WHERE id = 'ses_1'")
    assert scan(w) == []
    assert w.locked == 1
    db.con.execute("COMMIT")
    [ev] = scan(w)
    assert (ev["thread_name"], ev["status"]) == ("half written", "running")


def test_locked_wal_database_still_shows_committed_data(home):
    db = FakeOpenCode(opencode_db_path())
    db.con.execute("PRAGMA journal_mode=WAL")
    now = time.time()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    w = watcher()
    db.con.execute("BEGIN IMMEDIATE")
    db.con.execute("UPDATE session SET title = 'uncommitted' WHERE id = 'ses_1'")
    [ev] = scan(w)
    assert (ev["thread_name"], ev["status"]) == ("Fix the flaky build", "running")
    db.con.execute("COMMIT")
    [ev] = scan(w)
    assert ev["thread_name"] == "uncommitted"


def test_corrupt_database_file_is_counted_not_raised(home):
    path = opencode_db_path()
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(os.urandom(8192))
    w = watcher()
    assert scan(w) == []
    assert w.unreadable >= 1
    os.remove(path)
    db = FakeOpenCode(path)
    now = time.time()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    assert [e["thread_id"] for e in scan(w)] == ["ses_1"]


def test_missing_database_directory_instead_and_empty_file(home):
    w = watcher()
    assert scan(w) == [] and w.unreadable == 0       # not installed: nothing to count
    os.makedirs(opencode_db_path())                  # a directory where the file should be
    assert scan(w) == [] and w.unreadable == 1
    assert scan(w) == [] and w.unreadable == 1       # counted once, not every scan
    os.rmdir(opencode_db_path())
    open(opencode_db_path(), "wb").close()           # an empty file is an empty database
    assert scan(w) == [] and w.schema_skips >= 1


@pytest.mark.parametrize("schema", [
    "CREATE TABLE session (id TEXT, title TEXT, directory TEXT, time_updated INTEGER);",
    "CREATE TABLE session (id TEXT, title TEXT, directory TEXT);"
    "CREATE TABLE message (session_id TEXT, data TEXT, time_created INTEGER);",
    "CREATE TABLE session (id TEXT, time_updated INTEGER);"
    "CREATE TABLE message (session_id TEXT, data TEXT);",
])
def test_schema_drift_missing_tables_or_columns_is_skipped_and_counted(home, schema):
    FakeOpenCode(opencode_db_path(), schema)
    w = watcher()
    assert scan(w) == []
    assert w.schema_skips == 1


def test_minimal_schema_from_the_notes_is_enough(home):
    db = FakeOpenCode(opencode_db_path(),
                      "CREATE TABLE session (id TEXT, title TEXT, directory TEXT, time_updated INTEGER);"
                      "CREATE TABLE message (session_id TEXT, data TEXT, time_created INTEGER);")
    now = time.time()
    db.con.execute("INSERT INTO session VALUES ('ses_1', 'Port the CLI', '/w', ?)", (ms(now),))
    db.con.execute("INSERT INTO message VALUES ('ses_1', ?, ?)", (_json(user(now)), ms(now)))
    db.con.execute("INSERT INTO message VALUES ('ses_1', ?, ?)", (_json(assistant(now + 1, "tool-calls")), ms(now + 1)))
    [ev] = scan(watcher())
    assert (ev["thread_id"], ev["status"], ev["thread_name"]) == ("ses_1", "tool-running", "Port the CLI")


def test_env_overrides_and_kilo(home, monkeypatch, tmp_path):
    custom = tmp_path / "elsewhere" / "oc.db"
    monkeypatch.setenv("OPENCODE_DB_PATH", str(custom))
    assert opencode_db_path() == str(custom)
    assert kilo_db_path() == str(home / ".local" / "share" / "kilo" / "kilo.db")
    db = FakeOpenCode(kilo_db_path())
    now = time.time()
    db.session("ses_k", now)
    db.prompt("ses_k", now)
    [ev] = scan(watcher("kilo"))
    assert (ev["agent"], ev["thread_id"]) == ("kilo", "ses_k")


def test_registered_in_agent_files(db):
    now = time.time()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    files = AgentFiles()
    events = files.scan(time.monotonic(), now, {4242: "%3"}, {os.path.realpath(db.path): 4242})
    [ev] = [e for e in events if e["agent"] == "opencode"]
    assert (ev["pid"], ev["pane"]) == (4242, "%3") and "_path" not in ev
    validate_event(ev)


def test_commit_within_the_same_mtime_tick_is_not_missed(db):
    now = time.time()
    db.session("ses_1", now)
    db.prompt("ses_1", now)
    st = os.stat(db.path)
    w = watcher()
    assert [e["status"] for e in scan(w, now + 1)] == ["running"]
    db.message("ses_1", now + 1, assistant(now + 1, "stop"))
    os.utime(db.path, ns=(st.st_atime_ns, st.st_mtime_ns))   # the coarse clock has not moved on
    assert os.stat(db.path).st_size == st.st_size             # and the row fit in a page it had
    assert [e["status"] for e in scan(w, now + 1.5)] == ["done"]
    assert scan(w, now + 60) == []
