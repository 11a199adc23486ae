"""services/collector/walkgate.py: when the collector may skip its process walk, and the pure
readers it relies on (/proc/loadavg, /proc/<pid>/stat). Every combination of inputs is tried:
a skipped walk that should have happened is an agent nobody sees."""
from __future__ import annotations

import itertools

import pytest

from services.collector import identity as I
from services.collector.identity import Proc
from services.collector.probes import parse_stat
from services.collector.walkgate import RESERVED_PIDS, SAFETY_EVERY, WalkGate, allocated_since, parse_last_pid

PANES = frozenset({("%1", 100, "bash")})
OTHER_PANES = frozenset({("%1", 100, "claude")})


def walked_gate(last_pid=500, again=False, at=1000.0) -> WalkGate:
    g = WalkGate()
    g.record("first", last_pid, PANES, at)
    g.again = again
    return g


# -- the decision, every combination ----------------------------------------------------------

@pytest.mark.parametrize("last_pid,new_in_panes,panes,gone,elapsed,again", list(itertools.product(
    [None, 500, 501], [None, True, False], [PANES, OTHER_PANES], [False, True],
    [0.0, SAFETY_EVERY - 0.001, SAFETY_EVERY], [False, True])))
def test_every_combination_after_a_walk(last_pid, new_in_panes, panes, gone, elapsed, again):
    g = walked_gate(last_pid=500, again=again, at=1000.0)
    reason = g.reason(last_pid, new_in_panes, panes, gone, 1000.0 + elapsed)
    moved = last_pid is not None and last_pid != 500
    must_walk = (last_pid is None or panes != PANES or gone or (moved and new_in_panes is not False)
                 or again or elapsed >= SAFETY_EVERY)
    assert (reason is not None) == must_walk
    if not must_walk:
        return
    # the first cause in order of strength is named
    expected = ("no-last-pid" if last_pid is None else "panes" if panes != PANES else "gone" if gone
                else "new-pids" if moved and new_in_panes is not False
                else "again" if again else "safety")
    assert reason == expected


@pytest.mark.parametrize("last_pid,new_in_panes,gone",
                         list(itertools.product([None, 7], [None, True, False], [False, True])))
def test_the_first_cycle_always_walks(last_pid, new_in_panes, gone):
    assert WalkGate().reason(last_pid, new_in_panes, PANES, gone, 0.0) == "first"


def test_without_a_last_pid_to_compare_with_it_walks_every_cycle():
    g = WalkGate()
    for now in range(5):
        reason = g.reason(None, None, PANES, False, float(now))
        assert reason is not None
        g.record(reason, None, PANES, float(now))


def test_nothing_moved_nothing_walked_until_the_safety_walk():
    g = walked_gate(at=0.0)
    walks = []
    for now in range(1, 25):
        reason = g.reason(500, None, PANES, False, float(now))
        g.record(reason, 500, PANES, float(now))
        if reason:
            walks.append((now, reason))
    assert walks == [(10, "safety"), (20, "safety")]


def test_a_fork_walks_twice_then_stops():
    """fork (the new pid is alive, maybe still named like its parent), then its exec takes no
    new pid: the walk after the fork is followed by one more, then quiet again."""
    g = walked_gate(last_pid=500, at=0.0)
    seen = []
    for now, last, alive in [(1, 501, True), (2, 501, None), (3, 501, None), (4, 501, None)]:
        reason = g.reason(last, alive, PANES, False, float(now))
        g.record(reason, last, PANES, float(now))
        seen.append(reason)
    assert seen == ["new-pids", "again", None, None]


def test_new_processes_gone_or_elsewhere_cost_no_walk_and_are_accounted_for():
    g = walked_gate(last_pid=500, at=0.0)
    assert g.reason(530, False, PANES, False, 1.0) is None
    g.record(None, 530, PANES, 1.0)
    assert g.last_pid == 530                         # the dead ones are not looked at again
    assert g.reason(530, None, PANES, False, 2.0) is None
    assert g.reason(531, True, PANES, False, 3.0) == "new-pids"


def test_pids_not_checked_count_as_alive():
    assert walked_gate(last_pid=500).reason(9000, None, PANES, False, 1000.5) == "new-pids"


def test_exec_without_fork_is_seen_by_the_pane_signature():
    g = walked_gate(last_pid=500, at=0.0)
    assert g.reason(500, None, OTHER_PANES, False, 1.0) == "panes"
    g.record("panes", 500, OTHER_PANES, 1.0)
    assert g.reason(500, None, OTHER_PANES, False, 2.0) is None


def test_a_gone_agent_walks_even_with_nothing_new():
    assert walked_gate(last_pid=500).reason(500, None, PANES, True, 1000.1) == "gone"


def test_walks_restart_the_safety_clock():
    g = walked_gate(last_pid=500, at=0.0)
    g.record("gone", 500, PANES, 8.0)
    assert g.reason(500, None, PANES, False, 17.9) is None
    assert g.reason(500, None, PANES, False, 18.0) == "safety"


