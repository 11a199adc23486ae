"""cli/zmtp.py: the standard-library ZMTP 3.0 REQ client, against a real pyzmq ROUTER on an
ipc:// socket (the one unit here that needs a real peer: it *is* the wire client)."""
from __future__ import annotations

import _socket
import os
import shutil
import tempfile
import threading

import pytest
import zmq

from cli import zmtp


@pytest.fixture
def sock_dir(tmp_path):
    """A directory for ipc sockets; short, since a unix socket path must fit in ~107 bytes."""
    if len(str(tmp_path)) < 60:
        yield str(tmp_path)
        return
    d = tempfile.mkdtemp(prefix="zt-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Router:
    """A ROUTER on a thread: answers each request with reply(body) (None: stay silent)."""

    def __init__(self, path: str, reply):
        self.path, self.reply = path, reply
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.bind(f"ipc://{path}")
        self.received: list[list[bytes]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self.stop.is_set():
            if not poller.poll(20):
                continue
            frames = self.sock.recv_multipart()
            self.received.append(frames)
            identity, *envelope_and_body = frames
            body = self.reply(envelope_and_body[-1])
            if body is not None:
                self.sock.send_multipart([identity, b"", body])

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()
        self.ctx.term()


@pytest.fixture
def router(sock_dir):
    made = []

    def make(reply, name="state.sock"):
        r = Router(os.path.join(sock_dir, name), reply)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def test_a_request_gets_its_reply(router):
    r = router(lambda body: b"pong:" + body)
    assert zmtp.request(r.path, b'{"v":1,"type":"ping"}', timeout=5.0) == b'pong:{"v":1,"type":"ping"}'
    (frames,) = r.received
    assert frames[1:] == [b"", b'{"v":1,"type":"ping"}']       # a REQ envelope: empty delimiter, body


def test_several_requests_in_a_row(router):
    r = router(lambda body: body[::-1])
    for i in range(5):
        msg = f"message {i}".encode()
        assert zmtp.request(r.path, msg, timeout=5.0) == msg[::-1]
    assert len(r.received) == 5


@pytest.mark.parametrize("size", [0, 1, 255, 256, 70_000, 3_000_000])
def test_bodies_of_every_size_round_trip(router, size):
    # > 255 bytes needs the long frame form, both ways
    big = bytes(i % 251 for i in range(size))
    r = router(lambda body: body + b"!")
    assert zmtp.request(r.path, big, timeout=10.0) == big + b"!"


def test_a_peer_that_never_replies_is_a_timeout(router):
    r = router(lambda body: None)
    with pytest.raises(zmtp.ZmtpError) as e:
        zmtp.request(r.path, b"hello?", timeout=0.3)
    assert "timed out" in str(e.value)
    assert r.received and r.received[0][-1] == b"hello?"     # it did arrive


def test_a_missing_socket_fails_at_once(sock_dir):
    with pytest.raises(zmtp.ZmtpError):
        zmtp.request(os.path.join(sock_dir, "nobody.sock"), b"x", timeout=30.0)


def test_a_socket_file_nobody_listens_on_fails_at_once(sock_dir):
    path = os.path.join(sock_dir, "stale.sock")
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.bind(path)
    s.close()                                         # the file stays, nobody listens (a dead service)
    with pytest.raises(zmtp.ZmtpError):
        zmtp.request(path, b"x", timeout=30.0)


def test_a_reply_larger_than_allowed_is_refused(router):
    r = router(lambda body: b"x" * 5000)
    with pytest.raises(zmtp.ZmtpError) as e:
        zmtp.request(r.path, b"q", timeout=5.0, max_bytes=4096)
    assert "larger" in str(e.value)
    assert zmtp.request(r.path, b"q", timeout=5.0, max_bytes=5000) == b"x" * 5000


def _fake_server(path: str, behaviour) -> threading.Thread:
    srv = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def run():
        conn_fd, _ = srv._accept()
        conn = _socket.socket(fileno=conn_fd)
        try:
            behaviour(conn)
        finally:
            conn.close()
            srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _recv_some(conn, n: int) -> bytes:
    conn.settimeout(5.0)
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("name,behaviour", [
    ("http", lambda c: (_recv_some(c, 10), c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b" " * 64))),
    ("closes-after-reading-all", lambda c: _recv_some(c, len(zmtp._greeting() + zmtp._ready(b"REQ")))),
    # a service that dies mid-handshake: closing with our bytes unread makes the kernel reset the
    # connection (ECONNRESET on our recv) — still "not there", a ZmtpError like any other
    ("dies-with-data-unread", lambda c: _recv_some(c, 10)),
    ("zmtp2", lambda c: (_recv_some(c, 10), c.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x01\x00" + b"\x00" * 52))),
    ("curve", lambda c: (_recv_some(c, 10),
                         c.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00" + b"CURVE".ljust(20, b"\x00") + b"\x00" * 32))),
    ("message-before-ready", lambda c: (_recv_some(c, 64),
                                        c.sendall(zmtp.SIGNATURE + bytes([3, 0]) + b"NULL".ljust(20, b"\x00")
                                                  + b"\x00" * 32 + b"\x00\x02hi"))),
    ("error-command", lambda c: (_recv_some(c, 64),
                                 c.sendall(zmtp.SIGNATURE + bytes([3, 0]) + b"NULL".ljust(20, b"\x00")
                                           + b"\x00" * 32 + b"\x04\x0a\x05ERRORnope"))),
])
def test_a_peer_that_is_not_a_zmtp3_null_router_is_an_error_not_a_hang(sock_dir, name, behaviour):
    path = os.path.join(sock_dir, f"{name}.sock")
    t = _fake_server(path, behaviour)
    with pytest.raises(zmtp.ZmtpError):
        zmtp.request(path, b"x", timeout=5.0)
    t.join(timeout=5)


def test_frames_use_the_short_form_up_to_255_bytes_and_the_long_form_above():
    assert zmtp._frame(b"a" * 255, 0)[:2] == bytes([0, 255])
    long = zmtp._frame(b"a" * 256, zmtp.FLAG_MORE)
    assert long[0] == zmtp.FLAG_MORE | zmtp.FLAG_LONG and long[1:9] == (256).to_bytes(8, "big")
