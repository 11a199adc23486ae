"""services/state/model.py: agent evidence in the model (who is looking, which session a working
dir belongs to, events by session name, clocks ahead of ours), session metadata, and clients
moving between sessions."""
from __future__ import annotations

import pytest

from services import protocol as P
from services.state.model import CommandError, Model
from services.state.tracker import Tracker

from ._builders import client_row, make_model, pane_row, session_rows

# alpha ($1: %1 active, %2), beta ($2: %3), gamma ($3: %4); dirs /work/1, /work/2, /work/3
ALPHA, BETA, GAMMA = ("$1", "alpha", 100, ["%1", "%2"]), ("$2", "beta", 200, ["%3"]), ("$3", "gamma", 300, ["%4"])


def three(clients=(), **kw) -> Model:
    return make_model([ALPHA, BETA, GAMMA], clients, **kw)


def ev(**fields) -> dict:
    return {"agent": "claude-code", "source": "hook", **fields}


def thread(m: Model, tid: str, agent: str = "claude-code"):
    return m.tracker.threads[Tracker.key(agent, tid)]


# -- looking ----------------------------------------------------------------------------------

def test_a_client_looks_at_its_pane_only():
    m = three([client_row("/dev/pts/1", "$1", "alpha", pane_id="%1")])
    m.apply_event(ev(status="done", thread_id="on-screen", pane="%1", at=1.0), now=1.0)
    m.apply_event(ev(status="done", thread_id="same-session", pane="%2", at=1.0), now=1.0)
    m.apply_event(ev(status="done", thread_id="elsewhere", pane="%3", at=1.0), now=1.0)
    assert m.looking(thread(m, "on-screen")) is True
    assert m.looking(thread(m, "same-session")) is False
    assert [thread(m, t).unseen for t in ("on-screen", "same-session", "elsewhere")] == [False, True, True]


def test_without_a_pane_looking_at_the_session_counts():
    m = three([client_row("/dev/pts/1", "$1", "alpha", pane_id="%1")])
    m.apply_event(ev(source="transcript", status="done", thread_id="t1", dir="/work/1", at=1.0), now=1.0)
    m.apply_event(ev(source="transcript", status="done", thread_id="t2", dir="/work/2", at=1.0), now=1.0)
    assert thread(m, "t1").pane_id is None and thread(m, "t1").session_id == "$1"
    assert m.looking(thread(m, "t1")) is True and thread(m, "t1").unseen is False
    assert m.looking(thread(m, "t2")) is False and thread(m, "t2").unseen is True


def test_nobody_looks_without_clients():
    m = three()
    m.apply_event(ev(status="done", thread_id="t1", pane="%1", at=1.0), now=1.0)
    assert m.looking(thread(m, "t1")) is False and thread(m, "t1").unseen is True


# -- session_for_dir --------------------------------------------------------------------------

def dirs_model(dirs: dict[str, str]) -> Model:
    """One session per (name → dir), created in the given order."""
    rows = [pane_row(f"%{i}", f"${i}", name, created=i, path=d) for i, (name, d) in enumerate(dirs.items(), start=1)]
    m = Model()
    m.apply_tmux(rows, [], now=0.0)
    return m


@pytest.mark.parametrize("directory,expected", [
    ("/home/u/proj", "proj"),                      # exact
    ("/home/u/proj/", "proj"),                     # a trailing slash is the same dir
    ("/home/u/proj/src/lib", "src"),               # the deepest parent
    ("/home/u/proj/docs", "proj"),
    ("/home/u/projector", "home"),                 # a prefix of the name is not a parent
    ("/home/u", "home"),
    ("/home/x", "a child"),                        # no parent: a session inside it
    ("/home", "home"),                             # … the first shown of several inside it
    ("/srv/nothing", None),
])
def test_session_for_dir(directory, expected):
    m = dirs_model({"home": "/home/u", "proj": "/home/u/proj", "src": "/home/u/proj/src",
                    "a child": "/home/x/child"})
    sid = m.session_for_dir(directory)
    assert (m.sessions[sid].name if sid else None) == expected


