"""Agent presence by process identity (SCENARIO 6, the part that needs no hook or transcript)."""
import os

from .conftest import wait_for

FAKE_CLAUDE = """#!/bin/sh
# a stand-in for the claude binary: named like it, waits for input like it
while read line; do :; done
"""


def _agents(world, session):
    for s in world.snapshot()["sessions"]:
        if s["name"] == session:
            return s["agents"]
    return None


def test_fake_claude_shows_up_then_exits_then_is_gone(world):
    path = os.path.join(world.bin, "claude")
    with open(path, "w") as f:
        f.write(FAKE_CLAUDE)
    os.chmod(path, 0o755)
    os.makedirs(os.path.join(world.config_home, "opensessions"))
    with open(os.path.join(world.config_home, "opensessions", "config.toml"), "w") as f:
        f.write("[opensessions]\nexited_linger = 2\n")
    world.new_session("work")
    world.new_session("other")
    world.ok("up")
    wait_for(lambda: world.names() == ["work", "other"], what="sessions")
    assert _agents(world, "work") == []

    world.tmux("send-keys", "-t", "=work:", path, "Enter")   # a login shell may reset PATH
    agents = wait_for(lambda: _agents(world, "work"), timeout=5, what="claude to show up")
    assert len(agents) == 1
    a = agents[0]
    assert a["agent"] == "claude-code" and a["liveness"] == "alive"
    assert a["pane_id"].startswith("%") and a["thread_id"]
    assert _agents(world, "other") == []
    snap = world.snapshot()
    assert [s["agent_state"] for s in snap["sessions"]] == ["idle", None]

    world.tmux("send-keys", "-t", "=work:", "C-d", "")      # end of input: the fake agent exits
    wait_for(lambda: [x["liveness"] for x in _agents(world, "work")] == ["exited"], what="exited")
    wait_for(lambda: _agents(world, "work") == [], timeout=8, what="exited agent to be forgotten")


def test_agent_in_a_killed_pane_is_not_alive(world):
    path = os.path.join(world.bin, "codex")
    with open(path, "w") as f:
        f.write(FAKE_CLAUDE)
    os.chmod(path, 0o755)
    world.new_session("a")
    world.new_session("b", path)
    world.ok("up")
    wait_for(lambda: [x["agent"] for x in _agents(world, "b") or []] == ["codex"], what="codex listed")
    world.tmux("kill-session", "-t", "=b")
    wait_for(lambda: world.names() == ["a"], what="session gone")
    assert all(s["agents"] == [] for s in world.snapshot()["sessions"])
