"""Order, hide, kill and new (SCENARIOS 12, 13, 14)."""
import os

import orjson

from .conftest import wait_for


def test_reorder_persists_across_a_restart_of_everything(trio):
    trio.ok("reorder", "s3", "up")
    assert trio.names() == ["s1", "s3", "s2", "s4", "s5"]
    trio.ok("reorder", "s1", "down")
    trio.ok("reorder", "s5", "down")                  # already last: nothing moves
    assert trio.names() == ["s3", "s1", "s2", "s4", "s5"]
    c = trio.attach("s4")
    trio.ok("switch", "1")                             # index follows the new order
    assert trio.client_session(c.tty) == "s3"
    c.close()

    trio.ok("down")
    trio.kill_server()
    for name in ("s5", "s4", "s3", "s2", "s1"):        # recreated in another creation order
        trio.new_session(name)
    trio.ok("up")
    wait_for(lambda: trio.names() == ["s3", "s1", "s2", "s4", "s5"], what="order restored")
    trio.new_session("s6")
    wait_for(lambda: trio.names() == ["s3", "s1", "s2", "s4", "s5", "s6"], what="new session at the end")

    from services.paths import Runtime
    order_file = Runtime.for_socket(trio.socket, trio.env).order_file
    assert orjson.loads(open(order_file, "rb").read())["order"][:5] == ["s3", "s1", "s2", "s4", "s5"]
    assert not [f for f in os.listdir(os.path.dirname(order_file)) if f.startswith(".tmp-")]


def test_hide_except_while_in_it_and_unhide(trio):
    c = trio.attach("s1")
    trio.ok("hide", "s2")
    snap = trio.snapshot()
    assert [s["name"] for s in snap["sessions"]] == ["s1", "s3", "s4", "s5"]
    assert [s["index"] for s in snap["sessions"]] == [1, 2, 3, 4]
    trio.ok("switch", "2")
    assert trio.client_session(c.tty) == "s3"

    trio.ok("hide", "s3")                              # the session the client is in stays listed
    assert trio.names() == ["s1", "s3", "s4", "s5"]
    trio.ok("switch", "s1")
    wait_for(lambda: trio.names() == ["s1", "s4", "s5"], what="s3 hidden once left")

    trio.ok("down")
    trio.ok("up")
    wait_for(lambda: trio.names() == ["s1", "s4", "s5"], what="hidden set survives a restart")
    trio.ok("unhide", "--all")
    assert trio.names() == ["s1", "s2", "s3", "s4", "s5"]


def test_kill_moves_the_client_to_the_neighbour_first(trio):
    c = trio.attach("s2")
    trio.ok("kill", "s2")
    assert trio.client_session(c.tty) == "s3"
    assert "s2" not in trio.session_names()
    assert trio.names() == ["s1", "s3", "s4", "s5"]
    trio.ok("switch", "s5")
    trio.ok("kill", "s5")                              # the last one: the client goes up
    assert trio.client_session(c.tty) == "s4"
    assert c.proc.poll() is None                       # the client was never detached
    proc = trio.cli("kill", "s5")
    assert proc.returncode == 1 and "no session named 's5'" in proc.stderr


def test_new_session_appears_at_the_end(trio):
    c = trio.attach("s1")
    assert trio.ok("new", "fresh").strip() == "fresh"
    assert "fresh" in trio.session_names()
    assert trio.names()[-1] == "fresh"
    assert trio.client_session(c.tty) == "s1"
    name = trio.ok("new", "--switch").strip()
    assert trio.client_session(c.tty) == name
    assert trio.names()[-1] == name
    proc = trio.cli("new", "fresh")
    assert proc.returncode == 1 and "duplicate" in proc.stderr
