"""The wire protocol: every message type, its validation and its encoding.

Messages are JSON objects with "v" (protocol version) and "type". Nothing else in the code
base builds message dicts by hand: senders call `encode(type, **fields)` (which validates what
they send, too), receivers call `decode(frame, allowed_types)`, and replies are made with
`ok(...)` / `error(...)`. A bad message raises `ProtocolError` carrying a reply code.
"""
from __future__ import annotations

import sys


_CODEC = None


def _codec():
    """orjson in the services (fast per message); the standard json module in the CLI, where
    importing orjson would cost more than all the messages it sends. Same JSON either way.
    Chosen once per process, at the first message."""
    global _CODEC
    if _CODEC is None:
        _CODEC = _choose_codec()
    return _CODEC


def use_fast_codec() -> None:
    """For a process that started on the light codec and has since loaded orjson (the sidebar
    after its first paint): choose again."""
    global _CODEC
    _CODEC = None


def _choose_codec():
    if "orjson" in sys.modules:
        import orjson
        return orjson.dumps, orjson.loads, lambda obj: orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return _light_codec() or _json_codec()


def _json_codec():
    import json

    def dumps(obj):
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

    def dumps_sorted(obj):
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return dumps, json.loads, dumps_sorted


_WHITESPACE = " \t\n\r"


def _light_codec():
    """The json module's own C accelerator (`_json`, what `json` itself runs on) without the
    json package, whose import pulls in `re` and `enum`: ~9 ms of the ~30 a key press or an
    agent hook pays to start. Writes and reads exactly what `json` does with our options
    (tests/unit/test_protocol.py checks both ways); None where the accelerator is missing."""
    try:
        import _json
        make_scanner, make_encoder, encode_str = _json.make_scanner, _json.make_encoder, _json.encode_basestring
    except (ImportError, AttributeError):
        return None
    constants = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}

    class Context:   # the attributes _json's scanner reads from a json.JSONDecoder
        strict = True
        object_hook = object_pairs_hook = None
        parse_float, parse_int, parse_constant = float, int, constants.__getitem__
    scan = make_scanner(Context)

    def default(obj):
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    def encoder(sort_keys: bool):
        def dumps(obj):   # a new encoder per call, as json.dumps makes: its circular-reference
            # markers must not outlive a failed call
            return "".join(make_encoder({}, default, encode_str, None, ":", ",", sort_keys, False, True)(obj, 0)).encode()
        return dumps

    def loads(data):
        if isinstance(data, (bytes, bytearray)):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:   # UTF-16/32 or surrogates, which json.loads also reads
                import json
                return json.loads(data)
            if text.startswith("\ufeff"):   # a UTF-8 byte-order mark: json.loads reads past it too
                import json
                return json.loads(data)
        else:
            text = data
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            obj, end = scan(text, start)
        except StopIteration as e:
            raise ValueError(f"Expecting value: char {e.value}") from None
        except SystemError:   # _json raises its syntax errors with a class from json.decoder,
            import json       # and fails like this when that is not loaded: json says what is wrong
            return json.loads(text)
        if text[end:].strip(_WHITESPACE):
            raise ValueError(f"Extra data: char {end}")
        return obj
    return encoder(False), loads, encoder(True)


def parse_json(data: bytes) -> object:
    """Any JSON document (an agent's hook payload, say) with this process's codec; ValueError
    or RecursionError when it is not JSON."""
    return _codec()[1](data)


def encode_json(value: object) -> bytes:
    """Any JSON value with this process's codec, as messages are written."""
    return _codec()[0](value)


VERSION = 1
MAX_COMMAND_BYTES = 64 * 1024          # a command from a CLI, hook or sidebar
MAX_OBSERVATION_BYTES = 8 * 1024 * 1024  # a full listing from the collector of a big tmux
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
NAME_MAX = 256

# error codes; the CLI maps them to exit codes
BAD_JSON = "bad_json"
BAD_MESSAGE = "bad_message"
UNKNOWN_TYPE = "unknown_type"
BAD_VERSION = "unsupported_version"
TOO_LARGE = "too_large"
NOT_FOUND = "not_found"
AMBIGUOUS_CLIENT = "ambiguous_client"
NO_CLIENT = "no_client"
TMUX_ERROR = "tmux_error"
INTERNAL = "internal"

# the vocabulary of agent state, shared by hooks, the collector, state and sidebars
STATUSES = ("idle", "running", "tool-running", "waiting", "done", "error", "interrupted", "stale")
AGENTS = ("claude-code", "codex", "opencode", "amp", "pi", "kilo", "gemini", "aider")
SOURCES = ("process", "screen", "transcript", "status-file", "hook", "emit")
TONES = ("neutral", "info", "success", "warn", "error")
STATUS_TEXT_MAX, PROGRESS_LABEL_MAX, LOG_MESSAGE_MAX, LOGS_PER_SESSION = 100, 100, 500, 50

