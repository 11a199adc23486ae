"""Ask a service one question and never hang (the Lazy Pirate pattern: timeout, retry, give up).

The CLI speaks ZMTP itself (cli/zmtp.py) rather than import pyzmq, to start fast.
"""
from __future__ import annotations

import os

from cli import zmtp
from services import protocol as P
from services.paths import check_socket_dir

NOT_RUNNING = "opensessions is not running (try `opensessions up`)"


class NotRunning(Exception):
    pass


def request(endpoint: str, message: bytes, timeout: float = 2.0, retries: int = 1,
            allowed: dict | None = None) -> dict:
    """Send one message, wait for one reply. A missing or dead socket fails at once; a silent one
    after `timeout` per try. Raises NotRunning, or ProtocolError for a reply we cannot read."""
    if not endpoint.startswith("ipc://"):
        raise NotRunning(f"unsupported endpoint {endpoint}")
    path = endpoint[len("ipc://"):]
    check_socket_dir(path)   # PathError: never talk to a socket others could have put there
    for _ in range(retries + 1):
        if not os.path.exists(path):
            break
        try:
            frame = zmtp.request(path, message, timeout, max_bytes=P.MAX_SNAPSHOT_BYTES)
        except zmtp.ZmtpError:
            continue
        if allowed is None:
            return P.decode_reply(frame)
        return P.decode(frame, allowed, max_bytes=P.MAX_SNAPSHOT_BYTES)
    raise NotRunning(NOT_RUNNING)
