"""services/state/tracker.py: evidence about agent threads (Tracker.apply_event) — the evidence
ladder, `waiting` that only an answer clears, pane binding, names — and invariants under any mix
of evidence, process scans, vanished panes and time."""
from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given, strategies as st

from services.state import tracker as T
from services.state.tracker import ACTIVE, STRONG_HOLD, TERMINAL, Tracker, clean_name

from ._builders import FEW, PROPS, Feed, everybody_looks

PANES = {"%0": "$1", "%1": "$1", "%2": "$2"}


def feed(**kw) -> Feed:
    return Feed(pane_session=kw.pop("pane_session", PANES), **kw)


# -- identity ---------------------------------------------------------------------------------

def test_threads_are_keyed_by_agent_and_thread_id():
    f = feed()
    f("claude-code", status="running", thread_id="same", at=1.0)
    f("codex", status="done", thread_id="same", at=1.0)
    assert set(f.tracker.threads) == {Tracker.key("claude-code", "same"), Tracker.key("codex", "same")}
    assert f.thread("same", "claude-code").status == "running"
    assert f.thread("same", "codex").status == "done"
    assert Tracker.key("a", "b:c") != Tracker.key("a:b", "c")      # no collision through a separator


def test_a_new_thread_from_evidence_without_pane_or_process():
    f = feed()
    assert f(status="running", thread_id="t1", thread_name="fix the bug", at=5.0, now=6.0) is True
    th = f.thread("t1")
    assert (th.status, th.liveness, th.pane_id, th.session_id, th.thread_name) == \
        ("running", "unknown", None, None, "fix the bug")
    assert th.since == 6.0 and th.status_at == 5.0 and th.source == "hook"


def test_the_same_evidence_twice_changes_nothing_visible():
    f = feed()
    assert f(status="running", thread_id="t1", pane="%0", at=1.0) is True
    assert f(status="running", thread_id="t1", pane="%0", at=2.0) is False
    assert f.thread("t1").since == 1.0


def test_an_end_for_an_unknown_thread_creates_nothing():
    f = feed()
    assert f(status=None, thread_id="ghost", pane="%0", ends=True, at=1.0) is False
    assert f.tracker.threads == {}


def test_evidence_without_a_status_creates_an_idle_thread_and_keeps_a_status():
    f = feed()
    f(status=None, thread_id="t1", pane="%0", at=1.0)
    assert f.thread("t1").status == "idle"
    f(status="running", thread_id="t1", at=2.0)
    f(status=None, thread_id="t1", thread_name="named later", at=3.0)
    assert f.thread("t1").status == "running" and f.thread("t1").thread_name == "named later"


def test_evidence_without_a_thread_id_finds_the_thread_by_process_then_by_pane():
    f = feed()
    f(status="running", thread_id="t1", pane="%0", pid=100, at=1.0)
    f(status="waiting", pid=100, at=2.0)                          # e.g. a status file: the pid only
    assert f.thread("t1").status == "waiting"
    f(status="done", pane="%0", at=3.0)                            # e.g. the screen: the pane only
    assert f.thread("t1").status == "done"
    assert len(f.tracker.threads) == 1


# -- the evidence ladder ----------------------------------------------------------------------

@pytest.mark.parametrize("older_source", ["hook", "status-file", "emit", "transcript", "screen", "process"])
def test_older_evidence_never_wins(older_source):
    f = feed()
    f(status="done", thread_id="t1", pane="%0", at=10.0)
    rejected = f.tracker.rejected
    assert f(source=older_source, status="running", thread_id="t1", at=9.0, now=11.0) is False
    assert f.thread("t1").status == "done" and f.thread("t1").status_at == 10.0
    assert f.tracker.rejected == rejected + 1


def test_evidence_at_the_same_moment_is_not_older():
    f = feed()
    f(status="running", thread_id="t1", at=10.0)
    f(status="done", thread_id="t1", at=10.0)
    assert f.thread("t1").status == "done"


@pytest.mark.parametrize("weaker", ["transcript", "screen", "process"])
def test_a_fresh_stronger_claim_holds_against_a_weaker_source(weaker):
    f = feed()
    f(source="hook", status="waiting", thread_id="t1", pane="%0", at=10.0)
    f(source=weaker, status="running", thread_id="t1", at=10.0 + STRONG_HOLD - 0.5)
    assert f.thread("t1").status == "waiting" and f.thread("t1").source == "hook"
    f(source=weaker, status="running", thread_id="t1", at=10.0 + STRONG_HOLD)     # the hold is over
    assert f.thread("t1").status == "running" and f.thread("t1").source == weaker