def test_session_for_dir_exact_wins_over_an_earlier_parent():
    m = dirs_model({"root": "/", "deep": "/a/b"})
    assert m.sessions[m.session_for_dir("/a/b")].name == "deep"
    assert m.sessions[m.session_for_dir("/a/b/c")].name == "deep"
    assert m.sessions[m.session_for_dir("/etc")].name == "root"     # / is everyone's parent


def test_session_for_dir_with_two_sessions_in_one_dir_takes_the_first_shown():
    m = dirs_model({"first": "/p", "second": "/p"})
    assert m.sessions[m.session_for_dir("/p")].name == "first"
    m.user_order = ["second", "first"]
    assert m.sessions[m.session_for_dir("/p")].name == "second"


# -- apply_event ------------------------------------------------------------------------------

def test_an_event_names_its_session_by_name():
    m = three()
    assert m.apply_event(ev(source="emit", status="running", thread_id="t1", session="beta", at=1.0), now=1.0)
    assert thread(m, "t1").session_id == "$2"
    m.apply_event(ev(source="emit", status="running", thread_id="t2", session="=gamma", at=1.0), now=1.0)
    assert thread(m, "t2").session_id == "$3"


def test_an_event_for_an_unknown_session_is_not_found():
    m = three()
    with pytest.raises(CommandError) as e:
        m.apply_event(ev(source="emit", status="running", thread_id="t1", session="delta"), now=1.0)
    assert e.value.code == P.NOT_FOUND
    assert m.tracker.threads == {}


def test_an_event_binds_to_its_pane_and_the_panes_session():
    m = three()
    m.apply_event(ev(status="running", thread_id="t1", pane="%3", pid=42, dir="/work/1", at=1.0), now=1.0)
    th = thread(m, "t1")
    assert (th.pane_id, th.session_id, th.pid, th.liveness) == ("%3", "$2", 42, "alive")


def test_an_event_uses_the_working_dir_when_there_is_no_pane():
    m = three()
    m.apply_event(ev(source="transcript", status="running", thread_id="t1", dir="/work/3/sub"), now=1.0)
    assert thread(m, "t1").session_id == "$3" and thread(m, "t1").session_guessed is True


def test_a_missing_name_rank_counts_as_a_first_prompt():
    m = three()
    m.apply_event(ev(status="running", thread_id="t1", thread_name="first", at=1.0), now=1.0)
    m.apply_event(ev(status="running", thread_id="t1", thread_name="second", at=2.0), now=2.0)
    m.apply_event(ev(status="running", thread_id="t1", thread_name="title", name_rank=2, at=3.0), now=3.0)
    assert thread(m, "t1").thread_name == "title"


def test_a_clock_far_ahead_is_clamped_to_ours():
    """An event stamped 1 h in the future would otherwise make every later (true) event `older`."""
    m = three()
    m.apply_event(ev(status="running", thread_id="t1", pane="%1", at=100.0 + 3600), now=100.0)
    assert thread(m, "t1").status_at == 100.0
    m.apply_event(ev(status="done", thread_id="t1", at=101.0), now=101.0)
    assert thread(m, "t1").status == "done"


def test_a_clock_slightly_ahead_is_kept():
    m = three()
    m.apply_event(ev(status="running", thread_id="t1", pane="%1", at=104.0), now=100.0)
    assert thread(m, "t1").status_at == 104.0
    m.apply_event(ev(status="done", thread_id="t1", at=103.0), now=103.0)        # older than 104: refused
    assert thread(m, "t1").status == "running"


def test_an_event_reports_whether_anything_visible_changed():
    m = three()
    assert m.apply_event(ev(status="running", thread_id="t1", pane="%1", at=1.0), now=1.0) is True
    assert m.apply_event(ev(status="running", thread_id="t1", pane="%1", at=2.0), now=2.0) is False
    assert m.apply_event(ev(status="done", thread_id="t1", pane="%1", at=3.0), now=3.0) is True


