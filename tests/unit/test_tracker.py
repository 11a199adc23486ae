"""services/state/tracker.py: presence by process, liveness, expiry, the session's one state."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import given, strategies as st

from services.state.tracker import (PRUNE_SEEN_AFTER, PRUNE_UNSEEN_AFTER, STALE_AFTER, STATUSES, TERMINAL, Thread,
                                    Tracker, representative_state)

from ._builders import PROPS, Feed

# DESIGN §3: tool-running > running > error > stale > interrupted > waiting > done > idle,
# except that a waiting agent always shows.
SPEC_PRIORITY = ["tool-running", "running", "error", "stale", "interrupted", "waiting", "done", "idle"]


def thread(status: str, tid: str = "t", pane: str = "%1", session: str = "$1") -> Thread:
    return Thread("claude-code", tid, pane, session, status=status)


# -- representative_state ---------------------------------------------------------------------

def test_no_threads_no_state():
    assert representative_state([]) is None


@pytest.mark.parametrize("status", STATUSES)
def test_one_thread_is_its_own_state(status):
    assert representative_state([thread(status)]) == status


@pytest.mark.parametrize("other", [s for s in STATUSES if s != "waiting"])
def test_waiting_always_wins(other):
    assert representative_state([thread(other, "a"), thread("waiting", "b")]) == "waiting"
    assert representative_state([thread("waiting", "b"), thread(other, "a")]) == "waiting"


@pytest.mark.parametrize("a,b", list(itertools.combinations([s for s in SPEC_PRIORITY if s != "waiting"], 2)))
def test_priority_between_two_states(a, b):
    # SPEC_PRIORITY lists a before b: a wins in either order
    assert representative_state([thread(a, "1"), thread(b, "2")]) == a
    assert representative_state([thread(b, "1"), thread(a, "2")]) == a


def test_vocabulary_matches_the_design():
    assert set(STATUSES) == set(SPEC_PRIORITY)
    assert TERMINAL == {"done", "error", "interrupted", "stale"}


@PROPS
@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_representative_state_follows_the_spec(statuses, rnd):
    threads = [thread(s, str(i)) for i, s in enumerate(statuses)]
    expected = "waiting" if "waiting" in statuses else min(statuses, key=SPEC_PRIORITY.index)
    assert representative_state(threads) == expected
    rnd.shuffle(threads)
    assert representative_state(threads) == expected


# -- apply_presence ---------------------------------------------------------------------------

def test_new_agent_process_becomes_an_alive_thread():
    t = Tracker()
    assert t.apply_presence({"%1": [("claude-code", 6775)]}, {"%1": "$1"}, now=10.0) is True
    (th,) = t.threads.values()
    assert (th.agent, th.pane_id, th.session_id, th.pid) == ("claude-code", "%1", "$1", 6775)
    assert th.liveness == "alive" and th.since == 10.0
    assert th.status == "idle" and th.unseen is False


def test_same_observation_again_changes_nothing():
    t = Tracker()
    t.apply_presence({"%1": [("codex", 7973)]}, {"%1": "$1"}, now=10.0)
    assert t.apply_presence({"%1": [("codex", 7973)]}, {"%1": "$1"}, now=20.0) is False
    (th,) = t.threads.values()
    assert th.since == 10.0


def test_process_gone_means_exited_once():
    t = Tracker()
    t.apply_presence({"%1": [("codex", 7973)]}, {"%1": "$1"}, now=10.0)
    assert t.apply_presence({"%1": []}, {"%1": "$1"}, now=15.0) is True
    (th,) = t.threads.values()
    assert th.liveness == "exited" and th.since == 15.0
    assert t.apply_presence({"%1": []}, {"%1": "$1"}, now=16.0) is False
    assert th.since == 15.0


def test_process_back_means_alive_again():
    # `since` is when the status last changed (it did not: idle throughout); the placeholder's
    # exit time only counts for its linger, and an alive placeholder never expires
    t = Tracker(exited_linger=30.0)
    t.apply_presence({"%1": [("codex", 7973)]}, {"%1": "$1"}, now=10.0)
    t.apply_presence({}, {}, now=11.0)
    assert t.apply_presence({"%1": [("codex", 7973)]}, {"%1": "$1"}, now=12.0) is True
    (th,) = t.threads.values()
    assert th.liveness == "alive" and th.status == "idle" and th.pane_id == "%1"
    assert t.expire(now=10_000.0) is False and list(t.threads.values()) == [th]


def test_new_pid_in_the_same_pane_is_a_new_thread():
    t = Tracker()
    t.apply_presence({"%1": [("claude-code", 100)]}, {"%1": "$1"}, now=1.0)
    t.apply_presence({"%1": [("claude-code", 200)]}, {"%1": "$1"}, now=2.0)
    by_pid = {th.pid: th for th in t.threads.values()}
    assert by_pid[100].liveness == "exited" and by_pid[200].liveness == "alive"


def test_two_agents_in_one_pane_are_two_threads():
    t = Tracker()
    t.apply_presence({"%1": [("claude-code", 100), ("codex", 200)]}, {"%1": "$1"}, now=1.0)
    assert sorted(th.agent for th in t.threads.values()) == ["claude-code", "codex"]
    assert len({th.thread_id for th in t.threads.values()}) == 2


def test_pane_moved_to_another_session_moves_its_thread():
    t = Tracker()
    t.apply_presence({"%1": [("pi", 5)]}, {"%1": "$1"}, now=1.0)
    assert t.apply_presence({"%1": [("pi", 5)]}, {"%1": "$2"}, now=2.0) is True
    assert [th.session_id for th in t.threads.values()] == ["$2"]
    assert list(t.by_session()) == ["$2"]


def test_thread_in_an_unknown_pane_has_no_session():
    t = Tracker()
    t.apply_presence({"%9": [("amp", 5)]}, {}, now=1.0)
    (th,) = t.threads.values()
    assert th.session_id is None
    assert t.by_session() == {}


def test_placeholder_is_an_idle_placeholder_keyed_by_agent_pane_and_pid():
    t = Tracker()
    t.apply_presence({"%1": [("claude-code", 6775)]}, {"%1": "$1"}, now=10.0)
    (key, th), = t.threads.items()
    assert th.placeholder is True and th.status == "idle" and th.unseen is False
    assert th.thread_id == Tracker.presence_id("claude-code", "%1", 6775)
    assert key == Tracker.key("claude-code", th.thread_id)


@pytest.mark.parametrize("status", ["running", "tool-running", "waiting"])
def test_the_process_of_an_active_thread_disappearing_interrupts_it(status):
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"})
    f(status=status, thread_id="t1", pane="%1", pid=6775, at=1.0)
    assert t.apply_presence({"%1": []}, {"%1": "$1"}, now=9.0) is True      # kill -9: no SessionEnd
    th = f.thread("t1")
    assert (th.liveness, th.status, th.since) == ("exited", "interrupted", 9.0)
    assert t.apply_presence({"%1": []}, {"%1": "$1"}, now=10.0) is False


@pytest.mark.parametrize("status", ["idle", "done", "error"])
def test_the_process_of_a_resting_thread_disappearing_keeps_its_status(status):
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"})
    f(status=status, thread_id="t1", pane="%1", pid=6775, at=1.0)
    t.apply_presence({}, {"%1": "$1"}, now=9.0)
    assert (f.thread("t1").liveness, f.thread("t1").status) == ("exited", status)


def test_a_thread_known_only_by_pane_adopts_the_process_found_there():
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"})
    f(status="running", thread_id="t1", pane="%1", at=1.0)                 # a hook without a pid
    t.apply_presence({"%1": [("claude-code", 6775)]}, {"%1": "$1"}, now=2.0)
    assert [th.thread_id for th in t.threads.values()] == ["t1"]            # no placeholder beside it
    assert f.thread("t1").pid == 6775
    t.apply_presence({"%1": []}, {"%1": "$1"}, now=3.0)
    assert (f.thread("t1").liveness, f.thread("t1").status) == ("exited", "interrupted")


def test_a_pid_now_running_another_agent_does_not_keep_a_thread_alive():
    # pid reuse: claude-code 100 quit, a codex process got pid 100
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"})
    f(status="running", thread_id="t1", pane="%1", pid=100, at=1.0)
    t.apply_presence({"%1": [("codex", 100)]}, {"%1": "$1"}, now=2.0)
    assert f.thread("t1").liveness == "exited"
    assert f.thread("t1").status == "interrupted"


def test_threads_of_other_agents_in_the_pane_are_not_touched_by_presence():
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"})
    f("codex", status="done", thread_id="cx", pane="%1", pid=200, at=1.0)
    t.apply_presence({"%1": [("codex", 200), ("claude-code", 100)]}, {"%1": "$1"}, now=2.0)
    assert f.thread("cx", "codex").status == "done" and f.thread("cx", "codex").liveness == "alive"
    assert sorted(th.agent for th in t.threads.values()) == ["claude-code", "codex"]


# -- forget_panes / expire --------------------------------------------------------------------

def test_forget_panes_ends_threads_of_vanished_panes():
    # a vanished pane's thread exits and lets go of the pane id (tmux may hand it out again)
    t = Tracker()
    t.apply_presence({"%1": [("codex", 1)], "%2": [("pi", 2)]}, {"%1": "$1", "%2": "$1"}, now=1.0)
    assert t.forget_panes({"%2"}, now=5.0) is True
    state = {th.agent: (th.pane_id, th.liveness, th.since, th.session_id) for th in t.threads.values()}
    assert state == {"codex": (None, "exited", 5.0, "$1"), "pi": ("%2", "alive", 1.0, "$1")}
    assert t.forget_panes({"%2"}, now=6.0) is False          # already exited
    assert t.forget_panes({"%1", "%2"}, now=7.0) is False    # a pane coming back does not revive


def test_forget_panes_keeps_threads_without_a_pane():
    t = Tracker()
    t.threads[Tracker.key("codex", "x")] = Thread("codex", "x", None, "$1", source="transcript")
    assert t.forget_panes(set(), now=1.0) is False
    assert t.threads[Tracker.key("codex", "x")].liveness == "alive"


def test_forget_panes_ends_an_active_thread_as_interrupted():
    t = Tracker()
    t.apply_presence({"%1": [("codex", 1)]}, {"%1": "$1"}, now=1.0)
    (th,) = t.threads.values()
    th.status, th.placeholder = "running", False
    assert t.forget_panes(set(), now=4.0) is True
    assert (th.status, th.liveness, th.pane_id, th.since) == ("interrupted", "exited", None, 4.0)


def test_expire_drops_exited_threads_after_the_linger():
    t = Tracker(exited_linger=30.0)
    t.apply_presence({"%1": [("codex", 1), ("pi", 2)]}, {"%1": "$1"}, now=0.0)
    t.apply_presence({"%1": [("pi", 2)]}, {"%1": "$1"}, now=100.0)   # codex exits at 100
    assert t.expire(now=129.9) is False
    assert len(t.threads) == 2
    assert t.expire(now=130.0) is True
    assert [th.agent for th in t.threads.values()] == ["pi"]
    assert t.expire(now=10_000.0) is False                              # alive never expires


def test_running_without_evidence_or_a_live_process_goes_stale():
    t = Tracker()
    f = Feed(t)
    f(source="transcript", status="running", thread_id="t1", at=100.0)     # no pane, no process
    assert t.expire(now=100.0 + STALE_AFTER - 1) is False
    assert f.thread("t1").status == "running"
    assert t.expire(now=100.0 + STALE_AFTER) is True
    th = f.thread("t1")
    assert (th.status, th.since, th.unseen) == ("stale", 100.0 + STALE_AFTER, True)


def test_the_stale_delay_is_configurable():
    t = Tracker(stale_after=10.0)
    f = Feed(t)
    f(source="transcript", status="running", thread_id="t1", at=0.0)
    t.expire(now=9.0)
    assert f.thread("t1").status == "running"
    t.expire(now=10.0)
    assert f.thread("t1").status == "stale"
    assert Tracker().stale_after == STALE_AFTER == 180.0


def test_stale_respects_who_is_looking():
    t = Tracker()
    f = Feed(t)
    f(source="transcript", status="tool-running", thread_id="t1", at=0.0)
    t.expire(now=STALE_AFTER, looking=lambda th: True)
    assert (f.thread("t1").status, f.thread("t1").unseen) == ("stale", False)


def test_a_live_process_or_fresh_evidence_keeps_running():
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"})
    f(status="running", thread_id="alive", pane="%1", pid=7, at=0.0)       # a long tool run, quiet
    f(source="transcript", status="running", thread_id="quiet", at=0.0)
    f(source="transcript", status="running", thread_id="quiet", at=STALE_AFTER - 10)   # evidence refreshes
    t.expire(now=STALE_AFTER + 5)
    assert f.thread("alive").status == "running" and f.thread("quiet").status == "running"


def test_waiting_never_goes_stale():
    t = Tracker()
    f = Feed(t)
    f(status="waiting", thread_id="t1", at=0.0)
    t.expire(now=10 * STALE_AFTER)
    assert f.thread("t1").status == "waiting"


@pytest.mark.parametrize("looking,limit", [(True, PRUNE_SEEN_AFTER), (False, PRUNE_UNSEEN_AFTER)])
def test_dead_finished_threads_are_pruned_seen_sooner_than_unseen(looking, limit):
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"}, looking=lambda th: looking)
    f(status="done", thread_id="t1", pane="%1", pid=5, at=10.0)
    t.apply_presence({}, {"%1": "$1"}, now=11.0)                          # the agent quit
    assert f.thread("t1").unseen is (not looking)
    # quiet time counts from when the agent quit (11.0), not from its last evidence
    assert t.expire(now=11.0 + limit - 1) is False and len(t.threads) == 1
    assert t.expire(now=11.0 + limit) is True and t.threads == {}


def test_an_unseen_result_outlives_the_seen_limit():
    t = Tracker()
    f = Feed(t)
    f(source="transcript", status="done", thread_id="t1", at=0.0)
    t.expire(now=PRUNE_SEEN_AFTER + 1)
    assert f.thread("t1").unseen is True
    t.mark_seen(lambda th: True)
    t.expire(now=PRUNE_SEEN_AFTER + 2)
    assert t.threads == {}


def test_an_idle_agent_that_quit_goes_after_the_linger():
    t = Tracker(exited_linger=30.0)
    f = Feed(t, pane_session={"%1": "$1"})
    f(status="idle", thread_id="t1", pane="%1", pid=5, at=1.0)
    f(status=None, thread_id="t1", pane="%1", pid=5, ends=True, at=2.0)
    t.expire(now=2.0 + 29.0)
    assert len(t.threads) == 1
    t.expire(now=2.0 + 30.0)
    assert t.threads == {}


def test_live_threads_are_never_pruned():
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1"}, looking=lambda th: True)
    f(status="done", thread_id="t1", pane="%1", pid=5, at=1.0)
    assert t.expire(now=1e9) is False and len(t.threads) == 1


# -- mark_seen --------------------------------------------------------------------------------

def unseen_pair() -> tuple[Tracker, Feed]:
    t = Tracker()
    f = Feed(t, pane_session={"%1": "$1", "%2": "$1", "%3": "$2"})
    f(status="done", thread_id="a", pane="%1", at=1.0)
    f(status="error", thread_id="b", pane="%2", at=1.0)
    f(status="done", thread_id="c", pane="%3", at=1.0)
    assert all(th.unseen for th in t.threads.values())
    return t, f


def test_mark_seen_clears_what_someone_looks_at():
    t, f = unseen_pair()
    assert t.mark_seen(lambda th: th.pane_id == "%2") is True
    assert {th.thread_id: th.unseen for th in t.threads.values()} == {"a": True, "b": False, "c": True}
    assert t.mark_seen(lambda th: th.pane_id == "%2") is False
    assert f.thread("b").status == "error"                             # seen, not changed


def test_mark_seen_session_clears_the_whole_session():
    t, _ = unseen_pair()
    assert t.mark_seen_session("$1") is True
    assert {th.thread_id: th.unseen for th in t.threads.values()} == {"a": False, "b": False, "c": True}
    assert t.mark_seen_session("$1") is False
    assert t.mark_seen_session("$404") is False


# -- by_session -------------------------------------------------------------------------------

def test_by_session_groups_and_sorts():
    t = Tracker()
    t.apply_presence({"%2": [("codex", 20)], "%1": [("pi", 10)], "%3": [("amp", 30)]},
                     {"%1": "$1", "%2": "$1", "%3": "$2"}, now=1.0)
    groups = t.by_session()
    assert set(groups) == {"$1", "$2"}
    assert [th.pane_id for th in groups["$1"]] == ["%1", "%2"]
    assert [th.agent for th in groups["$2"]] == ["amp"]


def test_by_session_puts_pane_bound_threads_first_then_by_age():
    t = Tracker()
    f = Feed(t, pane_session={"%2": "$1", "%1": "$1"}, dirs={"/w": "$1"})
    f(source="transcript", status="done", thread_id="guess", dir="/w", at=1.0)
    f(status="running", thread_id="p2", pane="%2", at=2.0)
    f(status="running", thread_id="p1-late", pane="%1", pid=2, at=5.0)
    f("codex", status="running", thread_id="p1-early", pane="%1", at=3.0)
    assert [th.thread_id for th in t.by_session()["$1"]] == ["p1-early", "p1-late", "p2", "guess"]


def test_threads_without_a_session_are_not_listed():
    t = Tracker()
    f = Feed(t)
    f(source="transcript", status="running", thread_id="nowhere", dir="/unknown", at=1.0)
    assert t.by_session() == {} and len(t.threads) == 1


def test_to_dict_has_the_snapshot_fields():
    d = Thread("codex", "tid", "%4", "$1", pid=9, thread_name="fix it", status="running",
               unseen=True, liveness="alive", since=3.5).to_dict()
    assert d == {"agent": "codex", "thread_id": "tid", "thread_name": "fix it", "status": "running",
                 "unseen": True, "liveness": "alive", "pane_id": "%4", "since": 3.5}


# -- a random life ----------------------------------------------------------------------------

PANES = ["%1", "%2", "%3", "%4"]


def _by_pane(procs) -> dict:
    """(pane, agent, pid) rows, one per pid (a process is under one pane) → the presence shape."""
    out: dict = {}
    for pane, agent, pid in procs:
        out.setdefault(pane, []).append((agent, pid))
    return out


PID_AGENT = {pid: ("claude-code", "codex", "pi")[pid % 3] for pid in range(1, 7)}   # a pid is one program
presence_st = st.lists(st.tuples(st.sampled_from(PANES), st.integers(1, 6)), max_size=5,
                       unique_by=lambda r: r[1]).map(lambda rows: _by_pane((p, PID_AGENT[i], i) for p, i in rows))
op_st = st.one_of(
    st.tuples(st.just("presence"), presence_st,
              st.dictionaries(st.sampled_from(PANES), st.sampled_from(["$1", "$2", "$3"]))),
    st.tuples(st.just("forget"), st.sets(st.sampled_from(PANES))),
    st.tuples(st.just("expire"), st.just(None)),
)


@PROPS
@given(st.lists(op_st, max_size=12))
def test_every_thread_lives_in_at_most_one_session(ops):
    t = Tracker(exited_linger=3.0)
    now = 0.0
    for op in ops:
        now += 1.0
        if op[0] == "presence":
            _, panes, pane_session = op
            t.apply_presence(panes, pane_session, now)
            present = {(a, pid): p for p, lst in panes.items() for a, pid in lst}
            for th in t.threads.values():
                if (th.agent, th.pid) in present:                    # a thread follows its process
                    assert th.liveness == "alive" and th.pane_id == present[(th.agent, th.pid)]
                    if th.pane_id in pane_session:                  # an unlisted pane keeps its session
                        assert th.session_id == pane_session[th.pane_id]
                else:
                    assert th.liveness == "exited"
        elif op[0] == "forget":
            t.forget_panes(op[1], now)
            for th in t.threads.values():
                if th.pane_id not in op[1]:
                    assert th.liveness == "exited"
        else:
            t.expire(now)
            for th in t.threads.values():
                assert th.liveness == "alive" or now - th.since < 3.0
        groups = t.by_session()
        listed = [Tracker.key(th.agent, th.thread_id) for threads in groups.values() for th in threads]
        assert len(listed) == len(set(listed))                      # no thread twice
        assert set(listed) == {k for k, th in t.threads.items() if th.session_id is not None}
        for sid, threads in groups.items():
            assert all(th.session_id == sid for th in threads)
        for k, th in t.threads.items():                               # keyed by (agent, thread id)
            assert k == Tracker.key(th.agent, th.thread_id)
