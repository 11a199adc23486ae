"""Switching by index, name, next/prev, from outside and inside tmux, with one and two clients
(SCENARIOS 3 and 4)."""

from .conftest import BIN, wait_for


def test_switch_index_name_next_prev_outside_tmux(trio):
    c = trio.attach("s1")
    trio.ok("switch", "3")
    assert trio.client_session(c.tty) == "s3"
    trio.ok("switch", "s5")
    assert trio.client_session(c.tty) == "s5"
    trio.ok("switch", "next")
    assert trio.client_session(c.tty) == "s1"           # wraps around
    trio.ok("switch", "prev")
    assert trio.client_session(c.tty) == "s5"
    trio.ok("switch", "prev")
    assert trio.client_session(c.tty) == "s4"
    wait_for(lambda: [x["session"] for x in trio.snapshot()["clients"]] == ["s4"], what="client in snapshot")


def test_switch_errors(trio):
    trio.attach("s1")
    proc = trio.cli("switch", "9")
    assert proc.returncode == 1
    assert "no session at index 9 (there are 5)" in proc.stderr
    proc = trio.cli("switch", "nope")
    assert proc.returncode == 1 and "no session named 'nope'" in proc.stderr
    proc = trio.cli("switch", "waiting")
    assert proc.returncode == 1
    proc = trio.cli("switch", "1", "--client", "/dev/pts/999")
    assert proc.returncode == 1 and "no client on /dev/pts/999" in proc.stderr


def test_two_clients_each_switch_only_itself(trio):
    a = trio.attach("s1")
    b = trio.attach("s2")
    wait_for(lambda: len(trio.snapshot()["clients"]) == 2, what="two clients")
    proc = trio.cli("switch", "3")
    assert proc.returncode == 2
    assert a.tty in proc.stderr and b.tty in proc.stderr and "--client" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

    trio.ok("switch", "4", "--client", a.tty)
    assert trio.client_session(a.tty) == "s4"
    assert trio.client_session(b.tty) == "s2"
    snap = wait_for(lambda: (s := trio.snapshot()) and {c["tty"]: c["session"] for c in s["clients"]}
                    == {a.tty: "s4", b.tty: "s2"} and s, what="both clients in the snapshot")
    assert {c["tty"] for c in snap["clients"]} == {a.tty, b.tty}


def test_switch_from_a_shell_inside_a_pane_moves_that_panes_client(trio):
    a = trio.attach("s1")
    b = trio.attach("s2")
    wait_for(lambda: len(trio.snapshot()["clients"]) == 2, what="two clients")
    # a shell in s2's pane runs the CLI with no -S and no --client: the server comes from $TMUX,
    # the client from $TMUX_PANE
    trio.tmux("send-keys", "-t", "=s2:", f"{BIN} switch 5; echo rc=$? > {trio.root}/rc", "Enter")
    wait_for(lambda: trio.client_session(b.tty) == "s5", what="client b to move")
    assert trio.client_session(a.tty) == "s1"
    wait_for(lambda: open(f"{trio.root}/rc").read().strip() == "rc=0", what="exit code file")


def test_ls_json_is_the_snapshot(trio):
    c = trio.attach("s2")
    snap = wait_for(lambda: (s := trio.snapshot()) and s["clients"] and s, what="client listed")
    assert isinstance(snap["seq"], int) and snap["seq"] >= 1
    assert [s["index"] for s in snap["sessions"]] == [1, 2, 3, 4, 5]
    for s in snap["sessions"]:
        for key in ("name", "index", "dir", "branch", "windows", "panes", "ports", "agents",
                    "agent_state", "unseen"):
            assert key in s, key
        assert s["windows"] == 1 and s["panes"] == 1 and s["dir"] == trio.home
    [client] = snap["clients"]
    assert client["tty"] == c.tty and client["session"] == "s2" and client["highlight"] == "s2"
    assert client["session_id"].startswith("$") and client["window"].startswith("@") and client["pane"].startswith("%")
    text = trio.ok("ls")
    assert text.splitlines()[1].startswith("*  2  s2")