USAGE_ERRORS = {BAD_JSON, BAD_MESSAGE, UNKNOWN_TYPE, BAD_VERSION, TOO_LARGE, AMBIGUOUS_CLIENT}


class ProtocolError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class F:
    """One field of a message: its JSON kinds, whether it is required, and bounds."""
    __slots__ = ("kinds", "required", "max_len", "choices", "name_like")

    def __init__(self, kinds: tuple, required: bool = True, max_len: int | None = None,
                 choices: frozenset | None = None, name_like: bool = False):
        self.kinds, self.required, self.max_len = kinds, required, max_len
        self.choices = choices
        self.name_like = name_like   # a tmux name/target: no control characters


STR = (str,)
OPT_STR = (str, type(None))
INT = (int,)
LIST = (list,)
DICT = (dict,)

_name = F(STR, max_len=NAME_MAX, name_like=True)
_client = F(OPT_STR, required=False, max_len=NAME_MAX, name_like=True)
_pane = F(OPT_STR, required=False, max_len=32, name_like=True)

# -- commands answered by state (ROUTER) --------------------------------------------------
COMMANDS: dict[str, dict[str, F]] = {
    "ping": {},
    "ls": {},
    "stats": {},
    "switch": {"target": _name, "client": _client, "pane": _pane},
    "reorder": {"name": _name, "direction": F(STR, choices=frozenset({"up", "down"}))},
    "hide": {"name": _name, "client": _client, "pane": _pane},
    "unhide_all": {},
    "kill": {"name": _name, "client": _client, "pane": _pane},
    "new": {"name": F(OPT_STR, required=False, max_len=NAME_MAX, name_like=True),
            "dir": F(OPT_STR, required=False, max_len=4096, name_like=True),
            "switch": F((bool,), required=False), "client": _client, "pane": _pane},
    "set_setting": {"key": F(STR, choices=frozenset({"filter", "theme", "width", "position", "sidebars",
                                                     "keytable", "index_keys"})),
                    "value": F((str, int), max_len=64)},
    "highlight": {"client": F(STR, max_len=NAME_MAX, name_like=True), "session": _name},
}

_session = F(STR, max_len=NAME_MAX, name_like=True)
_tone = F(STR, required=False, choices=frozenset(TONES))
_number = (int, float)
COMMANDS.update({
    # evidence about an agent thread, from hooks, `emit`, and (inside obs.events) the collector
    "event": {"agent": F(STR, choices=frozenset(AGENTS)), "source": F(STR, choices=frozenset(SOURCES)),
              "status": F(OPT_STR, required=False, choices=frozenset(STATUSES)),
              "thread_id": F(OPT_STR, required=False, max_len=256, name_like=True),
              "thread_name": F(OPT_STR, required=False, max_len=2000),
              "name_rank": F(INT, required=False),
              "pane": _pane, "session": F(OPT_STR, required=False, max_len=NAME_MAX, name_like=True),
              "dir": F(OPT_STR, required=False, max_len=4096, name_like=True),
              "pid": F((int, type(None)), required=False), "at": F(_number, required=False),
              "keeps_waiting": F((bool,), required=False), "ends": F((bool,), required=False),
              "hook": F(OPT_STR, required=False, max_len=64)},
    # metadata scripts push about a session (DESIGN §3 limits)
    "set_status": {"session": _session, "text": F(OPT_STR, required=False, max_len=STATUS_TEXT_MAX),  # absent: clear
                   "tone": _tone},
    "set_progress": {"session": _session, "clear": F((bool,), required=False),
                     "current": F(_number, required=False), "total": F(_number, required=False),
                     "percent": F(_number, required=False),
                     "label": F(OPT_STR, required=False, max_len=PROGRESS_LABEL_MAX)},
    "log": {"session": _session, "message": F(STR, max_len=LOG_MESSAGE_MAX), "tone": _tone,
            "source": F(OPT_STR, required=False, max_len=64)},
    "clear_log": {"session": _session},
    "notify": {"session": _session, "message": F(STR, max_len=LOG_MESSAGE_MAX), "tone": _tone},
    "seen": {"session": _session},
    # sidebars in tmux windows: on, off, toggle, or focus the one in the client's window
    "sidebars": {"action": F(STR, choices=frozenset({"on", "off", "toggle", "focus"})),
                 "client": _client, "pane": _pane},
    # the collector asks which panes are worth a look at the screen
    "screen_candidates": {},
})

# -- observations pushed by the collector to state (PULL) ---------------------------------
OBSERVATIONS: dict[str, dict[str, F]] = {
    "obs.tmux": {"panes": F(LIST), "clients": F(LIST)},
    "obs.tmux_down": {"reason": F(STR, max_len=1000)},
    "obs.agents": {"panes": F(DICT), "at": F((int, float))},
    "obs.ports": {"sessions": F(DICT)},
    "obs.git": {"dirs": F(DICT)},
    "obs.events": {"events": F(LIST)},
}

