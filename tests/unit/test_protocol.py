"""services/protocol.py: every message type, every kind of bad input, and the reply helpers."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import given, strategies as st

from services import protocol as P

from ._builders import FEW, PROPS, pane_row

TABLES = {
    "COMMANDS": P.COMMANDS,
    "OBSERVATIONS": P.OBSERVATIONS,
    "SNAPSHOT_IN": P.SNAPSHOT_IN,
    "SYNC_REQUESTS": P.SYNC_REQUESTS,
    "PUBLISHED": P.PUBLISHED,
    "REPLY": P.REPLY,
}
ALL_TYPES = sorted({t for table in TABLES.values() for t in table})
TABLE_OF = {t: name for name, table in TABLES.items() for t in table}   # one table per type

# A full, valid example of every message type (optional fields included).
FULL = {
    "ping": {}, "ls": {}, "stats": {}, "unhide_all": {}, "get_snapshot": {},
    "switch": {"target": "2", "client": "/dev/pts/3", "pane": "%12"},
    "reorder": {"name": "work", "direction": "up"},
    "hide": {"name": "work", "client": "/dev/pts/3", "pane": "%1"},
    "kill": {"name": "my project", "client": "/dev/pts/4", "pane": "%7"},
    "new": {"name": "fresh", "dir": "/tmp/x y", "switch": True, "client": "/dev/pts/1", "pane": "%3"},
    "set_setting": {"key": "theme", "value": "nord"},
    "highlight": {"client": "/dev/pts/3", "session": "work"},
    "event": {"agent": "claude-code", "source": "hook", "status": "waiting", "thread_id": "4cb675c0-8684",
              "thread_name": "create hi.txt\nsecond line", "name_rank": 1, "pane": "%0", "session": "agent",
              "dir": "/home/dev/proj", "pid": 6775, "at": 1795818328.02, "keeps_waiting": False, "ends": False,
              "hook": "PermissionRequest"},
    "set_status": {"session": "work", "text": "deploying", "tone": "warn"},
    "set_progress": {"session": "work", "clear": False, "current": 3, "total": 10, "percent": 30.0,
                     "label": "tests"},
    "log": {"session": "work", "message": "build ok", "tone": "success", "source": "ci"},
    "clear_log": {"session": "work"},
    "notify": {"session": "work", "message": "deploy finished", "tone": "info"},
    "seen": {"session": "work"},
    "screen_candidates": {},
    "sidebars": {"action": "toggle", "client": "/dev/pts/2", "pane": "%4"},
    "obs.tmux": {"panes": [pane_row("%1", "$1", "main")], "clients": []},
    "obs.tmux_down": {"reason": "server exited unexpectedly"},
    "obs.agents": {"panes": {"%1": [{"agent": "codex", "pid": 7}]}, "at": 12.5},
    "obs.ports": {"sessions": {"$1": [3000, 5173]}},
    "obs.git": {"dirs": {"/x": {"branch": "main", "dirty": False}}},
    "obs.events": {"events": [{"agent": "codex", "source": "transcript", "status": "running", "thread_id": "t1"}]},
    "state.snapshot": {"snapshot": {"ts": 1.0, "sessions": []}},
    "snapshot": {"seq": 3, "epoch": "ab12cd34", "snapshot": {"sessions": []}},
    "heartbeat": {"seq": 3, "epoch": "ab12cd34"},
    "reply": {"ok": True, "result": {"x": 1}},
}

# The smallest valid message of every type: exactly its required fields.
MINIMAL = {
    "ping": {}, "ls": {}, "stats": {}, "unhide_all": {}, "get_snapshot": {},
    "switch": {"target": "next"},
    "reorder": {"name": "w", "direction": "down"},
    "hide": {"name": "w"},
    "kill": {"name": "w"},
    "new": {},
    "set_setting": {"key": "width", "value": 30},
    "highlight": {"client": "/dev/pts/3", "session": "w"},
    "event": {"agent": "codex", "source": "hook"},
    "set_status": {"session": "w"},                      # no text: clear the status
    "set_progress": {"session": "w"},
    "log": {"session": "w", "message": "m"},
    "clear_log": {"session": "w"},
    "notify": {"session": "w", "message": "m"},
    "seen": {"session": "w"},
    "screen_candidates": {},
    "sidebars": {"action": "off"},
    "obs.tmux": {"panes": [], "clients": []},
    "obs.tmux_down": {"reason": ""},
    "obs.agents": {"panes": {}, "at": 0},
    "obs.ports": {"sessions": {}},
    "obs.git": {"dirs": {}},
    "obs.events": {"events": []},
    "state.snapshot": {"snapshot": {}},
    "snapshot": {"seq": 0, "epoch": "e", "snapshot": None},
    "heartbeat": {"seq": 0, "epoch": "e"},
    "reply": {"ok": False},
}

# Name-like fields: a tmux name, target, tty, pane id or dir; no control characters.
NAME_FIELDS = [("switch", "target"), ("switch", "client"), ("switch", "pane"),
               ("reorder", "name"), ("hide", "name"), ("hide", "client"), ("hide", "pane"),
               ("kill", "name"), ("kill", "client"), ("kill", "pane"),
               ("new", "name"), ("new", "dir"), ("new", "client"), ("new", "pane"),
               ("highlight", "client"), ("highlight", "session"),
               ("event", "thread_id"), ("event", "pane"), ("event", "session"), ("event", "dir"),
               ("set_status", "session"), ("set_progress", "session"), ("log", "session"),
               ("clear_log", "session"), ("notify", "session"), ("seen", "session")]

# (type, field, longest accepted length)
LENGTH_LIMITS = [("switch", "target", 256), ("switch", "client", 256), ("switch", "pane", 32),
                 ("reorder", "name", 256), ("hide", "name", 256), ("hide", "pane", 32),
                 ("kill", "name", 256), ("kill", "client", 256),
                 ("new", "name", 256), ("new", "dir", 4096), ("new", "pane", 32),
                 ("obs.tmux_down", "reason", 1000),
                 # DESIGN §3 metadata limits
                 ("set_status", "text", 100), ("set_progress", "label", 100), ("log", "message", 500),
                 ("notify", "message", 500), ("log", "source", 64), ("set_status", "session", 256),
                 ("event", "thread_id", 256), ("event", "thread_name", 2000), ("event", "pane", 32),
                 ("event", "session", 256), ("event", "dir", 4096), ("event", "hook", 64)]

# (type, field, a value of the wrong kind or outside the choices)
WRONG_VALUES = [
    ("switch", "target", 2), ("switch", "target", None), ("switch", "target", ["a"]),
    ("switch", "target", {"a": 1}), ("switch", "target", True), ("switch", "target", 1.5),
    ("switch", "client", 5), ("switch", "client", True), ("switch", "client", ["x"]),
    ("switch", "pane", 12), ("switch", "pane", {"id": "%1"}),
    ("reorder", "name", 3), ("reorder", "direction", "left"), ("reorder", "direction", "UP"),
    ("reorder", "direction", ""), ("reorder", "direction", 1), ("reorder", "direction", None),
    ("hide", "name", None), ("kill", "name", ["a"]),
    ("new", "switch", 1), ("new", "switch", "yes"), ("new", "switch", 0), ("new", "name", 7),
    ("new", "dir", ["/tmp"]),
    ("set_setting", "key", "colour"), ("set_setting", "key", ""), ("set_setting", "key", 1),
    ("set_setting", "value", None), ("set_setting", "value", ["x"]), ("set_setting", "value", True),
    ("highlight", "client", None), ("highlight", "session", 3), ("highlight", "session", "a\nb"),
    ("obs.tmux", "panes", {}), ("obs.tmux", "panes", "x"), ("obs.tmux", "clients", None),
    ("obs.tmux_down", "reason", 1), ("obs.tmux_down", "reason", None),
    ("obs.agents", "at", "12"), ("obs.agents", "at", True), ("obs.agents", "at", None),
    ("obs.agents", "panes", []),
    ("obs.ports", "sessions", []), ("obs.git", "dirs", "x"),
    ("state.snapshot", "snapshot", []), ("state.snapshot", "snapshot", None),
    ("state.snapshot", "snapshot", "{}"),
    ("snapshot", "seq", True), ("snapshot", "seq", False), ("snapshot", "seq", 1.5),
    ("snapshot", "seq", "3"), ("snapshot", "seq", None), ("snapshot", "epoch", 3),
    ("snapshot", "snapshot", []), ("snapshot", "snapshot", "x"),
    ("heartbeat", "seq", False), ("heartbeat", "seq", "1"), ("heartbeat", "epoch", None),
    ("reply", "ok", 1), ("reply", "ok", "true"), ("reply", "ok", None),
    ("reply", "error", "oops"),
    ("reply", "error", []),
    # agent evidence: the vocabulary is closed
    ("event", "agent", "cursor"), ("event", "agent", "Claude-Code"), ("event", "agent", None),
    ("event", "source", "guess"), ("event", "source", None), ("event", "status", "busy"),
    ("event", "status", "Running"), ("event", "status", 3), ("event", "thread_id", 5),
    ("event", "name_rank", 1.5), ("event", "name_rank", True), ("event", "name_rank", "3"),
    ("event", "pid", "12"), ("event", "pid", True), ("event", "pid", 1.5), ("event", "at", "now"),
    ("event", "at", True), ("event", "at", None), ("event", "keeps_waiting", 1), ("event", "ends", "yes"),
    ("event", "ends", None), ("event", "thread_name", 7), ("event", "hook", ["Stop"]),
    # session metadata
    ("set_status", "tone", "loud"), ("set_status", "tone", "ERROR"), ("set_status", "tone", "warning"),
    ("set_status", "text", 5), ("set_status", "session", None),
    ("set_progress", "current", "3"), ("set_progress", "total", True), ("set_progress", "percent", None),
    ("set_progress", "clear", 1), ("set_progress", "label", 5),
    ("log", "message", None), ("log", "tone", "fatal"), ("log", "source", 3),
    ("notify", "message", ["x"]), ("notify", "tone", ""), ("seen", "session", ["w"]), ("clear_log", "session", None),
    ("obs.events", "events", {}), ("obs.events", "events", None), ("obs.events", "events", "[]"),
]


def frame(mtype: str, **fields) -> bytes:
    return orjson.dumps({"v": P.VERSION, "type": mtype, **fields})


def table_for(mtype: str) -> dict:
    return TABLES[TABLE_OF[mtype]]


def code_of(excinfo) -> str:
    return excinfo.value.code


# -- coverage of the examples themselves ------------------------------------------------------

def test_examples_cover_every_message_type():
    assert set(FULL) == set(ALL_TYPES)
    assert set(MINIMAL) == set(ALL_TYPES)


def test_every_table_is_a_subset_of_what_encode_accepts():
    # encode() validates against all tables; anything a receiver accepts a sender can build
    for table in TABLES.values():
        for mtype in table:
            assert mtype in P._ALL


def test_shared_types_have_the_same_shape_everywhere():
    # ping/stats are both commands (state) and sync requests (publisher)
    for mtype in set(P.COMMANDS) & set(P.SYNC_REQUESTS):
        assert P.COMMANDS[mtype] == P.SYNC_REQUESTS[mtype]


# -- valid messages ---------------------------------------------------------------------------

@pytest.mark.parametrize("table_name,mtype",
                         [(name, t) for name, table in TABLES.items() for t in table])
@pytest.mark.parametrize("examples", [FULL, MINIMAL], ids=["full", "minimal"])
def test_valid_message_decodes_in_its_table(table_name, mtype, examples):
    fields = examples[mtype]
    msg = P.decode(frame(mtype, **fields), TABLES[table_name], max_bytes=P.MAX_SNAPSHOT_BYTES)
    assert msg == {"v": P.VERSION, "type": mtype, **fields}


@pytest.mark.parametrize("mtype", ALL_TYPES)
def test_encode_then_decode_round_trips(mtype):
    fields = FULL[mtype]
    data = P.encode(mtype, **fields)
    assert isinstance(data, bytes)
    assert P.decode(data, table_for(mtype), max_bytes=P.MAX_SNAPSHOT_BYTES) == \
        {"v": P.VERSION, "type": mtype, **fields}


def test_extra_fields_are_tolerated():
    msg = P.decode(frame("switch", target="1", future_field=[1, 2]), P.COMMANDS)
    assert msg["target"] == "1"


@pytest.mark.parametrize("name", ["my session", "it's", '"quoted"', "$HOME", "a;b", "#{x}", "-lead",
                                  "a.b:c", "%1", "back\\slash", "日本語", "emoji 🎉", "tab-less ~"])
def test_printable_names_are_accepted(name):
    assert P.decode(frame("switch", target=name), P.COMMANDS)["target"] == name
    assert P.decode(frame("kill", name=name), P.COMMANDS)["name"] == name


def test_optional_fields_may_be_null():
    msg = P.decode(frame("switch", target="x", client=None, pane=None), P.COMMANDS)
    assert msg["client"] is None and msg["pane"] is None
    msg = P.decode(frame("new", name=None, dir=None), P.COMMANDS)
    assert msg["name"] is None


def test_observation_time_may_be_int_or_float():
    for at in (0, 17, 1.7e9, 12.25):
        assert P.decode(frame("obs.agents", panes={}, at=at), P.OBSERVATIONS)["at"] == at


# -- bad input: bytes and JSON ----------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"", b" ", b"\x00", b"{", b"}", b"not json", b"{'v': 1}", b'{"v":1,"type":"ping"',
    b'{"v":1,"type":"ping"} trailing', b'{"v": NaN}', b'{"v": 1,}', b"\xff\xfe\xfd",
    b'{"v":1,"type":"\xff"}', b'{"v":1,"type":"ping","x":"\xc3\x28"}', b"\xef\xbb\xbf{}" + b"\x80",
])
def test_garbage_is_bad_json(data):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(data, P.COMMANDS)
    assert code_of(e) == P.BAD_JSON
    assert isinstance(e.value.message, str) and e.value.message


@pytest.mark.parametrize("data", [b"[" * 5000, b'{"a":' * 5000, b'{"v":1,"type":"ping","x":' + b"[" * 3000])
def test_deeply_nested_json_is_bad_json_not_a_crash(data):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(data, P.COMMANDS)
    assert code_of(e) == P.BAD_JSON


@pytest.mark.parametrize("data", [b"[]", b'[{"v":1,"type":"ping"}]', b"1", b"-3.5", b'"ping"',
                                  b"null", b"true", b"false"])
def test_non_object_json_is_bad_message(data):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(data, P.COMMANDS)
    assert code_of(e) == P.BAD_MESSAGE


def test_missing_version_is_unsupported_version():
    with pytest.raises(P.ProtocolError) as e:
        P.decode(orjson.dumps({"type": "ping"}), P.COMMANDS)
    assert code_of(e) == P.BAD_VERSION


@pytest.mark.parametrize("v", [0, 2, -1, 99, "1", None, [1], {"v": 1}, 1.5])
def test_wrong_version_is_unsupported_version(v):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(orjson.dumps({"v": v, "type": "ping"}), P.COMMANDS)
    assert code_of(e) == P.BAD_VERSION


@pytest.mark.parametrize("v", [True, False])
def test_boolean_version_is_unsupported_version(v):
    # JSON `true` is not the protocol version 1 (Python's True == 1 must not leak through)
    with pytest.raises(P.ProtocolError) as e:
        P.decode(orjson.dumps({"v": v, "type": "ping"}), P.COMMANDS)
    assert code_of(e) == P.BAD_VERSION


@pytest.mark.parametrize("msg", [{"v": 1}, {"v": 1, "type": None}, {"v": 1, "type": 1},
                                 {"v": 1, "type": ["ping"]}, {"v": 1, "type": {"t": "ping"}},
                                 {"v": 1, "type": True}])
def test_missing_or_non_string_type_is_bad_message(msg):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(orjson.dumps(msg), P.COMMANDS)
    assert code_of(e) == P.BAD_MESSAGE


@pytest.mark.parametrize("mtype", ["pong", "", "PING", "ping ", "Switch", "x" * 10000])
def test_unknown_type(mtype):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame(mtype), P.COMMANDS)
    assert code_of(e) == P.UNKNOWN_TYPE
    assert len(e.value.message) < 200      # a long type is not echoed back whole


@pytest.mark.parametrize("mtype,table", [("obs.tmux", P.COMMANDS), ("switch", P.OBSERVATIONS),
                                         ("reply", P.COMMANDS), ("snapshot", P.SYNC_REQUESTS),
                                         ("get_snapshot", P.COMMANDS), ("state.snapshot", P.PUBLISHED),
                                         ("heartbeat", P.SNAPSHOT_IN), ("ping", P.REPLY)])
def test_a_type_from_another_table_is_unknown(mtype, table):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame(mtype, **FULL[mtype]), table, max_bytes=P.MAX_SNAPSHOT_BYTES)
    assert code_of(e) == P.UNKNOWN_TYPE


@pytest.mark.parametrize("mtype,field",
                         [(t, f) for t, fields in MINIMAL.items() for f in fields])
def test_missing_required_field(mtype, field):
    fields = dict(MINIMAL[mtype])
    del fields[field]
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame(mtype, **fields), table_for(mtype))
    assert code_of(e) == P.BAD_MESSAGE
    assert field in e.value.message


@pytest.mark.parametrize("mtype,field,value", WRONG_VALUES)
def test_wrong_field_value(mtype, field, value):
    fields = {**MINIMAL[mtype], field: value}
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame(mtype, **fields), table_for(mtype))
    assert code_of(e) == P.BAD_MESSAGE
    assert field in e.value.message


@pytest.mark.parametrize("mtype,field", [("snapshot", "seq"), ("heartbeat", "seq")])
def test_bool_is_not_an_int(mtype, field):
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame(mtype, **{**MINIMAL[mtype], field: True}), P.PUBLISHED)
    assert code_of(e) == P.BAD_MESSAGE
    assert "boolean" in e.value.message


# one sample value of each JSON kind; the kind each Python type stands for
KIND_SAMPLES = [("s", str), (3, int), (2.5, float), (True, bool), (None, type(None)), ([1], list),
                ({"a": 1}, dict)]


@pytest.mark.parametrize("mtype", ALL_TYPES)
def test_every_declared_field_rejects_every_undeclared_kind(mtype):
    """Schema conformance: for each field, a value of a JSON kind the field does not declare is refused."""
    for field, spec in table_for(mtype)[mtype].items():
        for value, kind in KIND_SAMPLES:
            if kind in spec.kinds:      # bool counts as declared only where bool is listed
                continue
            fields = {**MINIMAL[mtype], field: value}
            with pytest.raises(P.ProtocolError) as e:
                P.decode(frame(mtype, **fields), table_for(mtype))
            assert code_of(e) == P.BAD_MESSAGE, (mtype, field, value)


@pytest.mark.parametrize("mtype,field,limit", LENGTH_LIMITS)
def test_length_limits(mtype, field, limit):
    table = table_for(mtype)
    ok_fields = {**MINIMAL[mtype], field: "a" * limit}
    assert P.decode(frame(mtype, **ok_fields), table, max_bytes=P.MAX_SNAPSHOT_BYTES)[field] == "a" * limit
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame(mtype, **{**ok_fields, field: "a" * (limit + 1)}), table,
                 max_bytes=P.MAX_SNAPSHOT_BYTES)
    assert code_of(e) == P.BAD_MESSAGE


CONTROL_CHARS = ["\x00", "\x01", "\x07", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f"]


@pytest.mark.parametrize("mtype,field", NAME_FIELDS)
@pytest.mark.parametrize("ch", CONTROL_CHARS, ids=[f"0x{ord(c):02x}" for c in CONTROL_CHARS])
def test_control_characters_in_names_are_refused(mtype, field, ch):
    fields = {**MINIMAL[mtype], field: f"ab{ch}c"}
    with pytest.raises(P.ProtocolError) as e:
        P.decode(frame(mtype, **fields), P.COMMANDS)
    assert code_of(e) == P.BAD_MESSAGE
    assert "control" in e.value.message


# -- size -------------------------------------------------------------------------------------

def test_oversize_frame_is_too_large_before_parsing():
    data = b"x" * (P.MAX_COMMAND_BYTES + 1)         # not even JSON: size is checked first
    with pytest.raises(P.ProtocolError) as e:
        P.decode(data, P.COMMANDS)
    assert code_of(e) == P.TOO_LARGE


def test_frame_exactly_at_the_limit_is_accepted_and_one_more_byte_is_not():
    base = frame("switch", target="1")
    padded = base + b" " * (P.MAX_COMMAND_BYTES - len(base))
    assert len(padded) == P.MAX_COMMAND_BYTES
    assert P.decode(padded, P.COMMANDS)["target"] == "1"
    with pytest.raises(P.ProtocolError) as e:
        P.decode(padded + b" ", P.COMMANDS)
    assert code_of(e) == P.TOO_LARGE


def test_big_observation_fits_the_observation_limit_not_the_command_limit():
    panes = [pane_row(f"%{i}", f"${i % 50}", f"s{i % 50}", title="t" * 100) for i in range(600)]
    data = frame("obs.tmux", panes=panes, clients=[])
    assert P.MAX_COMMAND_BYTES < len(data) < P.MAX_OBSERVATION_BYTES
    assert len(P.decode(data, P.OBSERVATIONS, max_bytes=P.MAX_OBSERVATION_BYTES)["panes"]) == 600
    with pytest.raises(P.ProtocolError) as e:
        P.decode(data, P.OBSERVATIONS)
    assert code_of(e) == P.TOO_LARGE


def test_limits_are_ordered():
    assert P.MAX_COMMAND_BYTES < P.MAX_OBSERVATION_BYTES <= P.MAX_SNAPSHOT_BYTES


def test_usage_errors_are_known_codes():
    assert P.USAGE_ERRORS <= {P.BAD_JSON, P.BAD_MESSAGE, P.UNKNOWN_TYPE, P.BAD_VERSION, P.TOO_LARGE,
                              P.NOT_FOUND, P.AMBIGUOUS_CLIENT, P.NO_CLIENT, P.TMUX_ERROR, P.INTERNAL}
    assert P.INTERNAL not in P.USAGE_ERRORS and P.TMUX_ERROR not in P.USAGE_ERRORS


# -- encode (the sender side validates too) ---------------------------------------------------

def test_encode_drops_none_fields_but_keeps_snapshot_and_result():
    msg = orjson.loads(P.encode("switch", target="1", client=None, pane=None))
    assert msg == {"v": P.VERSION, "type": "switch", "target": "1"}
    msg = orjson.loads(P.encode("snapshot", seq=0, epoch="e", snapshot=None))
    assert "snapshot" in msg and msg["snapshot"] is None
    msg = orjson.loads(P.encode("reply", ok=True, result=None))
    assert "result" in msg and msg["result"] is None


@pytest.mark.parametrize("mtype,fields,code", [
    ("switch", {}, P.BAD_MESSAGE),
    ("nope", {}, P.UNKNOWN_TYPE),
    ("reorder", {"name": "a", "direction": "left"}, P.BAD_MESSAGE),
    ("kill", {"name": "a\nb"}, P.BAD_MESSAGE),
    ("heartbeat", {"seq": True, "epoch": "e"}, P.BAD_MESSAGE),
    ("obs.agents", {"panes": {}, "at": "now"}, P.BAD_MESSAGE),
    ("state.snapshot", {"snapshot": None}, P.BAD_MESSAGE),
])
def test_encode_refuses_what_a_receiver_would_refuse(mtype, fields, code):
    with pytest.raises(P.ProtocolError) as e:
        P.encode(mtype, **fields)
    assert code_of(e) == code


# -- replies ----------------------------------------------------------------------------------

@pytest.mark.parametrize("result", [None, True, False, 1.5, {}, {"pong": True}, [], [1, "a", None], "text", 0, 42, -7,
                                    {"nested": {"f": 1.5, "b": False, "l": [{"x": None}]}}])
def test_ok_round_trips(result):
    reply = P.decode_reply(P.ok(result))
    assert reply["ok"] is True
    assert reply["result"] == result
    assert reply["type"] == "reply" and reply["v"] == P.VERSION


def test_ok_without_result():
    reply = P.decode_reply(P.ok())
    assert reply["ok"] is True and reply["result"] is None


@pytest.mark.parametrize("code", [P.BAD_JSON, P.NOT_FOUND, P.AMBIGUOUS_CLIENT, P.INTERNAL, "custom"])
def test_error_round_trips(code):
    reply = P.decode_reply(P.error(code, "no session named 'x' — ☹"))
    assert reply["ok"] is False
    assert reply["error"] == {"code": code, "message": "no session named 'x' — ☹"}


@pytest.mark.parametrize("msg", [
    {"v": 1, "type": "reply", "ok": False},
    {"v": 1, "type": "reply", "ok": False, "error": {}},
    {"v": 1, "type": "reply", "ok": False, "error": {"code": "x"}},
    {"v": 1, "type": "reply", "ok": False, "error": {"message": "x"}},
    {"v": 1, "type": "reply", "ok": False, "error": {"code": 1, "message": "x"}},
    {"v": 1, "type": "reply", "ok": False, "error": {"code": "x", "message": None}},
])
def test_error_reply_needs_code_and_message(msg):
    with pytest.raises(P.ProtocolError) as e:
        P.decode_reply(orjson.dumps(msg))
    assert code_of(e) == P.BAD_MESSAGE


@pytest.mark.parametrize("data,code", [
    (b"garbage", P.BAD_JSON),
    (orjson.dumps({"v": 2, "type": "reply", "ok": True}), P.BAD_VERSION),
    (orjson.dumps({"v": 1, "type": "snapshot", "seq": 1, "epoch": "e", "snapshot": None}), P.UNKNOWN_TYPE),
    (orjson.dumps({"v": 1, "type": "reply"}), P.BAD_MESSAGE),
    (orjson.dumps({"v": 1, "type": "reply", "ok": 1}), P.BAD_MESSAGE),
    (orjson.dumps([1]), P.BAD_MESSAGE),
])
def test_decode_reply_refuses_bad_replies(data, code):
    with pytest.raises(P.ProtocolError) as e:
        P.decode_reply(data)
    assert code_of(e) == code


def test_decode_reply_accepts_a_big_result():
    big = {"sessions": [{"name": f"s{i}", "dir": "/x" * 100} for i in range(2000)]}
    data = P.ok(big)
    assert len(data) > P.MAX_COMMAND_BYTES
    assert P.decode_reply(data)["result"] == big


# -- snapshot traffic -------------------------------------------------------------------------

def test_snapshot_body_ignores_ts_only():
    a = {"ts": 1.0, "seq": 0, "sessions": [{"name": "a"}]}
    b = {"ts": 99.5, "seq": 0, "sessions": [{"name": "a"}]}
    c = {"ts": 1.0, "seq": 0, "sessions": [{"name": "b"}]}
    assert P.snapshot_body(a) == P.snapshot_body(b)
    assert P.snapshot_body(a) != P.snapshot_body(c)
    assert P.snapshot_body({"sessions": []}) == P.snapshot_body({"sessions": [], "ts": 5})
    assert b"99.5" not in P.snapshot_body(b)


def test_snapshot_body_does_not_depend_on_key_order():
    a = {"ts": 1, "a": 1, "b": {"x": 1, "y": 2}}
    b = {"b": {"y": 2, "x": 1}, "a": 1, "ts": 2}
    assert P.snapshot_body(a) == P.snapshot_body(b)


def test_snapshot_body_keeps_nested_differences():
    a = {"sessions": [{"agents": [{"status": "running"}]}]}
    b = {"sessions": [{"agents": [{"status": "done"}]}]}
    assert P.snapshot_body(a) != P.snapshot_body(b)
    assert P.snapshot_body({"x": 1}) != P.snapshot_body({"x": 1, "y": None})


def test_published_snapshot_and_heartbeat_are_valid_published_messages():
    snap = {"ts": 3.0, "sessions": [{"name": "a", "index": 1}]}
    msg = P.decode(P.published_snapshot(7, "beef", snap), P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)
    assert (msg["type"], msg["seq"], msg["epoch"], msg["snapshot"]) == ("snapshot", 7, "beef", snap)
    msg = P.decode(P.published_snapshot(0, "beef", None), P.PUBLISHED)
    assert msg["snapshot"] is None and msg["seq"] == 0
    msg = P.decode(P.heartbeat(9, "beef"), P.PUBLISHED)
    assert (msg["type"], msg["seq"], msg["epoch"]) == ("heartbeat", 9, "beef")


# -- property tests ---------------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(json_scalars,
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
field_names = st.sampled_from(sorted({f for spec in P._ALL.values() for f in spec} | {"v", "type", "x"}))
ALL_TABLES = list(TABLES.values())


@PROPS
@given(st.binary(max_size=300), st.sampled_from(ALL_TABLES))
def test_decode_of_arbitrary_bytes_only_raises_protocol_error(data, table):
    try:
        msg = P.decode(data, table)
    except P.ProtocolError as e:
        assert e.code in (P.BAD_JSON, P.BAD_MESSAGE, P.BAD_VERSION, P.UNKNOWN_TYPE)
    else:
        assert isinstance(msg, dict) and msg["type"] in table


@PROPS
@given(json_values, st.sampled_from(ALL_TABLES))
def test_decode_of_arbitrary_json_only_raises_protocol_error(value, table):
    try:
        P.decode(orjson.dumps(value), table, max_bytes=P.MAX_SNAPSHOT_BYTES)
    except P.ProtocolError as e:
        assert e.code in (P.BAD_MESSAGE, P.BAD_VERSION, P.UNKNOWN_TYPE)


@PROPS
@given(st.sampled_from(ALL_TYPES), st.dictionaries(field_names, json_values, max_size=6))
def test_near_valid_messages_only_raise_protocol_error(mtype, fields):
    table = table_for(mtype)
    fields = {k: v for k, v in fields.items() if k not in ("v", "type")}
    data = frame(mtype, **fields)
    try:
        msg = P.decode(data, table, max_bytes=P.MAX_SNAPSHOT_BYTES)
    except P.ProtocolError as e:
        assert e.code in (P.BAD_MESSAGE,)
    else:
        # what decode accepts, validate accepts again, and every declared field has its kind
        assert P.validate(dict(msg), table) == msg
        for name, spec in table[mtype].items():
            if name in msg:
                assert isinstance(msg[name], spec.kinds)
                assert not (isinstance(msg[name], bool) and bool not in spec.kinds)
            else:
                assert not spec.required


@PROPS
@given(st.text(max_size=300))
def test_name_acceptance_rule(name):
    """A switch target is accepted exactly when it is at most 256 characters with no control characters."""
    expected = len(name) <= P.NAME_MAX and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    try:
        P.decode(frame("switch", target=name), P.COMMANDS)
        accepted = True
    except P.ProtocolError as e:
        assert e.code == P.BAD_MESSAGE
        accepted = False
    assert accepted == expected


@FEW
@given(json_values.filter(lambda v: isinstance(v, (dict, list, str, type(None)))
                          or (isinstance(v, int) and not isinstance(v, bool))))
def test_ok_round_trips_any_declared_result(result):
    assert P.decode_reply(P.ok(result))["result"] == result


@PROPS
@given(st.text(max_size=50), st.text(max_size=200))
def test_error_round_trips_any_text(code, message):
    reply = P.decode_reply(P.error(code, message))
    assert reply["ok"] is False and reply["error"] == {"code": code, "message": message}


@FEW
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=5),
       st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_snapshot_body_never_sees_ts(snap, ts1, ts2):
    snap = {k: v for k, v in snap.items() if k != "ts"}
    assert P.snapshot_body({**snap, "ts": ts1}) == P.snapshot_body({**snap, "ts": ts2}) == P.snapshot_body(snap)


# -- agent evidence and session metadata ------------------------------------------------------

def test_the_shared_vocabulary_is_the_designs():
    assert set(P.STATUSES) == {"idle", "running", "tool-running", "waiting", "done", "error", "interrupted", "stale"}
    assert set(P.TONES) == {"neutral", "info", "success", "warn", "error"}
    assert {"claude-code", "codex", "gemini"} <= set(P.AGENTS)
    assert set(P.SOURCES) == {"process", "screen", "transcript", "status-file", "hook", "emit"}
    assert (P.STATUS_TEXT_MAX, P.PROGRESS_LABEL_MAX, P.LOG_MESSAGE_MAX, P.LOGS_PER_SESSION) == (100, 100, 500, 50)


@pytest.mark.parametrize("field,choices", [("agent", P.AGENTS), ("source", P.SOURCES), ("status", P.STATUSES)])
def test_event_accepts_every_word_of_its_vocabulary(field, choices):
    for word in choices:
        msg = P.decode(frame("event", **{**MINIMAL["event"], field: word}), P.COMMANDS)
        assert msg[field] == word


@pytest.mark.parametrize("tone", P.TONES)
@pytest.mark.parametrize("mtype", ["set_status", "log", "notify"])
def test_every_tone_is_accepted(mtype, tone):
    assert P.decode(frame(mtype, **{**MINIMAL[mtype], "tone": tone}), P.COMMANDS)["tone"] == tone


def test_free_text_fields_may_hold_newlines_but_names_may_not():
    # a log line or a thread name is text; a session or thread id is a name
    assert P.decode(frame("log", session="w", message="line 1\nline 2"), P.COMMANDS)["message"] == "line 1\nline 2"
    assert P.decode(frame("event", agent="codex", source="hook", thread_name="a\nb"), P.COMMANDS)["thread_name"] == "a\nb"
    with pytest.raises(P.ProtocolError):
        P.decode(frame("log", session="w\n", message="m"), P.COMMANDS)


def test_status_text_null_or_absent_means_clear_and_is_accepted_on_the_wire():
    assert P.decode(frame("set_status", session="w", text=None), P.COMMANDS)["text"] is None
    assert "text" not in P.decode(frame("set_status", session="w"), P.COMMANDS)


def test_encode_can_send_a_status_clear():
    """`opensessions set-status S --clear` sends text=None; encode() drops None fields, so the
    clear must be a valid message without `text`."""
    data = P.encode("set_status", session="w", text=None)
    assert P.decode(data, P.COMMANDS).get("text") is None


@pytest.mark.parametrize("mtype,fields", [
    ("event", {"agent": "claude", "source": "hook"}),
    ("event", {"agent": "codex", "source": "hook", "status": "busy"}),
    ("event", {"agent": "codex", "source": "hook", "thread_id": "a\x00b"}),
    ("set_status", {"session": "w", "text": "x" * 101}),
    ("set_progress", {"session": "w", "label": "x" * 101}),
    ("log", {"session": "w", "message": "x" * 501}),
    ("log", {"session": "w", "message": "m", "tone": "loud"}),
    ("notify", {"session": "w"}),
])
def test_encode_refuses_bad_evidence_and_metadata(mtype, fields):
    with pytest.raises(P.ProtocolError) as e:
        P.encode(mtype, **fields)
    assert code_of(e) == P.BAD_MESSAGE


# -- validate_event (one item of obs.events) --------------------------------------------------

def test_validate_event_accepts_what_an_event_command_accepts():
    item = {k: v for k, v in FULL["event"].items()}
    out = P.validate_event(item)
    assert {k: out[k] for k in item} == item
    assert item == FULL["event"]                       # the caller's dict is not modified


def test_validate_event_ignores_a_type_or_version_inside_the_item():
    out = P.validate_event({"agent": "codex", "source": "transcript", "type": "kill", "v": 99})
    assert out["type"] == "event" and out["v"] == P.VERSION


@pytest.mark.parametrize("item", [
    None, [], "event", 3, {},
    {"agent": "codex"}, {"source": "hook"},
    {"agent": "codex", "source": "hook", "status": "busy"},
    {"agent": "nope", "source": "hook"},
    {"agent": "codex", "source": "hook", "pid": "1"},
    {"agent": "codex", "source": "hook", "at": True},
    {"agent": "codex", "source": "hook", "pane": "%1\n"},
    {"agent": "codex", "source": "hook", "thread_id": "t" * 257},
])
def test_validate_event_refuses_a_bad_item_with_bad_message(item):
    with pytest.raises(P.ProtocolError) as e:
        P.validate_event(item)
    assert code_of(e) == P.BAD_MESSAGE


@FEW
@given(st.dictionaries(st.sampled_from(sorted(P.COMMANDS["event"])), json_values, max_size=8))
def test_validate_event_only_raises_protocol_error(item):
    try:
        out = P.validate_event(item)
    except P.ProtocolError as e:
        assert e.code == P.BAD_MESSAGE
    else:
        for name, spec in P.COMMANDS["event"].items():
            if name in out:
                assert isinstance(out[name], spec.kinds)
                if spec.choices is not None and isinstance(out[name], str):
                    assert out[name] in spec.choices
            else:
                assert not spec.required


# -- reading a frame's head without decoding it -------------------------------------------

@pytest.fixture(params=["stdlib", "orjson"])
def codec(request, monkeypatch):
    """Both encoders the processes use write the head the same way."""
    import json
    if request.param == "orjson":
        monkeypatch.setattr(P, "_CODEC", (orjson.dumps, orjson.loads, None))
    else:
        monkeypatch.setattr(P, "_CODEC", (lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode(),
                                          json.loads, None))
    return request.param


def test_peek_type_reads_what_encode_wrote(codec):
    assert P.peek_type(P.encode("ping")) == "ping"
    assert P.peek_type(P.encode("obs.git", dirs={})) == "obs.git"


@pytest.mark.parametrize("frame", [b"", b"{}", b'{"type":"ping","v":1}', b'{"v": 1, "type": "ping"}',
                                   b'{"v":2,"type":"ping"}', b'{"v":1,"type":"' + b"x" * 100 + b'"}',
                                   b'{"v":1,"type":"ping'])
def test_peek_type_is_none_for_any_other_head(frame):
    assert P.peek_type(frame) is None


def test_published_header_reads_seq_and_epoch(codec):
    assert P.published_header(P.published_snapshot(12, "ab12", {"sessions": []})) == ("snapshot", 12, "ab12")
    assert P.published_header(P.published_snapshot(0, "e", None)) == ("snapshot", 0, "e")
    assert P.published_header(P.heartbeat(99, "e0")) == ("heartbeat", 99, "e0")


@pytest.mark.parametrize("frame", [
    P.encode("ping"),                                            # not a published type
    b'{"v":1,"type":"snapshot","seq":-1,"epoch":"e"}',           # no sign allowed
    b'{"v":1,"type":"snapshot","seq":"1","epoch":"e"}',
    b'{"v":1,"type":"snapshot","seq":1,"epoch":e}',
    b'{"v":1,"type":"snapshot","epoch":"e","seq":1}',
    b'{"v":1,"type":"snapshot","seq":1,"epoch":"' + b"e" * 100,
    b'{"v":1,"type":"heartbeat","seq":,"epoch":"e"}',
])
def test_published_header_is_none_when_the_head_is_not_ours(frame):
    assert P.published_header(frame) is None


# -- the CLI's light codec: json's C accelerator without the json package ----------------

import json  # noqa: E402

_LIGHT = P._light_codec()
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30)


def test_the_light_codec_is_there():
    assert _LIGHT is not None


@given(_json_values)
def test_light_codec_writes_what_json_writes(value):
    dumps, _, dumps_sorted = _LIGHT
    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert dumps_sorted(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@given(_json_values, st.sampled_from(["", " ", "\n", " \t\r\n "]))
def test_light_codec_reads_what_json_reads(value, pad):
    text = pad + json.dumps(value, indent=1 if pad else None) + pad
    assert _LIGHT[1](text.encode()) == json.loads(text)


@given(st.binary(max_size=40) | st.text(alphabet='{}[]",:0123456789.eE+-tfnrulasx \\\n\ufeff', max_size=30).map(str.encode)
       | st.text(max_size=10).map(lambda t: json.dumps(t).encode("utf-16")))
def test_light_codec_refuses_what_json_refuses(data):
    try:
        expected = json.loads(data)
    except ValueError:
        with pytest.raises(ValueError):
            _LIGHT[1](data)
    else:
        assert _LIGHT[1](data) == expected or expected != expected


def test_light_codec_reads_bytes_as_json_loads_does():
    for data in (b'\xef\xbb\xbf{"a": 1}', '{"a": "\u00e9"}'.encode("utf-16"), '["x"]'.encode("utf-32")):
        assert _LIGHT[1](data) == json.loads(data)


def test_a_failed_encode_leaves_nothing_behind():
    value = {"a": [1]}
    with pytest.raises(TypeError):
        _LIGHT[0]({"a": value, "b": object()})
    assert _LIGHT[0](value) == b'{"a":[1]}'


@pytest.mark.parametrize("data", [b"", b"{", b"[1,]", b'{"a":1,}', b"{} x", b"\xff", b'"a\x01"', b"nul"])
def test_light_codec_errors_are_value_errors(data):
    with pytest.raises(ValueError):
        _LIGHT[1](data)


def test_a_fresh_cli_process_neither_loads_re_nor_fails_on_bad_json():
    """The CLI's situation: nothing has imported json. A good message decodes without loading
    `re`; a broken one is still a clean BAD_JSON (the accelerator needs json.decoder for that)."""
    import subprocess
    import sys as _sys
    code = ("import sys\n"
            "from services import protocol as P\n"
            "m = P.decode(P.encode('ping'), P.COMMANDS)\n"
            "print(m['type'], 're' in sys.modules, 'json' in sys.modules)\n"
            "try:\n"
            "    P.decode(b'{\"v\":1,', P.COMMANDS)\n"
            "except P.ProtocolError as e:\n"
            "    print(e.code)\n")
    out = subprocess.run([_sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ping", "False", "False", P.BAD_JSON]
