"""The publisher feed, Clone pattern (ZeroMQ Guide ch. 5): subscribe first, then ask the sync
socket for the snapshot, drop updates at or below its sequence number; a gap, a missed
heartbeat or a new epoch (the publisher restarted) means "ask again". No sleeping to dodge the
slow joiner: whatever is published while the request is in flight is buffered and replayed.

FeedCore makes every decision and is pure (time comes in as an argument); Feed owns the
sockets and does what the core says.
"""
from __future__ import annotations

HEARTBEAT_MISS = 3.0     # s of silence; the publisher heartbeats every second when idle
SYNC_TIMEOUT = 1.0       # s to wait for the snapshot before a new socket and a new request
BUFFER_MAX = 64          # published messages kept while a sync request is in flight
SUB_QUEUE = 4            # full snapshots waiting; beyond that the publisher drops, we see a gap and resync

SYNC, RECONNECT = "sync", "reconnect"
CONNECTING, LIVE, RECONNECTING = "connecting", "live", "reconnecting"


class FeedCore:
    def __init__(self) -> None:
        self.epoch: str | None = None
        self.seq = -1
        self.snapshot: dict | None = None
        self.syncing = False
        self.sync_deadline = 0.0
        self.buffer: list[dict] = []
        self.last_heard = 0.0
        self.link = CONNECTING
        self.resyncs = 0

    # every method returns (actions for the shell, whether the snapshot or the link changed)

    def start(self, now: float) -> tuple[list[str], bool]:
        return self._resync(now), False

    def resync(self, now: float) -> tuple[list[str], bool]:
        """Ask for a fresh snapshot (the user pressed r)."""
        return self._resync(now), False

    def _resync(self, now: float, reconnect: bool = False) -> list[str]:
        self.syncing = True
        self.sync_deadline = now + SYNC_TIMEOUT
        self.resyncs += 1
        if reconnect:
            self.buffer = []   # new sockets: what the old SUB buffered says nothing about the new one
            return [RECONNECT, SYNC]
        return [SYNC]

    def _set_link(self, link: str) -> bool:
        changed = link != self.link
        self.link = link
        return changed

    def on_published(self, msg: dict, now: float) -> tuple[list[str], bool]:
        self.last_heard = now
        if self.syncing:
            self.buffer.append(msg)
            del self.buffer[:-BUFFER_MAX]
            return [], False
        if msg["epoch"] != self.epoch:
            return self._resync(now), False
        seq = msg["seq"]
        if msg["type"] == "heartbeat":
            if seq == self.seq:
                return [], self._set_link(LIVE)
            return self._resync(now), False          # a snapshot went by unseen
        if seq <= self.seq:
            return [], False                          # already have it (or newer)
        if seq == self.seq + 1:
            if msg.get("snapshot") is not None:
                self.snapshot = msg["snapshot"]
            self.seq = seq
            return [], self._set_link(LIVE) or True
        self.buffer.append(msg)                        # a gap: keep it, the sync reply decides
        return self._resync(now), False

    def on_sync_reply(self, msg: dict, now: float) -> tuple[list[str], bool]:
        if not self.syncing or msg.get("type") != "snapshot":
            return [], False
        self.syncing = False
        self.epoch, self.seq = msg["epoch"], msg["seq"]
        self.last_heard = now
        changed = self._set_link(LIVE)
        if msg.get("snapshot") is not None:
            # a publisher that has just started answers seq 0 with no snapshot: keep showing the
            # last one until its first arrives
            self.snapshot = msg["snapshot"]
            changed = True
        pending, self.buffer = sorted(self.buffer, key=lambda m: m.get("seq", 0)), []
        for i, m in enumerate(pending):
            actions, ch = self.on_published(m, now)
            changed = changed or ch
            if actions:
                self.buffer = pending[i + 1:] + self.buffer
                return actions, changed
        return [], changed

    def on_tick(self, now: float) -> tuple[list[str], bool]:
        if self.syncing and now >= self.sync_deadline:
            return self._resync(now, reconnect=True), self._set_link(RECONNECTING)
        if not self.syncing and now - self.last_heard >= HEARTBEAT_MISS:
            return self._resync(now, reconnect=True), self._set_link(RECONNECTING)
        return [], False

    def deadline(self) -> float:
        return self.sync_deadline if self.syncing else self.last_heard + HEARTBEAT_MISS