# -- snapshot traffic ---------------------------------------------------------------------
SNAPSHOT_IN = {"state.snapshot": {"digest": F(STR, required=False, max_len=64),   # state -> publisher (PUSH)
                                  "snapshot": F(DICT)}}
SYNC_REQUESTS = {"get_snapshot": {}, "ping": {}, "stats": {}}   # sidebars -> publisher ROUTER
PUBLISHED = {                                                   # publisher PUB and sync replies
    "snapshot": {"seq": F(INT), "epoch": F(STR), "snapshot": F((dict, type(None)))},
    "heartbeat": {"seq": F(INT), "epoch": F(STR)},
}
REPLY = {"reply": {"ok": F((bool,)), "result": F((dict, list, str, int, float, bool, type(None)), required=False),
                   "error": F(DICT, required=False)}}

_ALL: dict[str, dict[str, F]] = {**COMMANDS, **OBSERVATIONS, **SNAPSHOT_IN, **SYNC_REQUESTS,
                                 **PUBLISHED, **REPLY}


def _check_field(mtype: str, name: str, spec: F, value: object) -> None:
    # bool is an int subclass; an int field must not accept true/false
    if isinstance(value, bool) and bool not in spec.kinds:
        raise ProtocolError(BAD_MESSAGE, f"{mtype}: field {name!r} must be {_kind_names(spec)}, got boolean")
    if not isinstance(value, spec.kinds):
        raise ProtocolError(BAD_MESSAGE,
                            f"{mtype}: field {name!r} must be {_kind_names(spec)}, got {type(value).__name__}")
    if isinstance(value, str):
        if spec.max_len is not None and len(value) > spec.max_len:
            raise ProtocolError(BAD_MESSAGE, f"{mtype}: field {name!r} is longer than {spec.max_len} characters")
        if spec.name_like and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ProtocolError(BAD_MESSAGE, f"{mtype}: field {name!r} contains control characters")
        if spec.choices is not None and value not in spec.choices:
            raise ProtocolError(BAD_MESSAGE,
                                f"{mtype}: field {name!r} must be one of {', '.join(sorted(spec.choices))}")


def _kind_names(spec: F) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
             list: "a list", dict: "an object", type(None): "null"}
    return " or ".join(names[k] for k in spec.kinds)


def validate(msg: object, allowed: dict[str, dict[str, F]]) -> dict:
    if not isinstance(msg, dict):
        raise ProtocolError(BAD_MESSAGE, "a message must be a JSON object")
    if type(msg.get("v")) is not int or msg["v"] != VERSION:   # true == 1 in Python; not here
        raise ProtocolError(BAD_VERSION, f"unsupported protocol version {msg.get('v')!r}; this is version {VERSION}")
    mtype = msg.get("type")
    if not isinstance(mtype, str):
        raise ProtocolError(BAD_MESSAGE, "a message needs a string field 'type'")
    spec = allowed.get(mtype)
    if spec is None:
        raise ProtocolError(UNKNOWN_TYPE, f"unknown message type {mtype[:64]!r}")
    for name, field in spec.items():
        if name in msg:
            _check_field(mtype, name, field, msg[name])
        elif field.required:
            raise ProtocolError(BAD_MESSAGE, f"{mtype}: missing field {name!r}")
    return msg


def decode(frame: bytes, allowed: dict[str, dict[str, F]], max_bytes: int = MAX_COMMAND_BYTES) -> dict:
    if len(frame) > max_bytes:
        raise ProtocolError(TOO_LARGE, f"message of {len(frame)} bytes exceeds the limit of {max_bytes}")
    try:
        msg = _codec()[1](frame)
    except (ValueError, RecursionError) as e:   # both codecs' decode errors are ValueErrors
        raise ProtocolError(BAD_JSON, f"not valid JSON: {str(e)[:120]}") from None
    return validate(msg, allowed)


_TYPE_PREFIX = b'{"v":1,"type":"'


def peek_type(frame: bytes) -> str | None:
    """The type of a message as our encoders write it, read without decoding: both codecs write
    "v" then "type" first, compactly. None when the frame does not start that way; the caller
    then decodes it. Only a hint for choosing which frames to decode: the frame chosen is still
    decoded and validated in full."""
    if not frame.startswith(_TYPE_PREFIX):
        return None
    start = len(_TYPE_PREFIX)
    end = frame.find(b'"', start, start + 64)
    if end < 0:
        return None
    return frame[start:end].decode("ascii", "replace")


