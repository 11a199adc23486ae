"""A minimal ZeroMQ REQ client (ZMTP 3.0, NULL mechanism) over a unix socket, in the standard
library only.

`opensessions switch N` must start and finish in a few tens of milliseconds, and importing
pyzmq alone costs ~30 ms. One request and one reply to a ROUTER is all the CLI needs, so it
speaks the wire protocol itself (RFC 23/ZMTP): greeting, READY, then frames. Anything it does
not understand is an error, never a hang: every read and write has the caller's deadline.
"""
from __future__ import annotations

import struct
import time

# the C module, not `socket`: the wrapper pulls in enum and selectors, ~4 ms of CLI start
import _socket as socket

SIGNATURE = b"\xff" + b"\x00" * 8 + b"\x7f"
FLAG_MORE, FLAG_LONG, FLAG_COMMAND = 0x01, 0x02, 0x04


class ZmtpError(Exception):
    """The peer is not there, not a ZeroMQ socket, or did not answer in time."""


def _greeting() -> bytes:
    mechanism = b"NULL".ljust(20, b"\x00")
    return SIGNATURE + bytes([3, 0]) + mechanism + b"\x00" + b"\x00" * 31


def _frame(body: bytes, flags: int) -> bytes:
    if len(body) > 255:
        return bytes([flags | FLAG_LONG]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def _ready(socket_type: bytes) -> bytes:
    prop = bytes([len(b"Socket-Type")]) + b"Socket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    return _frame(b"\x05READY" + prop, FLAG_COMMAND)


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float, max_bytes: int):
        self.sock, self.deadline, self.max_bytes = sock, deadline, max_bytes

    def exact(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ZmtpError("timed out")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(min(n - got, 1 << 20))
            except TimeoutError:
                raise ZmtpError("timed out") from None
            except OSError as e:   # reset by a peer that died mid-conversation
                raise ZmtpError(str(e)) from None
            if not chunk:
                raise ZmtpError("connection closed by the peer")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def frame(self) -> tuple[int, bytes]:
        flags = self.exact(1)[0]
        size = struct.unpack(">Q", self.exact(8))[0] if flags & FLAG_LONG else self.exact(1)[0]
        if size > self.max_bytes:
            raise ZmtpError(f"frame of {size} bytes is larger than {self.max_bytes}")
        return flags, self.exact(size)


def request(path: str, body: bytes, timeout: float, max_bytes: int = 64 << 20) -> bytes:
    """Send one message as a REQ socket to the ipc endpoint at `path`, return the reply body."""
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(_greeting() + _ready(b"REQ"))
        except OSError as e:
            raise ZmtpError(str(e)) from None
        reader = _Reader(sock, deadline, max_bytes)
        peer = reader.exact(64)
        if peer[:1] != b"\xff" or peer[9:10] != b"\x7f" or peer[10] < 3 or peer[12:16] != b"NULL":
            raise ZmtpError("the peer does not speak ZMTP 3 with the NULL mechanism")
        while True:   # the peer's READY (and any other command) comes before messages
            flags, payload = reader.frame()
            if not flags & FLAG_COMMAND:
                raise ZmtpError("a message arrived before the handshake ended")
            if payload[:6] == b"\x05READY":
                break
            if payload[:6] == b"\x05ERROR":
                raise ZmtpError("the peer refused the handshake")
        try:
            sock.sendall(_frame(b"", FLAG_MORE) + _frame(body, 0))   # REQ: empty delimiter, body
        except OSError as e:
            raise ZmtpError(str(e)) from None
        parts = []
        while True:
            flags, payload = reader.frame()
            if flags & FLAG_COMMAND:
                continue   # PING/PONG heartbeats and the like
            parts.append(payload)
            if not flags & FLAG_MORE:
                break
        if len(parts) < 2 or parts[0] != b"":
            raise ZmtpError("the reply is not a REQ/REP reply")
        return parts[-1]
    finally:
        sock.close()