def test_validated_wire_events_apply():
    m = three()
    msg = P.decode(P.encode("event", agent="codex", source="hook", status="done", thread_id="cx",
                            pane="%4", pid=9, at=5.0, hook="agent-turn-complete"), P.COMMANDS)
    assert m.apply_event(msg, now=5.0) is True
    assert thread(m, "cx", "codex").session_id == "$3"


# -- metadata ---------------------------------------------------------------------------------

def test_set_status_and_clear_it():
    m = three()
    assert m.set_status("alpha", "deploying", "warn", now=5.0) == "alpha"
    assert m.metadata["alpha"].status == {"text": "deploying", "tone": "warn", "ts": 5.0}
    m.set_status("=alpha", "idle", None, now=6.0)
    assert m.metadata["alpha"].status == {"text": "idle", "tone": "neutral", "ts": 6.0}
    m.set_status("alpha", None, None, now=7.0)
    assert m.metadata["alpha"].status is None


def test_metadata_for_an_unknown_session_is_not_found():
    m = three()
    for call in (lambda: m.set_status("delta", "x", None, 1.0), lambda: m.add_log("delta", "x", None, None, 1.0),
                 lambda: m.set_progress("delta", {"percent": 5}, 1.0), lambda: m.clear_log("delta")):
        with pytest.raises(CommandError) as e:
            call()
        assert e.value.code == P.NOT_FOUND
    assert m.metadata == {}


def test_metadata_is_kept_under_the_stored_name():
    m = make_model([("$1", "\\$HOME", 1, ["%1"])])
    assert m.set_status("$HOME", "x", None, now=1.0) == "\\$HOME"
    assert set(m.metadata) == {"\\$HOME"}


def test_set_progress_and_clear_it():
    m = three()
    m.set_progress("beta", {"current": 3, "total": 4, "label": "tests"}, now=2.0)
    assert m.metadata["beta"].progress == {"current": 3, "total": 4, "percent": 75.0, "label": "tests", "ts": 2.0}
    m.set_progress("beta", {"percent": 10}, now=3.0)
    assert m.metadata["beta"].progress["percent"] == 10.0
    m.set_progress("beta", {"clear": True, "percent": 500}, now=4.0)         # clear wins, nothing checked
    assert m.metadata["beta"].progress is None


@pytest.mark.parametrize("msg", [{}, {"current": 5, "total": 4}, {"percent": 101}, {"percent": 5, "total": 9},
                                 {"current": 1}, {"total": 0, "current": 0}])
def test_bad_progress_is_a_bad_message_and_keeps_the_old_one(msg):
    m = three()
    m.set_progress("beta", {"percent": 40}, now=1.0)
    with pytest.raises(CommandError) as e:
        m.set_progress("beta", msg, now=2.0)
    assert e.value.code == P.BAD_MESSAGE and e.value.message
    assert m.metadata["beta"].progress["percent"] == 40.0


def test_the_log_appends_defaults_and_clears():
    m = three()
    m.add_log("gamma", "build ok", "success", "ci", now=1.0)
    m.add_log("gamma", "plain", None, None, now=2.0)
    assert list(m.metadata["gamma"].logs) == [
        {"message": "build ok", "tone": "success", "source": "ci", "ts": 1.0},
        {"message": "plain", "tone": "neutral", "source": None, "ts": 2.0}]
    assert m.clear_log("gamma") == "gamma"
    assert list(m.metadata["gamma"].logs) == []


def test_the_log_is_bounded_oldest_first_out():
    m = three()
    for i in range(P.LOGS_PER_SESSION + 5):
        m.add_log("gamma", f"m{i}", None, None, now=float(i))
    logs = list(m.metadata["gamma"].logs)
    assert len(logs) == P.LOGS_PER_SESSION and logs[0]["message"] == "m5"