def published_header(frame: bytes) -> tuple[str, int, str] | None:
    """(type, seq, epoch) of a published snapshot or heartbeat without decoding the snapshot in
    it, so a subscriber behind by several snapshots decodes only the newest. None when the frame
    does not start as `published_snapshot`/`heartbeat` write it."""
    kind = peek_type(frame)
    if kind not in PUBLISHED:
        return None
    at = len(_TYPE_PREFIX) + len(kind)
    if frame[at:at + 8] != b'","seq":':
        return None
    at += 8
    end = at
    while end < len(frame) and end - at < 20 and 48 <= frame[end] <= 57:
        end += 1
    if end == at or frame[end:end + 10] != b',"epoch":"':
        return None
    epoch_end = frame.find(b'"', end + 10, end + 10 + 64)
    if epoch_end < 0:
        return None
    return kind, int(frame[at:end]), frame[end + 10:epoch_end].decode("ascii", "replace")


def encode(mtype: str, **fields: object) -> bytes:
    """Build, check and encode a message; a bug in a sender fails here, not in the receiver."""
    msg = {"v": VERSION, "type": mtype}
    msg.update({k: v for k, v in fields.items() if v is not None or k in ("snapshot", "result")})
    validate(msg, _ALL)
    return _codec()[0](msg)


def ok(result: object = None) -> bytes:
    return _codec()[0]({"v": VERSION, "type": "reply", "ok": True, "result": result})


def error(code: str, message: str) -> bytes:
    return _codec()[0]({"v": VERSION, "type": "reply", "ok": False,
                         "error": {"code": code, "message": message}})


def decode_reply(frame: bytes) -> dict:
    """A reply as the client sees it: {"ok": True, "result": …} or {"ok": False, "error": {…}}."""
    msg = decode(frame, REPLY, max_bytes=MAX_SNAPSHOT_BYTES)
    if not msg["ok"]:
        err = msg.get("error") or {}
        if not isinstance(err.get("code"), str) or not isinstance(err.get("message"), str):
            raise ProtocolError(BAD_MESSAGE, "error reply without code and message")
    return msg


def snapshot_body(snapshot: dict) -> bytes:
    """The bytes that decide whether two snapshots differ: everything but the clock."""
    return _codec()[2]({k: v for k, v in snapshot.items() if k != "ts"})


def snapshot_digest(body: bytes) -> str:
    """A snapshot's identity for deduplication: the hash of `snapshot_body`."""
    import hashlib
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def snapshot_in(snapshot: dict, body: bytes) -> bytes:
    """state → publisher: the snapshot with the digest of its body written first, so the
    publisher can deduplicate and publish it without decoding it (`split_snapshot_in`)."""
    return encode("state.snapshot", digest=snapshot_digest(body), snapshot=snapshot)


_SNAPSHOT_IN_HEAD = b'{"v":1,"type":"state.snapshot","digest":"'
_HEX = frozenset(b"0123456789abcdef")


def split_snapshot_in(frame: bytes) -> tuple[str, bytes] | None:
    """(digest, the snapshot's JSON bytes) of a `snapshot_in` frame, without decoding it; None
    for any other form (the caller decodes it then). The publisher only forwards those bytes:
    every subscriber decodes and checks what it receives."""
    if not frame.startswith(_SNAPSHOT_IN_HEAD):
        return None
    start = len(_SNAPSHOT_IN_HEAD)
    digest = frame[start:start + 32]
    body_at = start + 32 + len(b'","snapshot":')
    if len(digest) != 32 or not _HEX.issuperset(digest) or frame[start + 32:body_at] != b'","snapshot":':
        return None
    if frame[body_at:body_at + 1] != b"{" or not frame.endswith(b"}}"):
        return None
    return digest.decode("ascii"), frame[body_at:-1]


def published_snapshot(seq: int, epoch: str, snapshot: dict | None) -> bytes:
    return _codec()[0]({"v": VERSION, "type": "snapshot", "seq": seq, "epoch": epoch, "snapshot": snapshot})


def published_snapshot_json(seq: int, epoch: str, snapshot_json: bytes) -> bytes:
    """`published_snapshot` around a snapshot already encoded (by state), byte for byte what
    encoding the whole would give."""
    head = _codec()[0]({"v": VERSION, "type": "snapshot", "seq": seq, "epoch": epoch, "snapshot": None})
    return head[:-len(b"null}")] + snapshot_json + b"}"


def heartbeat(seq: int, epoch: str) -> bytes:
    return _codec()[0]({"v": VERSION, "type": "heartbeat", "seq": seq, "epoch": epoch})


def validate_event(item: object) -> dict:
    """One event inside obs.events, checked exactly like an `event` command."""
    if not isinstance(item, dict):
        raise ProtocolError(BAD_MESSAGE, "an event must be an object")
    return validate({**item, "v": VERSION, "type": "event"}, COMMANDS)
