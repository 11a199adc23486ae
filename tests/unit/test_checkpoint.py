"""services/state/checkpoint.py: what state cannot re-observe (threads, unseen flags, names,
session metadata) survives a restart; a file that is not a checkpoint is refused with
ValueError and a bad item inside one is skipped."""
from __future__ import annotations

import orjson
import pytest

from services.state import checkpoint
from services.state.metadata import Metadata
from services.state.model import Model
from services.state.tracker import Tracker

from ._builders import make_model

SESSIONS = [("$1", "alpha", 100, ["%1", "%2"]), ("$2", "beta", 200, ["%3"])]


def model() -> Model:
    m = make_model(SESSIONS)
    m.apply_agents({"%2": [{"agent": "codex", "pid": 77}]}, now=1.0)            # a placeholder: not saved
    m.apply_event({"agent": "claude-code", "source": "hook", "status": "running", "thread_id": "c1",
                   "pane": "%1", "pid": 6775, "thread_name": "say hi", "at": 2.0}, now=2.0)
    m.apply_event({"agent": "claude-code", "source": "hook", "status": "done", "thread_id": "c1", "at": 3.0},
                  now=3.0)
    m.apply_event({"agent": "codex", "source": "transcript", "status": "waiting", "thread_id": "x1",
                   "dir": "/work/2", "thread_name": "create hi.txt", "name_rank": 2, "at": 4.0}, now=4.0)
    m.set_status("alpha", "deploying", "warn", now=5.0)
    m.set_progress("beta", {"current": 3, "total": 10, "label": "tests"}, now=6.0)
    m.add_log("beta", "build ok", "success", "ci", now=7.0)
    m.meta("alpha")                        # an empty entry: not saved
    m.clear_log("beta")
    m.add_log("beta", "again", None, None, now=8.0)
    return m


def threads(m: Model) -> dict:
    return {k: t for k, t in m.tracker.threads.items()}


def test_round_trip_keeps_threads_and_metadata():
    m = model()
    fresh = Model()
    n = checkpoint.restore(fresh, checkpoint.encode(m))
    saved = {k: t for k, t in threads(m).items() if not t.placeholder}
    assert n == len(saved) == 2
    assert threads(fresh) == saved                                 # every field, dataclass equality
    c1 = fresh.tracker.threads[Tracker.key("claude-code", "c1")]
    assert (c1.status, c1.unseen, c1.thread_name, c1.pane_id, c1.pid) == ("done", True, "say hi", "%1", 6775)
    assert {name: md.to_dict() for name, md in fresh.metadata.items()} == \
        {name: md.to_dict() for name, md in m.metadata.items() if not md.empty}
    assert fresh.metadata["alpha"].status["text"] == "deploying"
    assert [e["message"] for e in fresh.metadata["beta"].logs] == ["again"]


def test_placeholders_and_empty_metadata_are_not_saved():
    doc = orjson.loads(checkpoint.encode(model()))
    assert doc["version"] == checkpoint.VERSION
    assert all(not t["placeholder"] for t in doc["threads"])
    assert {t["agent"] for t in doc["threads"]} == {"claude-code", "codex"}
    assert set(doc["metadata"]) == {"alpha", "beta"}
    assert orjson.loads(checkpoint.encode(Model())) == {"version": checkpoint.VERSION, "threads": [], "metadata": {}}


def test_a_restored_checkpoint_encodes_to_the_same_bytes():
    data = checkpoint.encode(model())
    fresh = Model()
    checkpoint.restore(fresh, data)
    assert checkpoint.encode(fresh) == data


