"""Agent state users can trust (SCENARIOS 6–11, 21, 22): a fake Claude Code that writes the real
transcript and status-file formats and runs the real `opensessions hook` from its settings, in
real tmux panes, with the real trio."""
import os
import shutil

import orjson
import pytest

from .conftest import BIN, wait_for

FAKE_CLAUDE = os.path.join(os.path.dirname(__file__), "fake_agents", "claude")
# the shared dir sits beside the checkout (as in CI)
SHARED = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))


def install_fake_claude(world) -> str:
    path = os.path.join(world.bin, "claude")
    shutil.copy(FAKE_CLAUDE, path)
    os.chmod(path, 0o755)
    return path


def agents_of(world, session):
    for s in world.snapshot()["sessions"]:
        if s["name"] == session:
            return s["agents"]
    return None


def session_row(world, session):
    return next(s for s in world.snapshot()["sessions"] if s["name"] == session)


def status_of(world, session):
    agents = agents_of(world, session) or []
    return agents[0]["status"] if len(agents) == 1 else None


def pane_of(world, session):
    return world.tmux("display-message", "-p", "-t", f"={session}:", "#{pane_id}").strip()


def type_into(world, target, text):
    world.tmux("send-keys", "-t", target, "-l", text)
    world.tmux("send-keys", "-t", target, "Enter")


