"""ZeroMQ socket set-up shared by the services: limits, linger, envelopes, parent watch."""
from __future__ import annotations

import os
import signal

import zmq


def socket(ctx: zmq.Context, kind: int, max_msg: int | None = None, sndhwm: int | None = None,
           rcvhwm: int | None = None) -> zmq.Socket:
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    if max_msg is not None:
        s.setsockopt(zmq.MAXMSGSIZE, max_msg)
    if sndhwm is not None:
        s.setsockopt(zmq.SNDHWM, sndhwm)
    if rcvhwm is not None:
        s.setsockopt(zmq.RCVHWM, rcvhwm)
    return s


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], bytes | None]:
    """ROUTER frames → (envelope to reply with, the one payload frame or None if misshapen).

    REQ peers send [id, b"", payload]; DEALER peers [id, payload]. Anything else is misshapen,
    but still gets an error reply on its envelope.
    """
    if len(frames) < 2:
        return frames, None
    if b"" in frames[1:]:
        k = frames.index(b"", 1)
        envelope, body = frames[:k + 1], frames[k + 1:]
    else:
        envelope, body = frames[:1], frames[1:]
    if len(body) != 1:
        return envelope, None
    return envelope, body[0]


class Stopper:
    """SIGTERM/SIGINT end the loop cleanly; a dead parent (supervisord) ends it too."""

    def __init__(self) -> None:
        self.stop = False
        self.parent = os.getppid()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.stop = True

    def orphaned(self) -> bool:
        return self.parent != 1 and os.getppid() != self.parent
