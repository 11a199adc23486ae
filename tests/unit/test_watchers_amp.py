"""services/collector/watchers/amp.py: Amp's thread files, rewritten whole, reread on change."""
from __future__ import annotations

import json
import os
import time

import pytest

from services.collector.agent_files import AgentFiles
from services.collector.watchers.amp import AmpWatcher, message_status, thread_dir, thread_event, threads_dir
from services.protocol import validate_event

TID = "T-5f0c1e2a-7b3d-4e8f-9a1b-2c3d4e5f6a7b"


def user_text(text: str = "why does the importer drop rows?", mid: int = 0) -> dict:
    return {"role": "user", "messageId": mid, "content": [{"type": "text", "text": text}]}


def tool_results(*statuses: str, mid: int = 2) -> dict:
    return {"role": "user", "messageId": mid, "content": [
        {"type": "tool_result", "toolUseID": f"toolu_{i}", "run": {"status": s}} for i, s in enumerate(statuses)]}


def reply(state: str, stop: str | None = None, mid: int = 1) -> dict:
    st: dict = {"type": state}
    if stop is not None:
        st["stopReason"] = stop
    content = [{"type": "text", "text": "Looking."}]
    if stop == "tool_use":
        content.append({"type": "tool_use", "id": "toolu_0", "name": "Bash", "input": {"cmd": "ls"}})
    return {"role": "assistant", "messageId": mid, "content": content, "state": st,
            "usage": {"model": "m", "inputTokens": 1, "outputTokens": 1}}


def thread(*messages: dict, title: str | None = "Importer drops rows", tid: str = TID,
           uri: str | None = "file:///home/u/work/data%20tools") -> dict:
    doc: dict = {"v": len(messages), "id": tid, "created": 1748772000000, "messages": list(messages),
                 "nextMessageId": len(messages), "agentMode": "smart"}
    if title is not None:
        doc["title"] = title
    if uri is not None:
        doc["env"] = {"initial": {"trees": [{"displayName": "data tools", "uri": uri,
                                              "repository": {"type": "git"}}], "platform": {"os": "linux"}}}
    return doc


# -- parsing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("msg,status", [
    (user_text(), "running"),
    (tool_results("in-progress"), "tool-running"),
    (tool_results("queued"), "tool-running"),
    (tool_results("done", "in-progress"), "tool-running"),
    (tool_results("cancellation-requested"), "tool-running"),
    (tool_results("blocked-on-user"), "waiting"),
    (tool_results("done", "blocked-on-user"), "waiting"),
    (tool_results("done"), "running"),
    (tool_results("done", "error"), "running"),
    (tool_results("cancelled"), "interrupted"),
    (tool_results("rejected-by-user"), "interrupted"),
    (reply("streaming"), "running"),
    (reply("cancelled"), "interrupted"),
    (reply("error"), "error"),
    (reply("complete", "end_turn"), "done"),
    (reply("complete", "tool_use"), "tool-running"),
    (reply("complete", "max_tokens"), "done"),
    (reply("complete"), "done"),
    ({"role": "assistant", "content": []}, None),
    (reply("mystery"), None),
    ({"role": "info", "content": []}, None),
    ("user", None),
])
def test_message_status(msg, status):
    assert message_status(msg) == status


def test_thread_event_fields():
    ev = thread_event(thread(user_text(), reply("complete", "end_turn")), 1748772100.5, f"/t/{TID}.json")
    assert ev == {"agent": "amp", "source": "transcript", "thread_id": TID, "at": 1748772100.5, "status": "done",
                  "dir": "/home/u/work/data tools", "thread_name": "Importer drops rows", "name_rank": 2}
    validate_event(ev)


def test_untitled_thread_is_named_by_its_first_prompt():
    ev = thread_event(thread(tool_results("done", mid=0), user_text(" first words "), title=None), 1.0, "/t/x.json")
    assert (ev["thread_name"], ev["name_rank"]) == ("first words", 1)


def test_info_messages_do_not_decide():
    ev = thread_event(thread(user_text(), reply("complete", "tool_use"), {"role": "info", "content": []}), 1.0, "/t")
    assert ev["status"] == "tool-running"


def test_id_falls_back_to_the_file_name():
    doc = thread(user_text())
    del doc["id"]
    assert thread_event(doc, 1.0, f"/t/{TID}.json")["thread_id"] == TID
    doc["id"] = "bad\nid"
    assert thread_event(doc, 1.0, f"/t/{TID}.json")["thread_id"] == TID


@pytest.mark.parametrize("env,expected", [
    ({"initial": {"trees": [{"uri": "file:///a/b%20c"}]}}, "/a/b c"),
    ({"trees": [{"uri": "file:///flat"}]}, "/flat"),
    ({"initial": {"trees": [{"uri": "https://github.com/x/y"}, {"uri": "file:///second"}]}}, "/second"),
    ({"initial": {"trees": [{"displayName": "no uri"}]}}, None),
    ({"initial": {"trees": "nope"}}, None),
    ({"initial": {"platform": {}}}, None),
    ("env", None),
])
def test_thread_dir(env, expected):
    assert thread_dir({"env": env}) == expected


@pytest.mark.parametrize("doc", [
    thread(title=None), [], "x", {"id": TID, "messages": "nope"}, {"id": TID, "messages": [1, "a", None]},
])
def test_nothing_to_say(doc):
    assert thread_event(doc, 1.0, "/t/T-x.json") is None