def test_a_walk_for_any_other_reason_clears_the_pending_one_more():
    g = walked_gate(last_pid=500, again=True, at=0.0)
    g.record("panes", 500, OTHER_PANES, 1.0)
    assert not g.again
    g.record("new-pids", 501, OTHER_PANES, 2.0)
    assert g.again


# -- pids handed out since --------------------------------------------------------------------

@pytest.mark.parametrize("after,upto,expected", [
    (500, 500, []), (500, 501, [501]), (500, 504, [501, 502, 503, 504]),
    (500, 564, list(range(501, 565))), (500, 565, None),
])
def test_allocated_since_without_wrap(after, upto, expected):
    assert allocated_since(after, upto, 32768, limit=64) == expected


def test_allocated_since_wraps_at_pid_max_to_the_reserved_pids():
    assert allocated_since(32765, RESERVED_PIDS + 1, 32768) == [32766, 32767, RESERVED_PIDS, RESERVED_PIDS + 1]
    assert allocated_since(32767, RESERVED_PIDS, 32768) == [RESERVED_PIDS]


def test_allocated_since_wraps_in_a_young_namespace_from_one():
    assert allocated_since(98, 2, 100) == [99, 1, 2]


@pytest.mark.parametrize("after,upto,pid_max", [(32765, 400, 32768), (600, 400, None), (600, 400, 500)])
def test_allocated_since_gives_up_on_long_or_unknown_wraps(after, upto, pid_max):
    assert allocated_since(after, upto, pid_max) is None


# -- /proc readers ----------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    (b"0.52 0.58 0.59 2/345 12345\n", 12345), ("1.07 2.41 2.54 1/78 6854", 6854), (b"0.00 0.00 0.00 1/1 0\n", 0),
    (b"", None), (b"0.52 0.58 0.59 2/345\n", None), (b"0.52 0.58 0.59 2/345 x\n", None),
    (b"0.52 0.58 0.59 2/345 -3\n", None), (b"a b c d e f", None),
])
def test_parse_last_pid(text, expected):
    assert parse_last_pid(text) == expected


def stat_line(comm: bytes, ppid: int = 1, threads: int = 1) -> bytes:
    rest = [b"S", str(ppid).encode()] + [b"0"] * 15 + [str(threads).encode()] + [b"0"] * 32
    return b"4242 (" + comm + b") " + b" ".join(rest) + b"\n"


@pytest.mark.parametrize("comm", [b"bash", b"claude", b"a b", b"x) S 1 2", b"((x))", b")", b"(", b"", b"t\xc3\xa9st"])
def test_parse_stat_takes_comm_up_to_the_last_parenthesis(comm):
    assert parse_stat(stat_line(comm, ppid=77, threads=3)) == (comm.decode(), 77, 3)


def test_parse_stat_of_the_real_thing():
    import os
    with open(f"/proc/{os.getpid()}/stat", "rb") as f:
        comm, ppid, threads = parse_stat(f.read())
    with open(f"/proc/{os.getpid()}/comm", "rb") as f:
        assert comm == f.read().decode().rstrip("\n")
    assert ppid == os.getppid() and threads >= 1


@pytest.mark.parametrize("data", [b"", b"4242 bash S 1", b"4242 (bash) S", b"4242 (bash) S x 0", stat_line(b"b")[:30],
                                  b"4242 )bash( S 1 " + b"0 " * 30])
def test_parse_stat_refuses_what_it_cannot_read(data):
    assert parse_stat(data) is None


# -- remembered identities and lineages --------------------------------------------------------

def test_agent_cache_answers_like_agent_of_and_forgets_the_gone():
    shell = Proc(10, 1, "bash", "/usr/bin/bash", ("bash",))
    claude = Proc(11, 10, "claude", "", ("claude",))
    cache = I.AgentCache()
    assert I.pane_agents({"%1": 10}, [shell, claude], cache) == I.pane_agents({"%1": 10}, [shell, claude])
    assert cache.known == {shell: None, claude: "claude-code"}
    exec_ed = Proc(11, 10, "vim", "/usr/bin/vim", ("vim",))       # same pid after exec: a new identity
    assert cache(exec_ed) is None
    cache.keep([shell, exec_ed])
    assert cache.known == {shell: None, exec_ed: None}


def test_lineage_goes_up_to_the_pane_process():
    procs = {p.pid: p for p in [Proc(10, 0, "bash", "", ()), Proc(11, 10, "node", "", ()),
                                Proc(12, 11, "claude", "", ())]}
    assert I.lineage(12, procs, {10}) == [12, 11, 10]
    assert I.lineage(10, procs, {10}) == [10]
    assert I.lineage(12, procs, {11}) == [12, 11]
    assert I.lineage(99, procs, {10}) == [99]                       # not in the table: itself only


def test_lineage_stops_on_a_cycle():
    procs = {1: Proc(1, 2, "a", "", ()), 2: Proc(2, 1, "b", "", ())}
    assert I.lineage(1, procs, set()) == [1, 2]