def test_a_stronger_source_replaces_a_weaker_claim_at_once():
    f = feed()
    f(source="screen", status="running", thread_id="t1", pane="%0", at=10.0)
    f(source="hook", status="waiting", thread_id="t1", at=10.1)
    assert f.thread("t1").status == "waiting"
    f(source="transcript", status="done", thread_id="t1", at=16.0)
    f(source="status-file", status="running", thread_id="t1", at=16.2)
    assert f.thread("t1").status == "running"


@pytest.mark.parametrize("a,b", [("hook", "status-file"), ("status-file", "hook"), ("emit", "hook"), ("hook", "emit")])
def test_equally_strong_sources_replace_each_other(a, b):
    f = feed()
    f(source=a, status="running", thread_id="t1", at=10.0)
    f(source=b, status="done", thread_id="t1", at=10.1)
    assert f.thread("t1").status == "done"


def test_a_weaker_source_agreeing_with_a_fresh_stronger_claim_does_not_weaken_it():
    """The hold protects the hook's claim made at 10 until 10 + STRONG_HOLD. A screen read that
    agrees (waiting, at 11) must not hand the claim to the screen: a transcript line at 12 saying
    `running` is still weaker than the hook and still inside the hold."""
    f = feed()
    f(source="hook", status="waiting", thread_id="t1", pane="%0", at=10.0)
    f(source="screen", status="waiting", thread_id="t1", at=11.0)
    f(source="transcript", status="running", thread_id="t1", at=12.0)
    assert f.thread("t1").status == "waiting"


# -- waiting: only an answer clears it --------------------------------------------------------

@pytest.mark.parametrize("status", ["running", "tool-running"])
@pytest.mark.parametrize("later", [0.1, STRONG_HOLD + 1, 600.0])
def test_running_evidence_that_keeps_waiting_never_clears_waiting(status, later):
    f = feed()
    f(status="waiting", thread_id="t1", pane="%0", at=10.0)
    f(status=status, thread_id="t1", keeps_waiting=True, at=10.0 + later)
    assert f.thread("t1").status == "waiting"


@pytest.mark.parametrize("answer", ["running", "tool-running", "done", "error", "interrupted"])
def test_evidence_of_an_answer_clears_waiting(answer):
    f = feed()
    f(status="waiting", thread_id="t1", pane="%0", at=10.0)
    f(status=answer, thread_id="t1", at=10.5)
    assert f.thread("t1").status == answer


def test_keeps_waiting_evidence_applies_when_the_thread_is_not_waiting():
    f = feed()
    f(status="done", thread_id="t1", pane="%0", at=10.0)
    f(status="running", thread_id="t1", keeps_waiting=True, at=11.0)   # a subagent, a compaction…
    assert f.thread("t1").status == "running"


def test_a_finished_turn_is_not_turned_into_idle():
    f = feed()
    f(status="done", thread_id="t1", pane="%0", at=10.0)
    for source in ("hook", "status-file", "transcript", "screen"):
        f(source=source, status="idle", thread_id="t1", at=100.0)
    assert f.thread("t1").status == "done"
    f(status="running", thread_id="t1", at=101.0)                      # a new prompt
    f(status="idle", thread_id="t1", at=102.0)
    assert f.thread("t1").status == "idle"


# -- unseen -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_a_terminal_status_nobody_looks_at_is_unseen(status):
    f = feed()
    f(status="running", thread_id="t1", pane="%0", at=1.0)
    f(status=status, thread_id="t1", at=2.0)
    assert f.thread("t1").unseen is True


def test_a_terminal_status_someone_looks_at_is_seen():
    f = feed(looking=everybody_looks)
    f(status="done", thread_id="t1", pane="%0", at=1.0)
    assert f.thread("t1").unseen is False


@pytest.mark.parametrize("status", ["running", "tool-running", "waiting"])
def test_any_non_terminal_status_clears_unseen(status):
    f = feed()
    f(status="done", thread_id="t1", pane="%0", at=1.0)
    assert f.thread("t1").unseen is True
    f(status=status, thread_id="t1", at=2.0)
    assert f.thread("t1").unseen is False


