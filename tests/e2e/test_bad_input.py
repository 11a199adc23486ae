"""Every socket survives bad input and still answers a valid request afterwards; the CLI
turns bad arguments into exit 2 with one line."""
import orjson
import pytest
import zmq

from services import protocol as P
from services.paths import Runtime

from .conftest import wait_for

BAD_FRAMES = [b"", b"\x00\xff\xfe garbage", b"not json", b"[]", b"42", b'"str"', b"null",
              b'{"type": "ping"}', b'{"v": 99, "type": "ping"}', b'{"v": 1}', b'{"v": 1, "type": 7}',
              b'{"v": 1, "type": "explode"}', b'{"v": 1, "type": "switch"}',
              b'{"v": 1, "type": "switch", "target": 3}', b'{"v": 1, "type": "reorder", "name": "s1", "direction": "left"}',
              b'{"v": 1, "type": "hide", "name": "a\\nb"}', b'{"v": 1, "type": "switch", "target": "' + b"x" * 300 + b'"}',
              b'{"v": 1, "type": "obs.tmux", "panes": "nope", "clients": []}',
              b'{"v": 1, "type": "obs.tmux", "panes": [1, {"pane_id": 3}], "clients": [null]}',
              b'{"v": 1, "type": "state.snapshot", "snapshot": []}',
              b"{" * 10000]


def _req(ctx, endpoint, frame, timeout=3000):
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.send(frame)
    assert s.poll(timeout), "no reply"
    reply = s.recv()
    s.close()
    return orjson.loads(reply)


def test_every_socket_survives_garbage(trio):
    rt = Runtime.for_socket(trio.socket, trio.env)
    ctx = zmq.Context()
    try:
        for endpoint in (rt.state_endpoint, rt.sync_endpoint):
            for frame in BAD_FRAMES:
                reply = _req(ctx, endpoint, frame)
                assert reply["ok"] is False, (endpoint, frame[:40])
                assert reply["error"]["code"] in {P.BAD_JSON, P.BAD_MESSAGE, P.UNKNOWN_TYPE, P.BAD_VERSION, P.TOO_LARGE}
                assert reply["error"]["message"]
            # wrong multipart shapes from a DEALER: extra frames, empty bodies
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.connect(endpoint)
            for frames in ([b"", b"a", b"b"], [b"x", b"y", b"z"], [b""]):
                d.send_multipart(frames)
            replies = 0
            while d.poll(1000):
                d.recv_multipart()
                replies += 1
            assert replies >= 2
            d.close()
            # oversize: ZeroMQ's MAXMSGSIZE drops the peer; the service is unharmed
            big = ctx.socket(zmq.DEALER)
            big.setsockopt(zmq.LINGER, 0)
            big.connect(endpoint)
            big.send_multipart([b"", b"x" * (P.MAX_COMMAND_BYTES * 4)])
            big.close()
        for endpoint in (rt.observe_endpoint, rt.snapshot_in_endpoint):
            push = ctx.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 1000)
            push.connect(endpoint)
            for frame in BAD_FRAMES:
                push.send(frame)
            push.send_multipart([b"a", b"b"])
            push.close()
        # everything still answers, and counted what it refused
        assert _req(ctx, rt.state_endpoint, P.encode("ping"))["ok"] is True
        stats = wait_for(lambda: (s := _req(ctx, rt.state_endpoint, P.encode("stats"))["result"])
                         and s["bad_observations"] >= len(BAD_FRAMES) - 2 and s, what="bad observations counted")
        assert stats["bad_messages"] >= len(BAD_FRAMES)
        pub = _req(ctx, rt.sync_endpoint, P.encode("stats"))["result"]
        assert pub["bad_messages"] >= len(BAD_FRAMES)
        assert trio.names() == ["s1", "s2", "s3", "s4", "s5"]
        status = orjson.loads(trio.ok("status", "--json"))
        assert {i["state"] for i in status["services"].values()} == {"RUNNING"}
        pids = {n: i["pid"] for n, i in status["services"].items()}
        assert len(set(pids.values())) == 3
    finally:
        ctx.term()


@pytest.mark.parametrize("args", [
    [], ["bogus"], ["switch"], ["switch", "1", "extra"], ["reorder", "s1"], ["reorder", "s1", "left"],
    ["hide"], ["unhide"], ["kill"], ["logs", "nosuch"], ["ls", "--nope"], ["-L", "x", "-S", "y", "ls"],
    ["switch", "bad\nname"], ["new", "a\tb"], ["status", "extra"],
])
def test_bad_arguments_exit_2_with_one_line(world, args):
    proc = world.cli(*args, server=False)
    assert proc.returncode == 2, (args, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("opensessions: ")
    assert proc.stdout == ""
