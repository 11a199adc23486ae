"""services/collector/watchers/pi.py: Pi's session JSONL files, parsed and followed incrementally.

Files are written the way Pi writes them: nothing until the first assistant message, then the
header and every entry so far, then one appended line per completed message.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from services.collector.agent_files import AgentFiles
from services.collector.watchers.pi import PiState, pi_watcher, read_header, sessions_dir, thread_id_from_path
from services.protocol import validate_event

SID = "0b7c3a5e-1f2d-4c6b-9a8e-7d6c5b4a3f21"
CWD = "/home/u/work/proj"


def header(sid: str = SID, cwd: str = CWD) -> dict:
    return {"type": "session", "version": 3, "id": sid, "timestamp": "2025-06-01T10:00:00.000Z", "cwd": cwd}


def entry(n: int, message: dict, ts: str = "2025-06-01T10:00:05.000Z") -> dict:
    return {"type": "message", "id": f"e{n:07x}", "parentId": f"e{n - 1:07x}" if n else None, "timestamp": ts,
            "message": message}


def user(text: str = "add a --json flag to the export command") -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}], "timestamp": 1748772005000}


def tool_result() -> dict:
    return {"role": "toolResult", "toolCallId": "call_1", "toolName": "bash",
            "content": [{"type": "text", "text": "ok"}], "isError": False, "timestamp": 1748772006000}


def assistant(stop: str) -> dict:
    content = [{"type": "text", "text": "Done."}]
    if stop == "toolUse":
        content = [{"type": "toolCall", "id": "call_1", "name": "bash", "arguments": {"command": "ls"}}]
    return {"role": "assistant", "content": content, "api": "anthropic-messages", "provider": "anthropic",
            "model": "m", "stopReason": stop, "timestamp": 1748772007000}


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def session_path(sid: str = SID) -> str:
    d = os.path.join(sessions_dir(), "--home-u-work-proj--")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"2025-06-01T10-00-00-000Z_{sid}.jsonl")


def write(path: str, *objs: object, raw: bytes = b"") -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line(o) for o in objs) + raw)


class Clock:
    """Scan times: monotonic far enough apart that every scan also rediscovers files."""

    def __init__(self):
        self.mono = 0.0

    def scan(self, w, wall: float | None = None) -> list[dict]:
        self.mono += 60.0
        events = w.scan(self.mono, time.time() if wall is None else wall)
        for ev in events:
            validate_event({k: v for k, v in ev.items() if k != "_path"})
        return events


# -- parsing, one line type at a time ----------------------------------------------------------

@pytest.fixture
def state():
    return PiState(f"/x/2025-06-01T10-00-00-000Z_{SID}.jsonl")


def test_thread_id_from_file_name():
    assert thread_id_from_path(f"/s/d/2025-06-01T10-00-00-000Z_{SID}.jsonl") == SID
    assert thread_id_from_path("/s/d/plain.jsonl") == "plain"


def test_header_sets_id_and_dir_and_says_nothing(state):
    assert state.feed(header("other-id", "/elsewhere"), 1.0) is None
    assert (state.thread_id, state.dir) == ("other-id", "/elsewhere")


def test_user_message_is_running_and_names_the_thread_once(state):
    state.feed(header(), 1.0)
    ev = state.feed(entry(1, user("  fix the login bug\nthen deploy ")), 1.0)
    assert ev == {"agent": "pi", "source": "transcript", "thread_id": SID, "at": 1748772005.0,
                  "status": "running", "dir": CWD, "thread_name": "fix the login bug\nthen deploy", "name_rank": 1}
    second = state.feed(entry(2, user("and the signup one")), 1.0)
    assert second["status"] == "running" and "thread_name" not in second


def test_user_message_with_string_content(state):
    ev = state.feed(entry(1, {"role": "user", "content": "plain string prompt"}), 1.0)
    assert ev["thread_name"] == "plain string prompt"


def test_tool_result_is_running(state):
    assert state.feed(entry(1, tool_result()), 1.0)["status"] == "running"


@pytest.mark.parametrize("stop,status", [("toolUse", "tool-running"), ("stop", "done"), ("length", "done"),
                                         ("error", "error"), ("aborted", "interrupted"),
                                         ("cancelled", "interrupted")])
def test_assistant_stop_reasons(state, stop, status):
    ev = state.feed(entry(1, assistant(stop)), 1.0)
    assert ev["status"] == status and "thread_name" not in ev


def test_role_and_stop_reason_at_top_level(state):
    assert state.feed({"type": "message", "role": "assistant", "stopReason": "stop"}, 3.0)["status"] == "done"
    assert state.feed({"type": "message", "role": "toolResult"}, 3.0)["status"] == "running"


def test_session_info_name_is_user_given(state):
    ev = state.feed({"type": "session_info", "id": "a", "parentId": None, "timestamp": "2025-06-01T10:00:09Z",
                     "name": " release prep "}, 1.0)
    assert (ev["thread_name"], ev["name_rank"], "status" in ev) == ("release prep", 3, False)
    assert state.feed({"type": "session_info", "name": "  "}, 1.0) is None


@pytest.mark.parametrize("obj", [
    {"type": "model_change", "provider": "x", "modelId": "y"},
    {"type": "thinking_level_change", "thinkingLevel": "high"},
    {"type": "compaction", "summary": "s", "firstKeptEntryId": "a", "tokensBefore": 1},
    {"type": "custom", "customType": "ext"},
    {"type": "message", "message": {"role": "bashExecution", "command": "ls"}},
    {"type": "message", "message": {"role": "custom", "content": "x"}},
    {"type": "message", "message": {"role": "assistant", "stopReason": "mystery"}},
    {"type": "message", "message": {"role": "assistant"}},
    {"type": "message", "message": "not an object"},
    {"no": "type"}, [1, 2], "text", 7, None,
])
def test_other_lines_say_nothing(state, obj):
    assert state.feed(obj, 1.0) is None


def test_time_falls_back_to_message_timestamp_then_mtime(state):
    assert state.feed({"type": "message", "message": tool_result()}, 9.0)["at"] == 1748772006.0
    assert state.feed({"type": "message", "message": {"role": "toolResult"}}, 9.0)["at"] == 9.0


def test_bad_ids_and_dirs_are_not_passed_on():
    s = PiState("/x/bad\x01name.jsonl", {"type": "session", "id": "x" * 300, "cwd": "/a\nb"})
    assert s.thread_id == "unknown" and s.dir is None


def test_read_header(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_bytes(line(header()) + line(entry(1, user())))
    assert read_header(str(p))["id"] == SID
    p.write_bytes(b"\xff\xfe garbage\n")
    assert read_header(str(p)) is None
    assert read_header(str(tmp_path / "missing.jsonl")) is None


# -- following real files ----------------------------------------------------------------------

def test_first_scan_is_the_final_state_then_each_new_line(home):
    path = session_path()
    write(path, header(), entry(1, user()), entry(2, assistant("toolUse")))
    w, clock = pi_watcher(), Clock()
    [ev] = clock.scan(w)
    assert (ev["thread_id"], ev["status"], ev["dir"], ev["thread_name"], ev["_path"]) == \
        (SID, "tool-running", CWD, "add a --json flag to the export command", path)
    assert clock.scan(w) == []
    write(path, entry(3, tool_result()))
    assert [e["status"] for e in clock.scan(w)] == ["running"]
    write(path, entry(4, assistant("toolUse")), entry(5, tool_result()))
    assert [e["status"] for e in clock.scan(w)] == ["tool-running", "running"]
    assert clock.scan(w) == []


def test_a_partial_last_line_waits_for_its_newline(home):
    path = session_path()
    write(path, header(), entry(1, user()), entry(2, assistant("toolUse")), entry(3, tool_result()))
    w, clock = pi_watcher(), Clock()
    assert [e["status"] for e in clock.scan(w)] == ["running"]
    done = line(entry(4, assistant("stop")))
    write(path, raw=done[:25])
    assert clock.scan(w) == []
    write(path, raw=done[25:-1])
    assert clock.scan(w) == []
    write(path, raw=b"\n")
    assert [e["status"] for e in clock.scan(w)] == ["done"]
    assert w.bad_lines == 0


def test_first_scan_of_a_long_history_reports_only_the_final_state(home):
    path = session_path()
    objs: list = [header()]
    for i in range(1, 3000, 3):     # well past the tail read of a file seen for the first time
        objs += [entry(i, user(f"prompt {i}")), entry(i + 1, assistant("toolUse")), entry(i + 2, tool_result())]
    objs.append(entry(4000, assistant("stop")))
    write(path, *objs)
    assert os.path.getsize(path) > 256 << 10
    [ev] = Clock().scan(pi_watcher())
    assert (ev["thread_id"], ev["status"], ev["dir"]) == (SID, "done", CWD)   # id and dir from the header


def test_garbage_and_binary_lines_are_counted_not_raised(home):
    path = session_path()
    write(path, header(), entry(1, user()),
          raw=b"{not json\n\x00\xff\xfe\x80binary\n[1, 2]\n" + line(entry(2, assistant("stop"))))
    w = pi_watcher()
    [ev] = Clock().scan(w)
    assert ev["status"] == "done"
    assert w.bad_lines == 2          # two undecodable lines; a JSON array is valid JSON, just not an entry


def test_truncated_file_starts_over(home):
    path = session_path()
    write(path, header(), entry(1, user()), entry(2, assistant("stop")), entry(3, user("more")))
    w, clock = pi_watcher(), Clock()
    assert [e["status"] for e in clock.scan(w)] == ["running"]
    with open(path, "wb") as f:      # Pi rewrites a file it could not parse: shorter than before
        f.write(line(header()) + line(entry(1, user())) + line(entry(2, assistant("error"))))
    assert [e["status"] for e in clock.scan(w)] == ["running", "error"]


def test_file_replaced_by_a_directory_is_dropped_and_counted(home):
    path = session_path()
    write(path, header(), entry(1, user()), entry(2, assistant("stop")))
    w, clock = pi_watcher(), Clock()
    assert len(clock.scan(w)) == 1
    os.remove(path)
    os.mkdir(path)
    assert clock.scan(w) == []
    assert w.dropped_files == 1


def test_old_files_are_not_reported(home):
    old = session_path("11111111-2222-3333-4444-555555555555")
    write(old, header("11111111-2222-3333-4444-555555555555"), entry(1, user()), entry(2, assistant("stop")))
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    new = session_path()
    write(new, header(), entry(1, user()), entry(2, assistant("stop")))
    assert [e["thread_id"] for e in Clock().scan(pi_watcher())] == [SID]


def test_agent_dir_override(home, monkeypatch, tmp_path):
    monkeypatch.setenv("PI_CODING_AGENT_DIR", str(tmp_path / "custom"))
    path = session_path()
    assert path.startswith(str(tmp_path / "custom" / "sessions"))
    write(path, header(), entry(1, user()), entry(2, assistant("aborted")))
    assert [e["status"] for e in Clock().scan(pi_watcher())] == ["interrupted"]


def test_registered_in_agent_files(home):
    path = session_path()
    write(path, header(), entry(1, user()), entry(2, assistant("toolUse")))
    events = AgentFiles().scan(time.monotonic(), time.time(), {77: "%5"}, {path: 77})
    [ev] = [e for e in events if e["agent"] == "pi"]
    assert (ev["status"], ev["pane"], ev["pid"]) == ("tool-running", "%5", 77) and "_path" not in ev