class Feed:
    """The sockets: SUB on the publisher, DEALER on its sync ROUTER. Sync requests carry an id
    in their envelope, so a late answer to a request given up on is recognised and dropped."""

    def __init__(self, rt, ctx) -> None:
        import zmq
        from services import protocol as P
        self.zmq, self.P = zmq, P
        self.rt, self.ctx = rt, ctx
        self.core = FeedCore()
        self.sub = self.sync = None
        self.request_id = b""
        self.counter = 0
        self.bad = 0
        self._open()

    def _socket(self, kind):
        s = self.ctx.socket(kind)
        s.setsockopt(self.zmq.LINGER, 0)
        s.setsockopt(self.zmq.MAXMSGSIZE, self.P.MAX_SNAPSHOT_BYTES)
        s.setsockopt(self.zmq.RECONNECT_IVL, 100)
        s.setsockopt(self.zmq.RECONNECT_IVL_MAX, 1000)
        return s

    def _open(self) -> None:
        zmq = self.zmq
        self.sub = self._socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, SUB_QUEUE)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(self.rt.pub_endpoint)      # subscribe first …
        self.sync = self._socket(zmq.DEALER)
        self.sync.connect(self.rt.sync_endpoint)    # … then ask (SYNC comes after this)

    def close(self) -> None:
        for s in (self.sub, self.sync):
            if s is not None:
                s.close(0)
        self.sub = self.sync = None

    def sockets(self) -> list:
        return [self.sub, self.sync]

    def perform(self, actions: list[str]) -> None:
        for action in actions:
            if action == RECONNECT:
                self.close()
                self._open()
            elif action == SYNC:
                self.counter += 1
                self.request_id = b"s%d" % self.counter
                try:
                    self.sync.send_multipart([self.request_id, b"", self.P.encode("get_snapshot")],
                                             self.zmq.NOBLOCK)
                except self.zmq.ZMQError:
                    pass   # no answer then; the sync timeout asks again on a fresh socket

    def _apply(self, result: tuple[list[str], bool]) -> bool:
        actions, changed = result
        self.perform(actions)
        return changed

    def start(self, now: float) -> None:
        self._apply(self.core.start(now))

    def resync(self, now: float) -> None:
        self._apply(self.core.resync(now))

    def tick(self, now: float) -> bool:
        return self._apply(self.core.on_tick(now))

    def read(self, sock, now: float, limit: int = 256) -> bool:
        """Handle what `sock` has (up to `limit` messages, so input keeps its turn)."""
        zmq = self.zmq
        frames = []
        for _ in range(limit):
            if sock is not self.sub and sock is not self.sync:
                break   # replaced by a reconnect while we read
            try:
                frames.append(sock.recv_multipart(zmq.NOBLOCK))
            except zmq.ZMQError:   # Again, or a socket closed under us
                break
        if not frames:
            return False
        if sock is self.sub:
            return self._published([f[-1] for f in frames], now)
        changed = False
        for f in frames:
            if f[0] == self.request_id:
                changed = self._decoded(f[-1], self.core.on_sync_reply, now) or changed   # a bad one: the sync timeout asks again
        return changed

    def _published(self, frames: list[bytes], now: float) -> bool:
        """Every snapshot is full state, so of a batch only the newest is decoded: the ones
        before it pass through the core by their header (seq, epoch) alone."""
        P = self.P
        heads = [P.published_header(f) for f in frames]
        newest = max((i for i, h in enumerate(heads) if h is None or h[0] == "snapshot"), default=-1)
        changed = False
        for i, (frame, head) in enumerate(zip(frames, heads)):
            if head is None or i == newest:
                changed = self._decoded(frame, self.core.on_published, now) or changed
            else:
                kind, seq, epoch = head
                changed = self._apply(self.core.on_published({"type": kind, "seq": seq, "epoch": epoch}, now)) or changed
        return changed

    def _decoded(self, frame: bytes, handler, now: float) -> bool:
        P = self.P
        try:
            msg = P.decode(frame, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)
        except P.ProtocolError:
            self.bad += 1
            if handler == self.core.on_published:   # the snapshot shown may be older than our seq now
                return self._apply(self.core.resync(now))
            return False
        return self._apply(handler(msg, now))

    @property
    def snapshot(self) -> dict | None:
        return self.core.snapshot

    @property
    def link(self) -> str:
        return self.core.link

    def deadline(self) -> float:
        return self.core.deadline()
