"""`up`, `down`, `status`, `logs` against a real supervisord (SCENARIO 27)."""
import os

import orjson
import psutil

from .conftest import wait_for


def _service_pids(world) -> dict:
    status = orjson.loads(world.ok("status", "--json"))
    return {name: info["pid"] for name, info in status["services"].items()}


def test_up_twice_runs_one_trio_and_down_leaves_nothing(world):
    world.new_session("main")
    assert "started" in world.ok("up")
    first = _service_pids(world)
    assert set(first) == {"state", "publisher", "collector"}
    assert all(psutil.pid_exists(pid) for pid in first.values())

    assert "already running" in world.ok("up")
    assert _service_pids(world) == first

    rt = world.runtime_dir()
    assert (os.stat(rt).st_mode & 0o777) == 0o700
    assert "stopped" in world.ok("down")
    wait_for(lambda: not any(psutil.pid_exists(p) for p in first.values()), what="services to exit")
    leftovers = [f for f in os.listdir(rt) if f.endswith((".sock", ".pid"))]
    assert leftovers == []
    # no process of ours is left anywhere on the machine for this runtime dir
    assert not [p for p in psutil.process_iter(["cmdline"]) if rt in " ".join(p.info["cmdline"] or [])]
    # tmux has no client of ours left either
    assert world.tmux("list-clients", "-F", "#{client_control_mode}").split() == []

    assert "not running" in world.ok("down")
    assert world.cli("status").returncode == 3


def test_commands_when_not_running_exit_3_at_once(world):
    world.new_session("main")
    for args in (["ls"], ["switch", "1"], ["hide", "main"], ["status", "--json"]):
        proc = world.cli(*args, timeout=5)
        assert proc.returncode == 3, args
    proc = world.cli("ls")
    assert proc.stderr.strip() == "opensessions: opensessions is not running (try `opensessions up`)"


def test_status_and_logs(trio):
    status = orjson.loads(trio.ok("status", "--json"))
    assert status["running"] is True
    assert {i["state"] for i in status["services"].values()} == {"RUNNING"}
    assert status["tmux"]["connected"] is True
    text = trio.ok("status")
    assert "state" in text and "RUNNING" in text
    logs = trio.ok("logs", "state")
    assert "event=started" in logs
    assert "==> collector <==" in trio.ok("logs")


def test_crashed_service_is_restarted(trio):
    before = _service_pids(trio)
    psutil.Process(before["state"]).kill()
    wait_for(lambda: (p := _service_pids(trio))["state"] not in (None, before["state"]) and p, what="state restart")
    wait_for(lambda: trio.names() == ["s1", "s2", "s3", "s4", "s5"], what="sessions after restart")
