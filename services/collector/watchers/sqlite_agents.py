"""OpenCode's and Kilo's SQLite databases → evidence (AGENTS.md "OpenCode, Kilo").

Kilo is an OpenCode fork with the same schema; each keeps one database for all its sessions:
`session(id, title, directory, time_updated, parent_id, …)` and `message(id, session_id,
time_created, time_updated, data)`, times in epoch milliseconds, `data` the message as JSON.
A session's last message says where its turn is: user → running; assistant with no `finish`
yet → running; finish `tool-calls` → tool-running, `stop` → done, `error` → error; an error
named `MessageAbortedError` → interrupted.

Checked against OpenCode's source (session.sql.ts, message-v2.ts, the prompt loop), not against
a real database: there is no fixture for either agent yet.
"""
from __future__ import annotations

import os
import re
import sqlite3
import stat
from typing import Callable
from urllib.parse import quote

import orjson

from services.collector.watchers.evidence import clean_dir, clean_id, clean_name, evidence
from services.collector.watchers.timeparse import number_to_epoch

# OpenCode names a session this way until the model has titled it: a placeholder, not a name
_PLACEHOLDER_TITLE = re.compile(r"^(New|Child) session - \d{4}-\d{2}-\d{2}T")
# the prompt loop goes on after these finishes; every other finish ends the turn
_LOOP_GOES_ON = {"tool-calls": "tool-running", "unknown": "running"}


# -- pure ------------------------------------------------------------------------------------

def message_status(msg: object) -> str | None:
    """The state a session is in when `msg` (a decoded `message.data`) is its last message."""
    if not isinstance(msg, dict):
        return None
    role = msg.get("role")
    if role == "user":
        return "running"
    if role != "assistant":
        return None
    error = msg.get("error")
    if error:   # an aborted or failed step may still carry the finish of the step before
        return "interrupted" if isinstance(error, dict) and error.get("name") == "MessageAbortedError" else "error"
    finish = msg.get("finish")
    if finish is None:
        return "running"     # finish is written when the step ends; until then it streams
    if not isinstance(finish, str):
        return None
    if finish == "error":
        return "error"
    return _LOOP_GOES_ON.get(finish, "done")


def _message_at(msg: object, created: object) -> float | None:
    times = msg.get("time") if isinstance(msg, dict) else None
    if isinstance(times, dict):
        at = number_to_epoch(times.get("completed")) or number_to_epoch(times.get("created"))
        if at:
            return at
    return number_to_epoch(created)


def session_event(agent: str, session_id: object, title: object, directory: object, updated: object,
                  last_message: object, last_created: object) -> dict | None:
    """One session row and its last message (None if it has none) → evidence, or None."""
    tid = clean_id(session_id)
    if tid is None:
        return None
    name = clean_name(title)
    if name is not None and _PLACEHOLDER_TITLE.match(name):
        name = None
    at = (_message_at(last_message, last_created) if last_message is not None else None) or number_to_epoch(updated)
    status = message_status(last_message) if last_message is not None else None
    return evidence(agent, tid, at, status, clean_dir(directory), name, 2)


# -- paths -----------------------------------------------------------------------------------

def _data_home() -> str:
    # both agents put their data under the XDG data dir (xdg-basedir), ~/.local/share by default
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")


def opencode_db_path() -> str:
    return os.environ.get("OPENCODE_DB_PATH") or os.path.join(_data_home(), "opencode", "opencode.db")


def kilo_db_path() -> str:
    return os.environ.get("KILO_DB_PATH") or os.path.join(_data_home(), "kilo", "kilo.db")


# -- reading the database --------------------------------------------------------------------

