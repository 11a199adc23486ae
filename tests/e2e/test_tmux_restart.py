"""The tmux server goes away and a new one starts on the same socket (SCENARIO 25)."""
import orjson

from .conftest import wait_for


def test_trio_reports_tmux_gone_and_serves_the_new_server(trio):
    trio.kill_server()
    status = wait_for(lambda: (s := orjson.loads(trio.ok("status", "--json")))
                      and s["tmux"]["connected"] is False and s, what="tmux reported down")
    assert status["tmux"]["error"]
    assert {i["state"] for i in status["services"].values()} == {"RUNNING"}
    assert trio.snapshot()["sessions"] == []
    assert "not reachable" in trio.ok("status")

    trio.new_session("again")
    wait_for(lambda: trio.names() == ["again"], timeout=10, what="the new server's session")
    c = trio.attach("again")
    trio.new_session("second")
    wait_for(lambda: trio.names() == ["again", "second"], what="second session")
    trio.ok("switch", "2")
    assert trio.client_session(c.tty) == "second"
    logs = trio.ok("logs")
    assert "Traceback" not in logs
