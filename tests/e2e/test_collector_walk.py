"""The collector's process walk against the real /proc and a real tmux server: the trees it
reads (odd names, children of other threads), and the walks it skips or makes as agents start
by fork, start by exec, and exit. Why it walks is asserted, not how fast: see walkgate."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from services.collector import probes
from services.collector.loop import RESEND_EVERY
from services.collector.probes import process_table

from .collector_helpers import harness_factory, wait_for  # noqa: F401  (fixture)

PARENT = r"""
import os, subprocess, sys, threading
odd = subprocess.Popen([sys.argv[1], "1000"])
plain = subprocess.Popen(["sh", "-c", "sleep 1002; :"], start_new_session=True)
kids = []
def forker():          # a child of another thread: it is listed in that thread's children file
    kids.append(subprocess.Popen(["sleep", "1001"]))
    kids[0].wait()
threading.Thread(target=forker, daemon=True).start()
while not kids:
    pass
print(odd.pid, plain.pid, kids[0].pid, flush=True)
sys.stdin.read()
os.killpg(plain.pid, 9)          # the shell and its sleeper
for p in (odd, plain, kids[0]):
    p.kill()
    p.wait()
"""


def test_process_table_reads_odd_names_and_every_threads_children(tmp_path):
    odd = str(tmp_path / "we) ird (x")        # comm holds spaces and parentheses
    shutil.copy(shutil.which("sleep"), odd)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, odd], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        odd_pid, plain_pid, thread_kid = map(int, parent.stdout.readline().split())
        procs = wait_for(lambda: (t := process_table({parent.pid})) and len(t) >= 5 and t, what="the parent's tree")
        table = {p.pid: p for p in procs}
        assert table[parent.pid].ppid == 0                              # a root, as the walk found it
        assert (table[odd_pid].name, table[odd_pid].ppid, table[odd_pid].cmdline) == ("we) ird (x", parent.pid,
                                                                                      (odd, "1000"))
        assert table[thread_kid].ppid == parent.pid and table[thread_kid].cmdline == ("sleep", "1001")
        sleeper = [p for p in table.values() if p.ppid == plain_pid]     # a single-threaded parent's child
        assert [p.cmdline for p in sleeper] == [("sleep", "1002")]
    finally:
        parent.stdin.close()
        parent.wait(10)


def _child_named(pid: int, comm: str) -> int | None:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for kid in f.read().split():
            try:
                with open(f"/proc/{kid}/comm") as c:
                    if c.read().strip() == comm:
                        return int(kid)
            except OSError:
                continue
    return None


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _started(h, session: str = "work"):
    h.world.new_session(session, "bash --norc --noprofile")
    assert h.svc.tmux.connect()
    h.svc.refresh_tmux()
    h.svc.scan_processes()
    assert h.svc.last_walk == "first"
    pane = h.svc.panes[0]
    wait_for(lambda: _comm(pane.pane_pid) == "bash", what="the pane's shell")
    return pane


def test_an_agent_started_by_fork_is_walked_at_once_and_once_more_then_gone_when_it_exits(harness_factory):
    h = harness_factory()
    stub = h.stub()
    pane = _started(h)
    h.world.tmux("send-keys", "-t", "=work:", stub, "Enter")
    agent = wait_for(lambda: _child_named(pane.pane_pid, "claude"), what="the agent process")
    h.svc.scan_processes()              # no listing in between: only the new pid can tell
    assert h.svc.last_walk == "new-pids"
    assert h.svc._agents == {pane.pane_id: [{"agent": "claude-code", "pid": agent}]}
    h.svc.scan_processes()
    assert h.svc.last_walk in ("again", "new-pids")     # new-pids: something else on the machine forked
    assert not h.svc.gate.again or h.svc.last_walk == "new-pids"

    h.world.tmux("send-keys", "-t", "=work:", "C-d", "")
    wait_for(lambda: not probes.alive(agent), what="the agent to exit")
    h.svc.scan_processes()
    assert h.svc.last_walk == "gone"
    assert h.svc._agents == {pane.pane_id: []}
    assert h.svc.pane_of_pid == {}


def test_exec_without_a_fork_is_seen_through_the_pane_listing(harness_factory):
    h = harness_factory()
    stub = h.stub()
    pane = _started(h)
    h.world.tmux("send-keys", "-t", "=work:", "exec " + stub, "Enter")
    wait_for(lambda: _comm(pane.pane_pid) == "claude", what="the shell to become the agent")
    wait_for(lambda: (h.svc.refresh_tmux(), h.svc.panes[0].current_command != "bash")[1],
             what="tmux to list the pane's new command")
    h.svc.scan_processes()
    assert h.svc.last_walk == "panes"
    assert h.svc._agents == {pane.pane_id: [{"agent": "claude-code", "pid": pane.pane_pid}]}


def test_quiet_cycles_skip_the_walk_and_still_resend_the_agents(harness_factory):
    h = harness_factory()
    stub = h.stub()
    h.world.new_session("work", stub)
    assert h.svc.tmux.connect()
    h.svc.refresh_tmux()
    pane = h.svc.panes[0]
    wait_for(lambda: _comm(pane.pane_pid) == "claude", what="the agent")
    h.svc.scan_processes()
    expected = {pane.pane_id: [{"agent": "claude-code", "pid": pane.pane_pid}]}
    assert h.svc._agents == expected
    assert h.svc.open_files_reads == 1                  # which files the agent holds: read once
    # this machine forks whenever it likes: wait for a cycle in which nothing new lived on
    wait_for(lambda: (h.svc.scan_processes(), h.svc.last_walk is None)[1], timeout=9, interval=0.2,
             what="a cycle with nothing new")
    h.drain()
    sent, at = h.svc._last["obs.agents"]
    h.svc._last["obs.agents"] = (sent, at - RESEND_EVERY)     # as if 5 s had passed since the last send
    wait_for(lambda: (h.svc.scan_processes(), h.svc.last_walk is None)[1], timeout=9, interval=0.2,
             what="another cycle with nothing new")
    assert h.svc.open_files_reads == 1                  # the same table: not read again
    before = len(h.received)
    wait_for(lambda: (h.drain(), any(m["type"] == "obs.agents" for m in h.received[before:]))[1],
             what="obs.agents resent")
    agents = [m for m in h.received[before:] if m["type"] == "obs.agents"]
    assert agents and agents[-1]["panes"] == expected and agents[-1]["at"] > time.time() - 60


def test_below_follows_real_parents():
    shell = subprocess.Popen(["sh", "-c", "sleep 1000 & wait"])
    try:
        sleeper = wait_for(lambda: _child_named(shell.pid, "sleep"), what="the grandchild")
        assert probes.below(sleeper, {shell.pid})
        assert probes.below(shell.pid, {shell.pid})
        assert probes.below(sleeper, {os.getpid()})                  # the test's own grandchild
        assert not probes.below(os.getpid(), {shell.pid})
        assert not probes.below(1, {shell.pid})
    finally:
        shell.kill()
        shell.wait()
        os.kill(sleeper, 9)
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not probes.below(gone.pid, {os.getpid()})                # reaped: nothing to follow


def test_a_process_started_outside_the_panes_costs_no_walk(harness_factory):
    h = harness_factory()
    _started(h)
    wait_for(lambda: (h.svc.scan_processes(), h.svc.last_walk is None)[1], timeout=9, interval=0.1,
             what="a cycle with nothing new")
    outside = subprocess.Popen(["sleep", "1000"])
    try:
        h.svc.scan_processes()
        assert outside.pid <= h.svc.gate.last_pid      # it was among the pids looked at
        assert h.svc.last_walk is None
    finally:
        outside.kill()
        outside.wait()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(k) for k in f.read().split()]


def test_below_remembers_the_chains_it_followed():
    shell = subprocess.Popen(["sh", "-c", "sleep 1000 & sleep 1001 & wait"])
    kids: list[int] = []
    try:
        kids = wait_for(lambda: len(k := _children(shell.pid)) == 2 and k, what="two sleepers")
        known: dict[int, bool] = {}
        assert not probes.below(kids[0], {1 << 30}, known)            # no such root: followed up to init
        assert known[kids[0]] is False and known[shell.pid] is False and known[os.getpid()] is False
        # the same look goes on with the same roots: the second sleeper stops at its known parent
        assert not probes.below(kids[1], {1 << 30}, known) and known[kids[1]] is False
        assert probes.below(kids[1], {shell.pid}, {})
    finally:
        shell.kill()
        shell.wait()
        for k in kids:
            os.kill(k, 9)