def test_idle_clears_unseen_except_after_done_where_it_is_refused():
    f = feed()
    f(status="error", thread_id="t1", pane="%0", at=1.0)
    f(status="idle", thread_id="t1", at=2.0)
    assert (f.thread("t1").status, f.thread("t1").unseen) == ("idle", False)
    f(status="done", thread_id="t1", at=3.0)
    f(status="idle", thread_id="t1", at=4.0)
    assert (f.thread("t1").status, f.thread("t1").unseen) == ("done", True)


def test_the_looking_callback_sees_the_pane_the_event_binds():
    seen_panes = []

    def looking(th):
        seen_panes.append(th.pane_id)
        return th.pane_id == "%0"

    f = feed(looking=looking)
    f(status="done", thread_id="t1", pane="%0", at=1.0)
    assert seen_panes == ["%0"] and f.thread("t1").unseen is False


# -- ends -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,after", [("running", "interrupted"), ("tool-running", "interrupted"),
                                          ("waiting", "interrupted"), ("done", "done"), ("idle", "idle"),
                                          ("error", "error")])
def test_an_end_marks_exited_and_interrupts_an_active_turn(status, after):
    f = feed()
    f(status=status, thread_id="t1", pane="%0", pid=100, at=1.0)
    assert f(status=None, thread_id="t1", pane="%0", pid=100, ends=True, at=2.0, now=3.0) is True
    th = f.thread("t1")
    assert th.liveness == "exited" and th.status == after
    if after != status:
        assert th.since == 3.0 and th.unseen is True


def test_an_end_with_a_status_applies_the_status_first():
    f = feed()
    f(status="running", thread_id="t1", pane="%0", at=1.0)
    f(status="done", thread_id="t1", ends=True, at=2.0)
    assert (f.thread("t1").status, f.thread("t1").liveness) == ("done", "exited")


# -- binding a thread to a pane ---------------------------------------------------------------

def test_binding_absorbs_the_placeholder_of_the_agent_in_that_pane():
    f = feed()
    f.tracker.apply_presence({"%0": [("claude-code", 100), ("codex", 200)]}, PANES, now=1.0)
    f(status="running", thread_id="real", pane="%0", pid=100, at=2.0)
    threads = {(th.agent, th.thread_id): th for th in f.tracker.threads.values()}
    assert ("claude-code", "real") in threads
    assert not any(th.placeholder for th in threads.values() if th.agent == "claude-code")
    assert [th.placeholder for th in threads.values() if th.agent == "codex"] == [True]   # not its pane's agent
    real = threads[("claude-code", "real")]
    assert (real.pane_id, real.session_id, real.pid, real.liveness) == ("%0", "$1", 100, "alive")


def test_binding_without_a_pid_takes_the_placeholders_process():
    f = feed()
    f.tracker.apply_presence({"%0": [("claude-code", 100)]}, PANES, now=1.0)
    f(status="running", thread_id="real", pane="%0", at=2.0)
    assert [th.thread_id for th in f.tracker.threads.values()] == ["real"]
    assert f.thread("real").pid == 100
    # the next scan finds the process: the thread stays, no new placeholder appears
    assert f.tracker.apply_presence({"%0": [("claude-code", 100)]}, PANES, now=3.0) is False
    assert [th.thread_id for th in f.tracker.threads.values()] == ["real"]
    assert f.thread("real").status == "running"


def test_binding_ends_an_older_thread_of_the_same_agent_in_that_pane():
    f = feed()
    f(status="running", thread_id="old", pane="%0", pid=100, at=1.0)
    f(status="running", thread_id="other-pane", pane="%1", pid=300, at=1.0)
    f(status="running", thread_id="codex", agent="codex", pane="%0", pid=200, at=1.0)
    f(status="idle", thread_id="new", pane="%0", pid=100, at=5.0, now=5.0)
    old = f.thread("old")
    assert (old.liveness, old.pane_id, old.status, old.since, old.unseen) == ("exited", None, "interrupted", 5.0, True)
    assert f.thread("new").pane_id == "%0" and f.thread("new").liveness == "alive"
    assert f.thread("other-pane").liveness == "alive" and f.thread("other-pane").status == "running"
    assert f.thread("codex", "codex").liveness == "alive" and f.thread("codex", "codex").pane_id == "%0"


