"""services/state/tracker.py: presence by process, liveness, expiry, the session's one state."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import given, strategies as st

from services.state.tracker import STATUSES, TERMINAL, Thread, Tracker, representative_state

from ._builders import PROPS

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
    t = Tracker()
    t.apply_presence({"%1": [("codex", 7973)]}, {"%1": "$1"}, now=10.0)
    t.apply_presence({}, {}, now=11.0)
    assert t.apply_presence({"%1": [("codex", 7973)]}, {"%1": "$1"}, now=12.0) is True
    (th,) = t.threads.values()
    assert th.liveness == "alive" and th.since == 12.0


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


# -- forget_panes / expire --------------------------------------------------------------------

def test_forget_panes_ends_threads_of_vanished_panes():
    t = Tracker()
    t.apply_presence({"%1": [("codex", 1)], "%2": [("pi", 2)]}, {"%1": "$1", "%2": "$1"}, now=1.0)
    assert t.forget_panes({"%2"}, now=5.0) is True
    state = {th.pane_id: (th.liveness, th.since) for th in t.threads.values()}
    assert state == {"%1": ("exited", 5.0), "%2": ("alive", 1.0)}
    assert t.forget_panes({"%2"}, now=6.0) is False          # already exited
    assert t.forget_panes({"%1", "%2"}, now=7.0) is False    # a pane coming back does not revive


def test_forget_panes_keeps_threads_without_a_pane():
    t = Tracker()
    t.threads["x"] = Thread("codex", "x", None, "$1", source="transcript")
    assert t.forget_panes(set(), now=1.0) is False
    assert t.threads["x"].liveness == "alive"


def test_expire_drops_exited_threads_after_the_linger():
    t = Tracker(exited_linger=30.0)
    t.apply_presence({"%1": [("codex", 1), ("pi", 2)]}, {"%1": "$1"}, now=0.0)
    t.apply_presence({"%1": [("pi", 2)]}, {"%1": "$1"}, now=100.0)   # codex exits at 100
    assert t.expire(now=129.9) is False
    assert len(t.threads) == 2
    assert t.expire(now=130.0) is True
    assert [th.agent for th in t.threads.values()] == ["pi"]
    assert t.expire(now=10_000.0) is False                              # alive never expires


# -- by_session -------------------------------------------------------------------------------

def test_by_session_groups_and_sorts():
    t = Tracker()
    t.apply_presence({"%2": [("codex", 20)], "%1": [("pi", 10)], "%3": [("amp", 30)]},
                     {"%1": "$1", "%2": "$1", "%3": "$2"}, now=1.0)
    groups = t.by_session()
    assert set(groups) == {"$1", "$2"}
    assert [th.pane_id for th in groups["$1"]] == ["%1", "%2"]
    assert [th.agent for th in groups["$2"]] == ["amp"]


def test_to_dict_has_the_snapshot_fields():
    d = Thread("codex", "tid", "%4", "$1", pid=9, thread_name="fix it", status="running",
               unseen=True, liveness="alive", since=3.5).to_dict()
    assert d == {"agent": "codex", "thread_id": "tid", "thread_name": "fix it", "status": "running",
                 "unseen": True, "liveness": "alive", "pane_id": "%4", "since": 3.5}


# -- a random life ----------------------------------------------------------------------------

PANES = ["%1", "%2", "%3", "%4"]
op_st = st.one_of(
    st.tuples(st.just("presence"),
              st.dictionaries(st.sampled_from(PANES),
                              st.lists(st.tuples(st.sampled_from(["claude-code", "codex", "pi"]),
                                                 st.integers(1, 6)), max_size=3, unique=True), max_size=4),
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
            present = {Tracker.presence_id(a, p, pid) for p, lst in panes.items() for a, pid in lst}
            for th in t.threads.values():
                if th.thread_id in present:
                    assert th.liveness == "alive"
                    assert th.session_id == pane_session.get(th.pane_id)
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
        listed = [th.thread_id for threads in groups.values() for th in threads]
        assert len(listed) == len(set(listed))                      # no thread twice
        assert set(listed) == {tid for tid, th in t.threads.items() if th.session_id is not None}
        for sid, threads in groups.items():
            assert all(th.session_id == sid for th in threads)
        for tid, th in t.threads.items():
            assert th.thread_id == tid
