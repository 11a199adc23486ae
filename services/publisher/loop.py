"""The publisher's loop: snapshots in on a PULL, out on a PUB, late joiners on a ROUTER,
heartbeats when idle. It never waits on a subscriber: PUB drops for slow ones at the HWM."""
from __future__ import annotations

import time

import orjson  # noqa: F401  (loaded first, so the protocol encodes with it)
import zmq

from services import log
from services import protocol as P
from services.paths import Runtime
from services.publisher.core import Sequencer
from services.sockets import Stopper, service_setup, socket, split_envelope

HEARTBEAT_EVERY = 1.0
ASK_STATE_EVERY = 1.0
INBOX_QUEUE = 4      # full snapshots: state keeps the newest itself and sends it again when it can
INBOX_BATCH = 64
PUB_QUEUE = 100      # per subscriber; one that falls further behind misses some, sees the gap and resyncs


class PublisherService:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.seq = Sequencer()
        self.ctx = zmq.Context.instance()
        self.inbox = socket(self.ctx, zmq.PULL, max_msg=P.MAX_SNAPSHOT_BYTES, rcvhwm=INBOX_QUEUE)
        self.inbox.bind(rt.snapshot_in_endpoint)
        self.pub = socket(self.ctx, zmq.PUB, sndhwm=PUB_QUEUE)
        self.pub.bind(rt.pub_endpoint)
        self.sync = socket(self.ctx, zmq.ROUTER, max_msg=P.MAX_COMMAND_BYTES)
        self.sync.bind(rt.sync_endpoint)
        self.state = None
        self.bad = 0
        self.superseded = 0
        self._last_send = time.monotonic()
        self._next_ask = 0.0

    def offer(self, snapshot: dict) -> None:
        message = self.seq.offer(snapshot)
        if message is not None:
            self._send(message)

    def _send(self, message: bytes) -> None:
        try:
            self.pub.send(message, zmq.NOBLOCK)
        except zmq.Again:
            pass
        self._last_send = time.monotonic()

    def handle_inbox(self, frame: bytes) -> bool:
        """Offer one snapshot from state; False for a bad frame (counted and logged). State's
        own form is forwarded undecoded (`split_snapshot_in`); any other is decoded and checked."""
        if len(frame) <= P.MAX_SNAPSHOT_BYTES:
            fast = P.split_snapshot_in(frame)
            if fast is not None:
                message = self.seq.offer_json(*fast)
                if message is not None:
                    self._send(message)
                return True
        try:
            msg = P.decode(frame, P.SNAPSHOT_IN, max_bytes=P.MAX_SNAPSHOT_BYTES)
        except P.ProtocolError as e:
            self.bad += 1
            log.warn("bad_snapshot", code=e.code, error=e.message)
            return False
        self.offer(msg["snapshot"])
        return True

    def handle_sync(self, frames: list[bytes]) -> None:
        envelope, body = split_envelope(frames)
        if body is None:
            self.bad += 1
            reply = P.error(P.BAD_MESSAGE, "a request is exactly one frame after the envelope")
        else:
            reply = self.answer(body)
        try:
            self.sync.send_multipart(envelope + [reply], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    def answer(self, body: bytes) -> bytes:
        try:
            msg = P.decode(body, P.SYNC_REQUESTS)
        except P.ProtocolError as e:
            self.bad += 1
            return P.error(e.code, e.message)
        if msg["type"] == "get_snapshot":
            self.drain_inbox()   # whatever state sent before this request is part of the answer
            return self.seq.message
        if msg["type"] == "stats":
            return P.ok({**self.seq.stats(), "bad_messages": self.bad, "superseded": self.superseded})
        return P.ok({"pong": True})

    def drain_inbox(self) -> None:
        """Snapshots are full state: of those waiting, only the newest valid one is decoded and
        offered. Sequence numbers are ours, so subscribers see no gap for the ones passed over."""
        frames = []
        for _ in range(INBOX_BATCH):
            try:
                frames.append(self.inbox.recv(zmq.NOBLOCK))
            except zmq.Again:
                break
        for i in range(len(frames) - 1, -1, -1):
            if self.handle_inbox(frames[i]):
                self.superseded += i   # older ones the newest replaced, never decoded
                return

    def ask_state(self) -> None:
        """After a (re)start: fetch the current snapshot instead of waiting for the next change."""
        if self.state is None:
            self.state = socket(self.ctx, zmq.DEALER, max_msg=P.MAX_SNAPSHOT_BYTES)
            self.state.connect(self.rt.state_endpoint)
        try:
            self.state.send_multipart([b"", P.encode("ls")], zmq.NOBLOCK)
        except zmq.Again:
            pass

    def handle_state_reply(self) -> None:
        try:
            frames = self.state.recv_multipart(zmq.NOBLOCK)
            reply = P.decode_reply(frames[-1])
        except (zmq.Again, P.ProtocolError):
            return
        if reply["ok"] and isinstance(reply.get("result"), dict) and self.seq.snapshot_json is None:
            self.offer(reply["result"])

    def run(self) -> None:
        stopper = Stopper()
        log.info("started", epoch=self.seq.epoch, endpoint=self.rt.pub_endpoint)
        while not stopper.stop and not stopper.orphaned():
            now = time.monotonic()
            if self.seq.snapshot_json is None and now >= self._next_ask:
                self._next_ask = now + ASK_STATE_EVERY
                self.ask_state()
            elif self.seq.snapshot_json is not None and self.state is not None:
                self.state.close(0)
                self.state = None
            poller = zmq.Poller()
            poller.register(self.inbox, zmq.POLLIN)
            poller.register(self.sync, zmq.POLLIN)
            poller.register(stopper.fileno(), zmq.POLLIN)
            if self.state is not None:
                poller.register(self.state, zmq.POLLIN)
            wait = max(0.0, self._last_send + HEARTBEAT_EVERY - now)
            try:
                events = dict(poller.poll(int(min(wait, 1.0) * 1000) + 1))   # ≤ 1 s: the parent check
            except zmq.ZMQError:
                continue
            if self.inbox in events:
                self.drain_inbox()
            if self.sync in events:
                for _ in range(1000):
                    try:
                        self.handle_sync(self.sync.recv_multipart(zmq.NOBLOCK))
                    except zmq.Again:
                        break
            if self.state is not None and self.state in events:
                self.handle_state_reply()
            if time.monotonic() - self._last_send >= HEARTBEAT_EVERY:
                self._send(self.seq.heartbeat())
        log.info("stopping")
        for s in (self.inbox, self.pub, self.sync, self.state):
            if s is not None:
                s.close(0)


def main(argv: list[str] | None = None) -> int:
    rt, _ = service_setup("publisher", argv)
    PublisherService(rt).run()
    return 0