@pytest.mark.parametrize("data", [
    b"", b"{", b"not json", b"\xff\xfe", b"[]", b"null", b"3", b'"x"',
    b"{}", b'{"version": 2, "threads": [], "metadata": {}}', b'{"version": "1", "threads": [], "metadata": {}}',
    b'{"version": 1}', b'{"version": 1, "threads": {}, "metadata": {}}', b'{"version": 1, "threads": [], "metadata": []}',
    b'{"version": 1, "threads": null, "metadata": {}}',
])
def test_what_is_not_a_checkpoint_is_a_value_error(data):
    m = Model()
    with pytest.raises(ValueError):
        checkpoint.restore(m, data)
    assert m.tracker.threads == {} and m.metadata == {}


def good_thread(**over) -> dict:
    doc = orjson.loads(checkpoint.encode(model()))
    t = next(t for t in doc["threads"] if t["thread_id"] == "c1")
    return {**t, **over}


@pytest.mark.parametrize("bad", [
    None, 3, "thread", [],
    {k: v for k, v in good_thread().items() if k != "status"},          # a field missing
    good_thread(agent=None), good_thread(thread_id=5),
], ids=range(7))
def test_a_bad_thread_is_skipped_and_the_rest_restored(bad):
    data = orjson.dumps({"version": 1, "threads": [bad, good_thread(thread_id="ok")], "metadata": {}})
    m = Model()
    assert checkpoint.restore(m, data) == 1
    assert list(m.tracker.threads) == [Tracker.key("claude-code", "ok")]


def test_extra_fields_of_a_newer_writer_are_ignored():
    data = orjson.dumps({"version": 1, "threads": [good_thread(thread_id="ok", added_later=[1])], "metadata": {}})
    m = Model()
    assert checkpoint.restore(m, data) == 1


@pytest.mark.parametrize("bad", [
    good_thread(since="yesterday"), good_thread(evidence_at=None), good_thread(status_at="0"),
    good_thread(source="rumour"), good_thread(status=["done"]),
], ids=["since", "evidence_at", "status_at", "source", "status"])
def test_a_thread_with_wrongly_typed_fields_is_skipped_not_a_later_crash(bad):
    """A restored thread is used as is by the tracker: a string `since` or a list `status` makes
    expire() raise TypeError, a string `status_at` or an unknown `source` makes the next event
    for the thread raise. Such an item is a bad item: restore must skip it, and the model must
    keep working."""
    bad = {**bad, "liveness": "exited"}
    data = orjson.dumps({"version": 1, "threads": [bad, good_thread(thread_id="ok")], "metadata": {}})
    m = make_model(SESSIONS)
    n = checkpoint.restore(m, data)
    assert n == 1 and list(m.tracker.threads) == [Tracker.key("claude-code", "ok")]
    m.tracker.expire(now=10_000.0)
    m.apply_event({"agent": "claude-code", "source": "hook", "status": "running", "thread_id": bad["thread_id"],
                   "at": 9_000.0}, now=10_000.0)


def test_bad_metadata_entries_are_skipped():
    data = orjson.dumps({"version": 1, "threads": [], "metadata": {
        "ok": {"status": {"text": "fine", "tone": "info", "ts": 1.0}, "logs": [{"message": "m"}, 5]},
        "list": [1, 2], "str": "x", "none": None}})
    m = Model()
    checkpoint.restore(m, data)
    assert set(m.metadata) == {"ok"}
    assert m.metadata["ok"].status["text"] == "fine" and [e["message"] for e in m.metadata["ok"].logs] == ["m"]


@pytest.mark.parametrize("logs", [5, True, 1.5], ids=["int", "bool", "float"])
def test_a_metadata_entry_with_a_non_list_log_does_not_break_restore(logs):
    """restore promises ValueError for a bad file and skips bad items; a log that is a number must
    not escape as TypeError (the state service catches only ValueError when it restores)."""
    data = orjson.dumps({"version": 1, "threads": [], "metadata": {
        "bad": {"logs": logs}, "ok": {"status": {"text": "fine"}}}})
    m = Model()
    try:
        checkpoint.restore(m, data)
    except ValueError:
        return
    assert m.metadata["ok"].status["text"] == "fine"
    assert list(m.metadata.get("bad", Metadata()).logs) == []