def write_config(world, **values):
    os.makedirs(os.path.join(world.config_home, "opensessions"), exist_ok=True)
    with open(os.path.join(world.config_home, "opensessions", "config.toml"), "w") as f:
        f.write("[opensessions]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))


@pytest.fixture
def claude_world(world):
    path = install_fake_claude(world)
    world.new_session("work")
    world.new_session("other")
    world.ok("up")
    wait_for(lambda: world.names() == ["work", "other"], what="sessions")
    world.fake = path
    return world


def test_hooks_path_running_tool_waiting_done_and_unseen(claude_world):
    w = claude_world
    out = w.ok("hooks", "install", "claude-code")
    assert "hook claude-code" in out
    assert w.ok("hooks", "install", "claude-code").endswith("already installed\n")
    client = w.attach("other")                       # the user looks elsewhere
    w.tmux("send-keys", "-t", "=work:", f"FAKE_STEP=1.5 {w.fake}", "Enter")
    wait_for(lambda: status_of(w, "work") == "idle", timeout=5, what="claude idle")

    type_into(w, "=work:", "say hello there")
    wait_for(lambda: status_of(w, "work") == "running", timeout=3, what="running")
    row = session_row(w, "work")
    assert row["agents"][0]["thread_name"] == "hello there"
    assert row["agents"][0]["liveness"] == "alive" and row["agents"][0]["pane_id"] == pane_of(w, "work")
    wait_for(lambda: status_of(w, "work") == "done", timeout=5, what="done")
    row = session_row(w, "work")
    assert row["unseen"] is True and row["agents"][0]["unseen"] is True

    type_into(w, "=work:", "tool create hi.txt")
    wait_for(lambda: status_of(w, "work") == "waiting", timeout=5, what="waiting on the permission prompt")
    snap = w.snapshot()
    assert session_row(w, "work")["agent_state"] == "waiting"
    assert session_row(w, "work")["unseen"] is False             # a new turn cleared it
    assert [s["name"] for s in snap["sessions"] if s["agent_state"] == "waiting"] == ["work"]
    w.ok("switch", "waiting")                                      # next session whose agent needs you
    assert w.client_session(client.tty) == "work"
    w.ok("switch", "other")

    type_into(w, "=work:", "y")
    wait_for(lambda: status_of(w, "work") in ("running", "tool-running"), timeout=5, what="running again")
    wait_for(lambda: status_of(w, "work") == "done", timeout=8, what="second turn done")
    assert session_row(w, "work")["unseen"] is True
    assert len(agents_of(w, "work")) == 1                          # one thread, never two
    assert agents_of(w, "other") == []

    w.ok("switch", "work")                                         # looking at the pane clears it
    wait_for(lambda: session_row(w, "work")["unseen"] is False, timeout=3, what="seen")

    type_into(w, "=work:", "quit")
    wait_for(lambda: [a["liveness"] for a in agents_of(w, "work")] == ["exited"], timeout=5, what="exited")
    assert status_of(w, "work") == "done"

    assert "hook claude-code" in w.ok("hooks", "uninstall", "claude-code")
    settings = orjson.loads(open(os.path.join(w.home, ".claude", "settings.json"), "rb").read())
    assert "hooks" not in settings


def test_zero_setup_transcript_status_file_and_screen(claude_world):
    """No hooks installed: the status file, the transcript and the screen still tell it all."""
    w = claude_world
    w.attach("other")
    w.tmux("send-keys", "-t", "=work:", f"FAKE_STEP=1.0 {w.fake}", "Enter")
    agents = wait_for(lambda: agents_of(w, "work"), timeout=3, what="claude present")
    assert agents[0]["agent"] == "claude-code"
    type_into(w, "=work:", "tool make the file")
    wait_for(lambda: status_of(w, "work") == "waiting", timeout=8, what="waiting without hooks")
    [a] = agents_of(w, "work")
    assert a["thread_name"] == "make the file" and len(a["thread_id"]) == 36   # the real session id
    type_into(w, "=work:", "y")
    wait_for(lambda: status_of(w, "work") == "done", timeout=10, what="done without hooks")
    assert len(agents_of(w, "work")) == 1
    type_into(w, "=work:", "rename Release notes")
    wait_for(lambda: agents_of(w, "work")[0]["thread_name"] == "Release notes", timeout=5, what="custom title")


def test_two_agents_in_one_session_are_seen_one_at_a_time(world):
    path = install_fake_claude(world)
    world.new_session("duo")
    world.new_session("away")
    left = pane_of(world, "duo")
    right = world.tmux("split-window", "-d", "-h", "-t", left, "-P", "-F", "#{pane_id}").strip()
    world.ok("up")
    world.ok("hooks", "install", "claude-code")
    client = world.attach("away")
    for pane in (left, right):
        world.tmux("send-keys", "-t", pane, f"FAKE_STEP=0.3 {path}", "Enter")
    wait_for(lambda: len(agents_of(world, "duo") or []) == 2, timeout=5, what="two agents")
    for pane in (left, right):
        type_into(world, pane, "say hi")
    wait_for(lambda: [a["unseen"] for a in agents_of(world, "duo")] == [True, True]
             and {a["status"] for a in agents_of(world, "duo")} == {"done"}, timeout=8, what="both done, unseen")
    world.tmux("select-pane", "-t", left)
    world.ok("switch", "duo", "--client", client.tty)
    wait_for(lambda: {a["pane_id"]: a["unseen"] for a in agents_of(world, "duo")} == {left: False, right: True},
             timeout=5, what="only the looked-at pane seen")
    assert session_row(world, "duo")["unseen"] is True
    world.tmux("select-pane", "-t", right)
    wait_for(lambda: not session_row(world, "duo")["unseen"], timeout=5, what="the other one seen")


def test_emit_and_hook_adapters_update_the_row_at_once(trio):
    pane = pane_of(trio, "s3")
    trio.ok("emit", "--agent", "claude-code", "--status", "running", "--pane", pane, "--thread-id", "t-1",
            "--thread-name", "Ship it")
    [a] = agents_of(trio, "s3")
    assert (a["agent"], a["status"], a["thread_name"], a["pane_id"]) == ("claude-code", "running", "Ship it", pane)
    trio.ok("emit", "--agent", "claude-code", "--status", "done", "--pane", pane)
    assert status_of(trio, "s3") == "done" and len(agents_of(trio, "s3")) == 1

    fixture = os.path.join(SHARED, "fixtures", "codex", "notify.jsonl")
    payloads = [orjson.loads(line)["payload"] for line in open(fixture, "rb")]
    env = {**trio.env, "TMUX": f"{trio.socket},1,0", "TMUX_PANE": pane_of(trio, "s4")}
    import subprocess
    for p in payloads:
        proc = subprocess.run([BIN, "hook", "codex", orjson.dumps(p).decode()], env=env, capture_output=True,
                              timeout=5)
        assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b""
    [c] = agents_of(trio, "s4")
    assert (c["agent"], c["status"]) == ("codex", "done")          # the hidden title thread is not a thread

    for args in (["--agent", "nope", "--status", "done"], ["--agent", "codex", "--status", "sleeping"],
                 ["--agent", "codex"]):
        proc = trio.cli("emit", *args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_hook_exits_0_quickly_when_opensessions_is_down(world):
    import subprocess
    import time
    env = {**world.env, "TMUX": f"{world.socket},1,0", "TMUX_PANE": "%0"}
    for payload in (b'{"session_id": "x", "hook_event_name": "Stop"}', b"garbage", b""):
        t0 = time.monotonic()
        proc = subprocess.run([BIN, "hook", "claude-code"], input=payload, env=env, capture_output=True, timeout=5)
        assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b""
        assert time.monotonic() - t0 < 2.0     # generous: the budget is checked by the bench


def test_stale_when_evidence_stops_and_no_process_lives(world):
    write_config(world, stale_after=2)
    world.new_session("quiet")
    world.ok("up")
    world.ok("emit", "--agent", "codex", "--status", "running", "--session", "quiet", "--thread-id", "t-9")
    assert status_of(world, "quiet") == "running"
    wait_for(lambda: status_of(world, "quiet") == "stale", timeout=8, what="stale")


def test_metadata_shows_and_bad_input_is_refused(trio):
    trio.ok("set-status", "s2", "Deploying", "--tone", "warn")
    trio.ok("set-progress", "s2", "--current", "3", "--total", "10", "--label", "build")
    trio.ok("log", "s2", "step one", "--source", "ci")
    trio.ok("notify", "s2", "turn finished")
    meta = session_row(trio, "s2")["metadata"]
    assert meta["status"]["text"] == "Deploying" and meta["status"]["tone"] == "warn"
    assert (meta["progress"]["current"], meta["progress"]["total"], meta["progress"]["percent"],
            meta["progress"]["label"]) == (3, 10, 30.0, "build")
    assert [l["message"] for l in meta["logs"]] == ["step one", "turn finished"]
    trio.ok("clear-log", "s2")
    trio.ok("set-status", "s2", "--clear")
    trio.ok("set-progress", "s2", "--percent", "40")
    meta = session_row(trio, "s2")["metadata"]
    assert meta["logs"] == [] and meta["status"] is None and meta["progress"]["percent"] == 40

    bad = [(["set-status", "s2", "x" * 101], "100"), (["log", "s2", "y" * 501], "500"),
           (["set-progress", "s2", "--current", "5", "--total", "2"], "current"),
           (["set-progress", "s2", "--label", "z" * 101, "--percent", "1"], "100"),
           (["set-status", "s2", "hi", "--tone", "loud"], "tone"), (["set-status", "s2"], "TEXT"),
           (["set-progress", "s2"], "--current")]
    for args, word in bad:
        proc = trio.cli(*args)
        assert proc.returncode == 2, args
        assert word in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    proc = trio.cli("set-status", "nosuch", "hi")
    assert proc.returncode == 1 and "no session named 'nosuch'" in proc.stderr

    trio.ok("set-status", "s2", "Kept")
    trio.ok("down")
    trio.ok("up")
    wait_for(lambda: session_row(trio, "s2")["metadata"]["status"]["text"] == "Kept", what="metadata after restart")