SESSION_NEEDS = {"id", "time_updated"}
MESSAGE_NEEDS = {"session_id", "data", "time_created"}
BUSY_TIMEOUT = 0.2   # the collector's cycle must not wait on the agent's write transaction
# mtimes move in coarse ticks: a commit landing in the same tick as our read leaves the
# signature as it was, so files changed this recently are read again at the next scan
SETTLE = 2.0
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def _file_signature(path: str) -> tuple[tuple, float] | None:
    """What changes when a commit lands (the db file and, in WAL mode, its -wal file), and
    when the newer of the two last changed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    newest = st.st_mtime
    try:
        wal = os.stat(path + "-wal")
        wal_sig = (wal.st_ino, wal.st_size, wal.st_mtime_ns)
        newest = max(newest, wal.st_mtime)
    except OSError:
        wal_sig = None
    return (path, st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, wal_sig), newest


def _is_busy(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
    return "locked" in str(e) or "busy" in str(e)


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _decode(data: object) -> object:
    if not isinstance(data, (str, bytes)):
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


class SqliteAgentWatcher:
    """One agent's database, read only when a commit changed it and only for sessions that may
    have moved: those updated since the newest `time_updated` seen (on the first read: within
    `recent`), plus those reported within `recent`, because OpenCode bumps a session's
    `time_updated` when a prompt starts but not when an assistant step finishes.

    Read-only, and a new connection per read: nothing is held open between scans, so the agent
    never waits on us and a replaced database file is simply opened anew. A read-only
    connection sees committed data (WAL or not); an open write transaction is invisible, or
    in rollback-journal mode makes the read fail with `database is locked`, which is retried
    at the next scan."""

    def __init__(self, agent: str, db_path: Callable[[], str], recent: float = 1800.0, max_sessions: int = 200):
        self.agent, self.db_path = agent, db_path
        self.recent, self.max_sessions = recent, max_sessions
        self.watermark: float | None = None        # newest session.time_updated seen, agent's units
        self.followed: dict[str, float] = {}       # session id → wall time its evidence last changed
        self.reported: dict[str, tuple] = {}       # session id → what was last reported for it
        self._signature: tuple | None = None
        self.reads = self.locked = self.unreadable = self.schema_skips = self.bad_rows = 0

    def scan(self, mono_now: float, wall_now: float) -> list[dict]:
        path = self.db_path()
        found = _file_signature(path)
        if found is None:          # no database: the agent is not installed or not used yet
            self._signature = None
            return []
        sig, changed_at = found
        if sig == self._signature:
            return []
        if not stat.S_ISREG(sig[1]):
            self.unreadable += 1
            self._signature = sig
            return []
        try:
            events = self._read(path, wall_now)
        except sqlite3.OperationalError as e:
            if _is_busy(e):
                self.locked += 1   # signature kept stale on purpose: the next scan tries again
                return []
            self.unreadable += 1
            events = []
        except sqlite3.Error:      # not a database, or corrupt: wait until the file changes
            self.unreadable += 1
            events = []
        self._signature = sig if wall_now - changed_at >= SETTLE else None
        return events

    def _read(self, path: str, wall_now: float) -> list[dict]:
        self.reads += 1
        con = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        try:
            return self._query(con, os.path.realpath(path), wall_now)
        finally:
            con.close()

    def _query(self, con: sqlite3.Connection, real_path: str, wall_now: float) -> list[dict]:
        session_cols, message_cols = _columns(con, "session"), _columns(con, "message")
        if SESSION_NEEDS - session_cols or MESSAGE_NEEDS - message_cols:
            self.schema_skips += 1
            return []
        since = self.watermark if self.watermark is not None else (wall_now - self.recent) * 1000.0
        title = "title" if "title" in session_cols else "NULL"
        directory = "directory" if "directory" in session_cols else "NULL"
        select = f"SELECT id, {title}, {directory}, time_updated FROM session"
        # child sessions are subagents working for a parent session, not threads of their own
        top_level = " AND parent_id IS NULL" if "parent_id" in session_cols else ""
        rows = con.execute(f"{select} WHERE time_updated >= ?{top_level} ORDER BY time_updated DESC LIMIT ?",
                           (since, self.max_sessions)).fetchall()
        seen = {row[0] for row in rows}
        followed = [sid for sid in self.followed if sid not in seen]
        if followed:
            rows += con.execute(f"{select} WHERE id IN ({','.join('?' * len(followed))})", followed).fetchall()
        order = "time_created DESC, id DESC" if "id" in message_cols else "time_created DESC"
        last_sql = f"SELECT data, time_created FROM message WHERE session_id = ? ORDER BY {order} LIMIT 1"
        newest = since
        out = []
        for sid, title_v, dir_v, updated in rows:
            if isinstance(updated, (int, float)) and not isinstance(updated, bool):
                newest = max(newest, updated)
            last = con.execute(last_sql, (sid,)).fetchone()
            message = None
            if last is not None:
                message = _decode(last[0])
                if message is None:
                    self.bad_rows += 1
            ev = session_event(self.agent, sid, title_v, dir_v, updated, message, last[1] if last else None)
            if ev is None:
                self.bad_rows += 1
                continue
            key = (ev.get("status"), ev.get("thread_name"), ev.get("dir"), ev.get("at"))
            if self.reported.get(sid) == key:
                continue
            self.reported[sid] = key
            self.followed[sid] = wall_now
            ev["_path"] = real_path
            out.append(ev)
        self.watermark = newest
        self._forget_old(wall_now)
        return out

    def _forget_old(self, wall_now: float) -> None:
        quiet = [sid for sid, t in self.followed.items() if wall_now - t > self.recent]
        by_age = sorted(self.followed, key=self.followed.get)
        quiet += by_age[:max(0, len(by_age) - self.max_sessions)]
        for sid in quiet:
            self.followed.pop(sid, None)
            self.reported.pop(sid, None)

    def stats(self) -> dict:
        return {"followed": len(self.followed), "reads": self.reads, "locked": self.locked,
                "unreadable": self.unreadable, "schema_skips": self.schema_skips, "bad_rows": self.bad_rows}