def test_a_new_thread_in_the_same_process_survives_the_next_process_scan():
    """Claude Code's /clear: SessionEnd(reason clear) for the old session id, then SessionStart
    with a new session id from the same process in the same pane. The next process scan sees the
    same pid: the new thread must keep its pane and its running turn, the old one stays ended,
    and a second identical scan changes nothing."""
    f = feed()
    f.tracker.apply_presence({"%0": [("claude-code", 100)]}, PANES, now=1.0)
    f(status="idle", thread_id="A", pane="%0", pid=100, at=2.0)
    f(status="running", thread_id="A", pane="%0", pid=100, at=3.0)
    f(status="done", thread_id="A", pane="%0", pid=100, at=4.0)
    f(status=None, thread_id="A", pane="%0", pid=100, ends=True, at=5.0)
    f(status="idle", thread_id="B", pane="%0", pid=100, at=5.1)
    f(status="running", thread_id="B", pane="%0", pid=100, at=6.0)
    f.tracker.apply_presence({"%0": [("claude-code", 100)]}, PANES, now=7.0)
    a, b = f.thread("A"), f.thread("B")
    assert (b.status, b.liveness, b.pane_id) == ("running", "alive", "%0")
    assert (a.status, a.liveness, a.pane_id) == ("done", "exited", None)
    assert f.tracker.apply_presence({"%0": [("claude-code", 100)]}, PANES, now=8.0) is False


def test_the_pane_decides_the_session_over_a_directory_guess():
    f = feed(dirs={"/work/two": "$2"})
    f(status="running", thread_id="t1", pane="%0", dir="/work/two", at=1.0)
    assert f.thread("t1").session_id == "$1" and f.thread("t1").session_guessed is False
    f(status="done", thread_id="t1", dir="/work/two", at=2.0)
    assert f.thread("t1").session_id == "$1"


def test_a_directory_guess_until_a_pane_is_known():
    f = feed(dirs={"/work/two": "$2", "/work/one": "$1"})
    f(source="transcript", status="running", thread_id="t1", dir="/work/two", at=1.0)
    th = f.thread("t1")
    assert (th.session_id, th.session_guessed, th.pane_id, th.dir) == ("$2", True, None, "/work/two")
    f(source="transcript", status="running", thread_id="t1", dir="/work/one", at=2.0)   # a guess follows the dir
    assert th.session_id == "$1"
    f(source="hook", status="running", thread_id="t1", pane="%2", at=3.0)
    assert (th.session_id, th.session_guessed, th.pane_id) == ("$2", False, "%2")


def test_a_named_session_is_not_overridden_by_a_guess():
    f = feed(dirs={"/work/two": "$2"})
    f(source="emit", status="running", thread_id="t1", session="$1", at=1.0)
    f(source="transcript", status="running", thread_id="t1", dir="/work/two", at=2.0)
    assert f.thread("t1").session_id == "$1" and f.thread("t1").session_guessed is False


def test_a_pane_tmux_has_not_listed_yet_is_not_bound():
    f = feed(dirs={"/home/dev/proj": "$1"})
    f(status="running", thread_id="t1", pane="%99", dir="/home/dev/proj", at=1.0)
    th = f.thread("t1")
    assert th.pane_id is None and th.session_id == "$1" and th.session_guessed is True


def test_a_pane_moved_to_another_session_takes_its_thread_along():
    f = feed()
    f(status="running", thread_id="t1", pane="%0", at=1.0)
    f.pane_session["%0"] = "$2"
    assert f(status="running", thread_id="t1", pane="%0", at=2.0) is True
    assert f.thread("t1").session_id == "$2"


# -- names ------------------------------------------------------------------------------------

def test_the_first_prompt_names_a_thread_until_a_better_name_comes():
    f = feed()
    f(status="running", thread_id="t1", thread_name="say hi", name_rank=1, at=1.0)
    f(status="running", thread_id="t1", thread_name="create hi.txt", name_rank=1, at=2.0)
    assert f.thread("t1").thread_name == "say hi"
    f(source="transcript", thread_id="t1", thread_name="Greet the user", name_rank=2, at=3.0)
    assert f.thread("t1").thread_name == "Greet the user"
    f(source="transcript", thread_id="t1", thread_name="Greet and create a file", name_rank=2, at=4.0)
    assert f.thread("t1").thread_name == "Greet and create a file"         # an agent title may change
    f(source="transcript", thread_id="t1", thread_name="my own name", name_rank=3, at=5.0)
    f(source="transcript", thread_id="t1", thread_name="Agent title again", name_rank=2, at=6.0)
    f(status="running", thread_id="t1", thread_name="third prompt", name_rank=1, at=7.0)
    assert f.thread("t1").thread_name == "my own name"