def test_a_rename_carries_the_metadata():
    m = three()
    m.set_status("beta", "deploying", "warn", now=1.0)
    m.add_log("alpha", "a log", None, None, now=1.0)
    m.apply_tmux(session_rows([ALPHA, ("$2", "BETA!", 200, ["%3"]), GAMMA]), [], now=2.0)
    assert set(m.metadata) == {"BETA!", "alpha"}
    assert m.metadata["BETA!"].status["text"] == "deploying"


def test_renames_that_swap_names_swap_the_metadata():
    m = three()
    m.set_status("alpha", "A", None, now=1.0)
    m.set_status("beta", "B", None, now=1.0)
    m.apply_tmux(session_rows([("$1", "beta", 100, ["%1", "%2"]), ("$2", "alpha", 200, ["%3"]), GAMMA]), [], now=2.0)
    assert m.metadata["beta"].status["text"] == "A" and m.metadata["alpha"].status["text"] == "B"


def test_forget_session_drops_its_metadata_only():
    m = three()
    m.set_status("beta", "x", None, now=1.0)
    m.set_status("gamma", "y", None, now=1.0)
    m.forget_session(m.sessions["$2"])
    assert set(m.metadata) == {"gamma"}


# -- clients moving ---------------------------------------------------------------------------

def test_switching_a_client_makes_the_new_sessions_active_pane_seen():
    m = three([client_row("/dev/pts/1", "$1", "alpha", pane_id="%1")])
    m.apply_event(ev(status="done", thread_id="in-gamma", pane="%4", at=1.0), now=1.0)
    m.apply_event(ev(status="done", thread_id="in-beta", pane="%3", at=1.0), now=1.0)
    assert thread(m, "in-gamma").unseen and thread(m, "in-beta").unseen
    m.set_client_session("/dev/pts/1", m.sessions["$3"])
    c = m.clients["/dev/pts/1"]
    assert (c.session_id, c.pane_id, c.window_id) == ("$3", "%4", "@3")
    assert thread(m, "in-gamma").unseen is False and thread(m, "in-beta").unseen is True


def test_only_the_active_pane_of_the_new_session_is_seen():
    m = three([client_row("/dev/pts/1", "$3", "gamma", pane_id="%4")])
    m.apply_event(ev(status="done", thread_id="active", pane="%1", at=1.0), now=1.0)
    m.apply_event(ev(status="done", thread_id="inactive", pane="%2", at=1.0), now=1.0)
    assert m.client_session_changed("/dev/pts/1", "$1", "alpha") is True
    assert m.clients["/dev/pts/1"].pane_id == "%1"
    assert thread(m, "active").unseen is False and thread(m, "inactive").unseen is True


def test_a_client_moving_to_a_session_without_panes_looks_at_no_pane():
    m = three([client_row("/dev/pts/1", "$1", "alpha", pane_id="%1")])
    m.client_session_changed("/dev/pts/1", "$9", "unlisted-yet")
    assert m.clients["/dev/pts/1"].pane_id == ""


def test_a_listing_marks_what_clients_look_at_as_seen():
    m = three([client_row("/dev/pts/1", "$1", "alpha", pane_id="%1")])
    m.apply_event(ev(status="done", thread_id="t1", pane="%2", at=1.0), now=1.0)
    assert thread(m, "t1").unseen is True
    m.apply_tmux(session_rows([ALPHA, BETA, GAMMA]), [client_row("/dev/pts/1", "$1", "alpha", pane_id="%2")], now=2.0)
    assert thread(m, "t1").unseen is False


def test_highlights_of_clients_that_left_are_dropped():
    m = three([client_row("/dev/pts/1", "$1", "alpha"), client_row("/dev/pts/2", "$2", "beta")])
    m.highlights = {"/dev/pts/1": "gamma", "/dev/pts/2": "alpha"}
    m.apply_tmux(session_rows([ALPHA, BETA, GAMMA]), [client_row("/dev/pts/2", "$2", "beta")], now=1.0)
    assert m.highlights == {"/dev/pts/2": "alpha"}
