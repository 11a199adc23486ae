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
    """SIGTERM/SIGINT end the loop cleanly; a dead parent (supervisord) ends it too.

    A signal also writes to a pipe the loop polls (`fileno`), so a stop request wakes the loop
    at once instead of after its poll timeout.
    """

    def __init__(self) -> None:
        self.stop = False
        self.parent = os.getppid()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.stop = True

    def fileno(self) -> int:
        return self._r

    def drain(self) -> None:
        try:
            while os.read(self._r, 512):
                pass
        except BlockingIOError:
            pass

    def orphaned(self) -> bool:
        return self.parent != 1 and os.getppid() != self.parent


def service_setup(name: str, argv: list[str] | None):
    """A service's command line (as supervisord starts it) → its Runtime and the user's config."""
    import argparse

    from services import log
    from services.config import load as load_config
    from services.paths import Runtime, ensure_private_dir
    parser = argparse.ArgumentParser(prog=f"opensessions-{name}")
    parser.add_argument("--tmux-socket", required=True)
    parser.add_argument("--runtime-dir", required=True)
    parser.add_argument("--config-dir", required=True)
    args = parser.parse_args(argv)
    log.configure(name)
    rt = Runtime(args.tmux_socket, args.runtime_dir, args.config_dir)
    ensure_private_dir(rt.dir)
    return rt, load_config(rt.config_file)
