"""Ask a service one question over ZeroMQ and never hang (the Lazy Pirate pattern)."""
from __future__ import annotations

import os

import zmq

from services import protocol as P

NOT_RUNNING = "opensessions is not running (try `opensessions up`)"


class NotRunning(Exception):
    pass


def _ipc_exists(endpoint: str) -> bool:
    return not endpoint.startswith("ipc://") or os.path.exists(endpoint[len("ipc://"):])


def request(endpoint: str, message: bytes, timeout: float = 2.0, retries: int = 1,
            allowed: dict | None = None) -> dict:
    """Send one message, wait for one reply. A missing socket fails at once; a silent one after
    `timeout` per try. Raises NotRunning, or ProtocolError for a reply we cannot read."""
    if not _ipc_exists(endpoint):
        raise NotRunning(NOT_RUNNING)
    ctx = zmq.Context.instance()
    for _ in range(retries + 1):
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, P.MAX_SNAPSHOT_BYTES)
        try:
            sock.connect(endpoint)
            sock.send(message)
            if sock.poll(int(timeout * 1000), zmq.POLLIN):
                frame = sock.recv()
                if allowed is None:
                    return P.decode_reply(frame)
                return P.decode(frame, allowed, max_bytes=P.MAX_SNAPSHOT_BYTES)
        finally:
            sock.close(0)
    raise NotRunning(NOT_RUNNING)
