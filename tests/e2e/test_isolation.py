"""Who may connect, and what is shared (issue 6): the runtime dir is private (0700, refused when
someone else owns it or could write to it), the trio opens no TCP port, and two tmux servers get
two trios that never see each other's state."""
import os
import time

import orjson
import psutil
import pytest
import zmq

from bench.storm import CloneSub, body

from .conftest import wait_for
from .fault_helpers import (SecondServer, command, pane_of, processes_of, running_pids, runtime, session_row,
                            supervisord_pid)


def _refused(world, args=("up",)) -> str:
    proc = world.cli(*args, timeout=30)
    assert proc.returncode == 1, (args, proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_runtime_dir_is_private_and_refused_when_others_can_write(world):
    world.new_session("s1")
    rt = runtime(world)
    os.makedirs(rt.dir, mode=0o700)
    os.chmod(rt.dir, 0o777)
    err = _refused(world)
    assert "group/world writable" in err and f"chmod 700 {rt.dir}" in err      # says how to fix it
    assert processes_of(world) == []                                           # nothing was started
    os.chmod(rt.dir, 0o770)
    assert "group/world writable" in _refused(world)

    os.chmod(rt.dir, 0o700)                                                    # the fix works
    world.ok("up")
    assert (os.stat(rt.dir).st_mode & 0o777) == 0o700
    os.chmod(rt.dir, 0o777)                                                    # and `up` checks every time
    assert "group/world writable" in _refused(world)
    os.chmod(rt.dir, 0o700)


def test_runtime_dir_created_private_from_nothing(world):
    world.new_session("s1")
    rt = runtime(world)
    assert not os.path.exists(rt.dir)
    world.ok("up")
    assert (os.stat(rt.dir).st_mode & 0o777) == 0o700 and os.stat(rt.dir).st_uid == os.getuid()
    assert (os.stat(rt.log_dir).st_mode & 0o077) == 0


@pytest.mark.skipif(os.getuid() != 0, reason="giving a dir to another user needs root")
def test_runtime_dir_owned_by_another_user_is_refused(world):
    world.new_session("s1")
    rt = runtime(world)
    os.makedirs(rt.dir, mode=0o700)
    os.chown(rt.dir, 65534, 65534)
    try:
        err = _refused(world)
        assert "owned by uid 65534" in err and "OPENSESSIONS_RUNTIME_DIR" in err
        assert processes_of(world) == []
    finally:
        os.chown(rt.dir, os.getuid(), os.getgid())


def test_runtime_base_others_can_write_is_refused(world):
    """The base the per-server dirs live in (`/tmp/opensessions-<uid>` by default) must not be
    writable by others either: whoever may write to it can rename our 0700 dir away and put
    their own in its place, and every client that connects afterwards talks to them."""
    world.new_session("s1")
    os.makedirs(world.runtime, mode=0o700)
    os.chmod(world.runtime, 0o777)
    err = _refused(world)
    assert world.runtime in err
    assert processes_of(world) == []


def test_clients_refuse_a_runtime_dir_others_can_write(trio):
    """A CLI call checks the dir before it connects to a socket in it, like `up` does."""
    rt = runtime(trio)
    os.chmod(rt.dir, 0o777)
    try:
        for args in (("ls",), ("switch", "2"), ("set-status", "s1", "x")):
            assert "group/world writable" in _refused(trio, args)
    finally:
        os.chmod(rt.dir, 0o700)


def test_no_tcp_port_and_sockets_only_in_the_private_dir(trio):
    """The trio (and its supervisord) listens on nothing but unix sockets in its 0700 dir; TCP is
    not supported at all (docs/reliability.md)."""
    rt = runtime(trio)
    pids = running_pids(trio)
    procs = [psutil.Process(p) for p in [*pids.values(), supervisord_pid(trio)]]
    for p in procs:
        assert p.net_connections(kind="inet") == [], (p.pid, p.name(), p.net_connections(kind="inet"))
        listening = [c.laddr for c in p.net_connections(kind="unix") if c.laddr]
        assert all(path.startswith(rt.dir + "/") for path in listening), (p.pid, listening)
    for name in ("state.sock", "observe.sock", "snapin.sock", "pub.sock", "sync.sock"):
        assert os.path.exists(os.path.join(rt.dir, name)), name


def test_two_tmux_servers_get_two_independent_trios(world):
    """Same HOME, config dir and runtime base, two tmux sockets: two runtime dirs, two
    supervisords, two trios, two order files; a switch, hide, reorder, set-status, emit or theme
    change on one never shows on the other, and `down` on one leaves the other running."""
    other = SecondServer(world)
    b = other.w
    try:
        for w in (world, b):
            for name in ("s1", "s2", "s3"):
                w.new_session(name)
        ca, cb = world.attach("s1"), b.attach("s1")
        world.ok("up")
        b.ok("up")
        for w in (world, b):
            wait_for(lambda: w.names() == ["s1", "s2", "s3"], what="three sessions")
        ra, rb = runtime(world), runtime(b)
        assert ra.dir != rb.dir and ra.order_file != rb.order_file
        pa, pb = running_pids(world), running_pids(b)
        assert set(pa.values()).isdisjoint(pb.values())
        assert supervisord_pid(world) != supervisord_pid(b)
        before_b = b.snapshot()

        ctx = zmq.Context()
        sub = CloneSub(ctx, rb)
        try:
            sub.resync()
            seq_b = sub.seq
            world.ok("switch", "2", "--client", ca.tty)
            world.ok("hide", "s3")
            world.ok("reorder", "s2", "up")
            world.ok("set-status", "s1", "only on A", "--tone", "warn")
            world.ok("log", "s1", "A's log")
            world.ok("emit", "--agent", "claude-code", "--status", "done", "--pane", pane_of(world, "s1"),
                     "--thread-id", "t-a")
            command(world, "set_setting", key="theme", value="nord")
            snap_a = world.snapshot()
            assert [s["name"] for s in snap_a["sessions"]] == ["s2", "s1"]
            assert session_row(snap_a, "s1")["metadata"]["status"]["text"] == "only on A"
            time.sleep(1.5)                  # B's publisher would have sent anything by now
            sub.pump()
            assert sub.seq == seq_b, "B published a snapshot while only A changed"
        finally:
            sub.close()
            ctx.term()

        snap_b = b.snapshot()
        assert body(snap_b) == body(before_b)
        assert [s["name"] for s in snap_b["sessions"]] == ["s1", "s2", "s3"] and snap_b["hidden"] == []
        assert all(s["agents"] == [] and s["metadata"]["status"] is None and s["metadata"]["logs"] == []
                   for s in snap_b["sessions"])
        assert snap_b["settings"]["theme"] != "nord"
        assert b.client_session(cb.tty) == "s1" and world.client_session(ca.tty) == "s2"
        assert orjson.loads(open(ra.order_file, "rb").read())["hidden"] == ["s3"]
        assert not os.path.exists(rb.order_file) or orjson.loads(open(rb.order_file, "rb").read())["hidden"] == []

        b.ok("switch", "3", "--client", cb.tty)             # and the other way round
        b.ok("set-status", "s3", "only on B")
        assert world.client_session(ca.tty) == "s2"
        assert all(s["metadata"]["status"] is None or s["name"] == "s1" for s in world.snapshot()["sessions"])

        world.ok("down")                                   # one down, the other untouched
        wait_for(lambda: not any(psutil.pid_exists(p) for p in pa.values()), what="A's trio to stop")
        assert running_pids(b) == pb
        assert session_row(b.snapshot(), "s3")["metadata"]["status"]["text"] == "only on B"
    finally:
        other.close()