def test_names_are_cleaned_and_blank_names_ignored():
    f = feed()
    f(status="running", thread_id="t1", thread_name="  fix   the\tbug \nand more lines", at=1.0)
    assert f.thread("t1").thread_name == "fix the bug"
    f(thread_id="t1", thread_name=" \n\t ", name_rank=3, at=2.0)
    assert f.thread("t1").thread_name == "fix the bug"


@pytest.mark.parametrize("text,expected", [
    (None, None), ("", None), ("   ", None), ("\n\n", None),
    ("hello", "hello"), ("  hello  ", "hello"), ("a\tb   c", "a b c"),
    ("first line\nsecond line", "first line"), ("\n\n  real first\nsecond", "real first"),
    ("x" * 80, "x" * 80), ("x" * 81, "x" * 79 + "…"), ("日本語 " * 30, ("日本語 " * 30)[:79] + "…"),
])
def test_clean_name(text, expected):
    assert clean_name(text) == expected


@PROPS
@given(st.text(max_size=300))
def test_clean_name_is_one_short_folded_line(text):
    name = clean_name(text)
    if name is None:
        assert not text.strip()
        return
    assert 0 < len(name) <= T.NAME_MAX
    assert name == name.strip() and "  " not in name
    assert not any(c in name for c in "\n\r\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    assert clean_name(name) == name                                         # idempotent


# -- a random life of evidence ----------------------------------------------------------------

STATUS_ST = st.none() | st.sampled_from(T.STATUSES)
event_st = st.fixed_dictionaries({
    "agent": st.sampled_from(["claude-code", "codex"]),
    "source": st.sampled_from(["hook", "transcript", "screen", "status-file", "process"]),
    "status": STATUS_ST,
    "thread_id": st.none() | st.sampled_from(["a", "b", "c"]),
    "pane": st.none() | st.sampled_from(["%0", "%1", "%2", "%9"]),
    "pid": st.none() | st.integers(100, 103),
    "dir": st.none() | st.sampled_from(["/work/1", "/work/2/sub", "/elsewhere"]),
    "back": st.sampled_from([0.0, 0.0, 1.0, 10.0]),          # how old the evidence is
    "keeps_waiting": st.booleans(),
    "ends": st.booleans() | st.just(False),
})
life_op = st.one_of(
    st.tuples(st.just("event"), event_st),
    st.tuples(st.just("presence"), st.dictionaries(st.sampled_from(["%0", "%1", "%2"]),
                                                   st.lists(st.tuples(st.sampled_from(["claude-code", "codex"]),
                                                                      st.integers(100, 103)),
                                                            max_size=2, unique_by=lambda r: r[1]), max_size=2)),
    st.tuples(st.just("forget"), st.sets(st.sampled_from(["%0", "%1", "%2"]))),
    st.tuples(st.just("expire"), st.sampled_from([1.0, 200.0, 400.0, 2000.0])),
    st.tuples(st.just("seen"), st.sampled_from(["%0", "%1", "%2"])),
)
DIRS = {"/work/1": "$1", "/work/2/sub": "$2"}


def _unique_pids(panes: dict) -> dict:
    seen, out = set(), {}
    for pane, rows in panes.items():
        rows = [r for r in rows if r[1] not in seen]
        seen.update(r[1] for r in rows)
        out[pane] = rows
    return out


def check_invariants(tr: Tracker, now: float) -> None:
    identities = [(th.agent, th.thread_id) for th in tr.threads.values()]
    assert len(identities) == len(set(identities))                          # no thread twice
    for k, th in tr.threads.items():
        assert k == Tracker.key(th.agent, th.thread_id)
        assert th.status in T.STATUSES and th.liveness in ("alive", "exited", "unknown")
        if th.status in TERMINAL:
            assert th.since > 0 and th.since <= now                         # a terminal thread has a since
        if th.unseen:
            assert th.status in TERMINAL                                    # non-terminal clears unseen
        if th.placeholder:
            assert th.status == "idle"
    groups = tr.by_session()
    listed = [Tracker.key(th.agent, th.thread_id) for threads in groups.values() for th in threads]
    assert len(listed) == len(set(listed))                                  # at most one session
    assert set(listed) == {k for k, th in tr.threads.items() if th.session_id is not None}
    for sid, threads in groups.items():
        assert all(th.session_id == sid for th in threads)


@PROPS
@given(st.lists(life_op, max_size=25))
def test_invariants_hold_under_any_mix_of_evidence(ops):
    tr = Tracker(exited_linger=30.0)
    looked_at: set[str] = set()
    f = Feed(tr, pane_session={"%0": "$1", "%1": "$1", "%2": "$2"}, dirs=DIRS,
             looking=lambda th: th.pane_id in looked_at)
    now = 1.0
    for op, arg in ops:
        now += 1.0
        if op == "event":
            e = dict(arg)
            back = e.pop("back")
            f(now=now, at=now - back, **e)
        elif op == "presence":
            tr.apply_presence(_unique_pids(arg), f.pane_session, now)
        elif op == "forget":
            tr.forget_panes(arg, now)
            assert all(th.pane_id in arg for th in tr.threads.values() if th.pane_id is not None)
        elif op == "expire":
            now += arg
            tr.expire(now, f.looking)
        else:
            looked_at = {arg}
            tr.mark_seen(f.looking)
            assert not any(th.unseen and th.pane_id == arg for th in tr.threads.values())
        check_invariants(tr, now)


@FEW
@given(st.lists(life_op, max_size=25), st.integers(0, 4))
def test_expire_bounds_memory_to_max_threads(ops, bound):
    tr = Tracker(exited_linger=30.0)
    f = Feed(tr, pane_session={"%0": "$1", "%1": "$1", "%2": "$2"}, dirs=DIRS)
    now = 1.0
    with mock.patch.object(T, "MAX_THREADS", bound):
        for op, arg in ops:
            now += 1.0
            if op == "event":
                e = dict(arg)
                e.pop("back")
                f(now=now, at=now, **{**e, "thread_id": e["thread_id"] and f"{e['thread_id']}{now}"})
            elif op == "presence":
                tr.apply_presence(_unique_pids(arg), f.pane_session, now)
            elif op == "forget":
                tr.forget_panes(arg, now)
            tr.expire(now)
            alive = sum(th.liveness == "alive" for th in tr.threads.values())
            assert len(tr.threads) <= max(bound, alive)          # only live agents may exceed it
            check_invariants(tr, now)


@PROPS
@given(st.sampled_from(T.STATUSES), st.sampled_from(sorted(T.SOURCE_RANK)), st.sampled_from(T.STATUSES),
       st.sampled_from(sorted(T.SOURCE_RANK)), st.floats(0.001, 1000.0), st.booleans())
def test_older_evidence_never_changes_the_status(first, first_source, second, second_source, age, keeps):
    f = feed()
    f(source=first_source, status=first, thread_id="t", pane="%0", at=5000.0)
    before = f.thread("t").status
    f(source=second_source, status=second, thread_id="t", at=5000.0 - age, keeps_waiting=keeps, now=5001.0)
    assert f.thread("t").status == before


def test_max_threads_drops_the_oldest_dead_threads_first():
    tr = Tracker()
    f = Feed(tr)
    with mock.patch.object(T, "MAX_THREADS", 3):
        for i in range(5):
            f(status="error", thread_id=f"dead{i}", at=float(i + 1), now=float(i + 1))
        assert tr.expire(now=7.0) is True
    assert sorted(th.thread_id for th in tr.threads.values()) == ["dead2", "dead3", "dead4"]


def test_max_threads_never_drops_a_live_thread():
    tr = Tracker()
    f = Feed(tr, pane_session={f"%{i}": "$1" for i in range(4)})
    with mock.patch.object(T, "MAX_THREADS", 2):
        for i in range(4):
            f(status="running", thread_id=f"live{i}", pane=f"%{i}", pid=100 + i, at=1.0)
        tr.expire(now=2.0)
    assert len(tr.threads) == 4 and all(th.liveness == "alive" for th in tr.threads.values())


def test_the_real_bound_is_large():
    assert T.MAX_THREADS >= 1000 and STRONG_HOLD > 0 and ACTIVE == {"running", "tool-running", "waiting"}