def test_new_thread_with_only_a_title_is_still_named():
    ev = thread_event(thread(), 1.0, "/t/T-x.json")
    assert ev["thread_name"] == "Importer drops rows" and "status" not in ev


# -- watching real files -----------------------------------------------------------------------

@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    os.makedirs(threads_dir())
    return tmp_path


def path_of(tid: str = TID) -> str:
    return os.path.join(threads_dir(), f"{tid}.json")


def save(doc: object, tid: str = TID, raw: bytes | None = None, mtime: float | None = None) -> str:
    """Rewrite the whole file through a rename, the way a careful writer does."""
    path = path_of(tid)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(raw if raw is not None else json.dumps(doc).encode())
    os.replace(tmp, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def scan(w: AmpWatcher, wall: float | None = None) -> list[dict]:
    events = w.scan(time.monotonic(), time.time() if wall is None else wall)
    for ev in events:
        validate_event({k: v for k, v in ev.items() if k != "_path"})
    return events


def test_each_rewrite_gives_the_new_state_and_no_change_gives_nothing(home):
    w = AmpWatcher()
    msgs = [user_text()]
    path = save(thread(*msgs))
    [ev] = scan(w)
    assert (ev["thread_id"], ev["status"], ev["_path"]) == (TID, "running", path)
    assert scan(w) == []
    for msg, status in [(reply("streaming"), "running"), (reply("complete", "tool_use"), "tool-running"),
                        (tool_results("blocked-on-user"), "waiting"), (tool_results("in-progress"), "tool-running"),
                        (tool_results("done"), "running"), (reply("complete", "end_turn"), "done")]:
        if msg["role"] == "assistant" and msgs[-1]["role"] == "assistant":
            msgs[-1] = msg           # a streaming message is replaced in place as it completes
        elif msg["role"] == "user" and msgs[-1].get("content", [{}])[0].get("type") == "tool_result":
            msgs[-1] = msg           # a tool result's run status is updated in place
        else:
            msgs.append(msg)
        save(thread(*msgs))
        assert [e["status"] for e in scan(w)] == [status]
        assert scan(w) == []


def test_rewrite_within_the_same_mtime_tick_is_not_missed(home):
    w = AmpWatcher()
    now = time.time()
    save(thread(user_text(), reply("streaming")), mtime=now)
    assert [e["status"] for e in scan(w, now)] == ["running"]
    save(thread(user_text(), reply("complete", "end_turn")), mtime=now)    # same mtime as the one read
    assert [e["status"] for e in scan(w, now + 0.5)] == ["done"]
    assert scan(w, now + 1) == []
    assert scan(w, now + 60) == []


def test_first_scan_of_a_long_history_reports_only_the_final_state(home):
    msgs = [user_text()]
    for i in range(500):
        msgs += [reply("complete", "tool_use", mid=2 * i + 1), tool_results("done", mid=2 * i + 2)]
    msgs.append(reply("cancelled", mid=2000))
    save(thread(*msgs))
    [ev] = scan(AmpWatcher())
    assert (ev["status"], ev["thread_name"]) == ("interrupted", "Importer drops rows")


def test_garbage_binary_and_half_written_files_are_counted_not_raised(home):
    w = AmpWatcher()
    save(None, "T-garbage", raw=b"{not json")
    save(None, "T-binary", raw=os.urandom(512))
    half = json.dumps(thread(user_text(), reply("complete", "end_turn"))).encode()
    save(None, raw=half[:len(half) // 2])
    save(["a", "list"], "T-list")
    assert scan(w) == []
    assert w.files.bad_files == 3 and w.no_evidence == 1
    save(None, raw=half)             # the writer finishes: the whole file is there
    assert [e["status"] for e in scan(w)] == ["done"]


def test_a_directory_named_like_a_thread_and_other_files_are_ignored(home):
    os.mkdir(path_of("T-dir"))
    with open(os.path.join(os.path.dirname(threads_dir()), "session.json"), "w") as f:
        json.dump({"lastThreadId": TID}, f)
    with open(os.path.join(threads_dir(), "notes.json"), "w") as f:
        json.dump(thread(user_text()), f)
    w = AmpWatcher()
    assert scan(w) == []
    save(thread(user_text()))
    assert [e["thread_id"] for e in scan(w)] == [TID]


def test_file_replaced_by_a_directory_is_dropped(home):
    w = AmpWatcher()
    path = save(thread(user_text()))
    assert len(scan(w)) == 1
    os.remove(path)
    os.mkdir(path)
    assert scan(w) == []
    assert path not in w.files.seen and path not in w.reported


def test_old_threads_are_not_reported(home):
    old = "T-00000000-0000-0000-0000-000000000000"
    save(thread(user_text(), tid=old), old, mtime=time.time() - 7200)
    save(thread(user_text(), reply("complete", "end_turn")))
    assert [e["thread_id"] for e in scan(AmpWatcher())] == [TID]


def test_xdg_data_home_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert threads_dir() == str(tmp_path / "data" / "amp" / "threads")


def test_registered_in_agent_files(home):
    path = save(thread(user_text(), reply("complete", "tool_use")))
    events = AgentFiles().scan(time.monotonic(), time.time(), {31: "%9"}, {path: 31})
    [ev] = [e for e in events if e["agent"] == "amp"]
    assert (ev["status"], ev["pane"]) == ("tool-running", "%9") and "_path" not in ev
