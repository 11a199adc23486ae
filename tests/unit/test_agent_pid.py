"""cli/hook.py agent_pid(): the agent process that ran a hook, found by walking up a REAL process
tree in /proc (a script named `claude` standing in for Claude Code, with a hook-like grandchild)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cli.hook import agent_pid

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> list[int]:
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass
    return kids


def _wait_for_leaf(root: int, depth: int, deadline: float = 10.0) -> list[int]:
    """The chain root → child → … `depth` levels down, once the processes exist (and have exec'd)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        chain = [root]
        while len(chain) <= depth:
            kids = _children(chain[-1])
            if not kids:
                break
            chain.append(kids[0])
        if len(chain) == depth + 1 and _cmdline(chain[-1])[:1] == ["sleep"]:
            return chain
        time.sleep(0.01)
    raise AssertionError(f"process tree under {root} did not appear")


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except FileNotFoundError:
        return []


@pytest.fixture
def tree(tmp_path):
    """`claude` (a shell script) → sh (like Claude's `/bin/sh -c <hook command>`) → sleep."""
    script = tmp_path / "claude"
    script.write_text("#!/bin/sh\n/bin/sh -c 'sleep 30; :'\n:\n")
    script.chmod(0o755)
    procs = []

    def start(argv) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        procs.append(p)
        return p

    yield script, start
    for p in procs:
        try:
            os.killpg(p.pid, 9)              # the whole group we started, by its id
        except ProcessLookupError:
            pass
        p.wait(timeout=5)


def test_the_nearest_agent_ancestor_is_found(tree):
    script, start = tree
    agent = start([str(script)])
    agent_proc, hook_sh, hook_leaf = _wait_for_leaf(agent.pid, 2)
    assert agent_proc == agent.pid
    assert agent_pid("claude-code", start=hook_leaf) == agent.pid
    assert agent_pid("claude-code", start=hook_sh) == agent.pid
    assert agent_pid("claude-code", start=agent.pid) == agent.pid          # the agent itself


def test_another_agents_name_is_not_a_match(tree):
    script, start = tree
    agent = start([str(script)])
    _, _, hook_leaf = _wait_for_leaf(agent.pid, 2)
    # the walk stops at `levels` (leaf, sh, claude): nothing above the test's own tree is looked at
    assert agent_pid("codex", start=hook_leaf, levels=3) is None


def test_an_unrelated_tree_has_no_agent(tree):
    _, start = tree
    other = start(["/bin/sh", "-c", "/bin/sh -c 'sleep 30; :'; :"])
    _, _, leaf = _wait_for_leaf(other.pid, 2)
    # levels=3 covers sleep, sh, sh: the whole tree we started, and nothing of whatever runs the tests
    assert agent_pid("claude-code", start=leaf, levels=3) is None


def test_the_walk_gives_up_after_levels(tree):
    script, start = tree
    agent = start([str(script)])
    _, _, hook_leaf = _wait_for_leaf(agent.pid, 2)
    assert agent_pid("claude-code", start=hook_leaf, levels=2) is None     # leaf and sh only
    assert agent_pid("claude-code", start=hook_leaf, levels=3) == agent.pid


def test_a_name_that_merely_contains_the_agents_name_is_not_the_agent(tree, tmp_path):
    _, start = tree
    fake = tmp_path / "tail-claude"
    fake.write_text("#!/bin/sh\n/bin/sh -c 'sleep 30; :'\n:\n")
    fake.chmod(0o755)
    p = start([str(fake)])
    _, _, leaf = _wait_for_leaf(p.pid, 2)
    assert agent_pid("claude-code", start=leaf, levels=3) is None


def test_a_vanished_or_impossible_pid_is_none():
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert agent_pid("claude-code", start=gone.pid) is None
    assert agent_pid("claude-code", start=1) is None
    assert agent_pid("claude-code", start=0) is None
    assert agent_pid("claude-code", start=-5) is None
