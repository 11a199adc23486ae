"""Commands to state over a DEALER, never waiting: a send returns at once, the answer comes
through the app's poll, and a request not answered in time is given up (Lazy Pirate: the socket
is closed with LINGER 0 and replaced, so a command queued while state was away is dropped with
it, never run minutes later). Idle, a ping now and then tells the sidebar whether state is
there, so it can say "reconnecting…" before a key fails."""
from __future__ import annotations

REPLY_TIMEOUT = 2.0
PING_EVERY = 2.0


class StateLink:
    def __init__(self, rt, ctx) -> None:
        import zmq
        from services import protocol as P
        self.zmq, self.P = zmq, P
        self.rt, self.ctx = rt, ctx
        self.sock = None
        self.pending: dict[bytes, tuple[str, float]] = {}   # request id → (command, deadline)
        self.counter = 0
        self.ok = True
        self.next_ping = 0.0
        self._open()

    def _open(self) -> None:
        zmq = self.zmq
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.MAXMSGSIZE, self.P.MAX_SNAPSHOT_BYTES)
        s.setsockopt(zmq.SNDHWM, 64)
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        s.connect(self.rt.state_endpoint)
        self.sock = s

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None
        self.pending.clear()

    def send(self, kind: str, fields: dict, now: float) -> bool:
        """False when the request cannot even be queued; the caller tells the user."""
        body = self.P.encode(kind, **fields)
        self.counter += 1
        rid = b"c%d" % self.counter
        try:
            self.sock.send_multipart([rid, b"", body], self.zmq.NOBLOCK)
        except self.zmq.ZMQError:
            self.ok = False
            return False
        self.pending[rid] = (kind, now + REPLY_TIMEOUT)
        return True

    def read(self, now: float, limit: int = 64) -> list[tuple[str, dict]]:
        """Answers that arrived: (command, reply) for each; pings are only counted."""
        out = []
        for _ in range(limit):
            try:
                frames = self.sock.recv_multipart(self.zmq.NOBLOCK)
            except self.zmq.ZMQError:
                break
            entry = self.pending.pop(frames[0], None)
            if entry is None or len(frames) < 2:
                continue   # an answer to a request given up on
            try:
                reply = self.P.decode_reply(frames[-1])
            except self.P.ProtocolError:
                reply = {"ok": False, "error": {"code": "bad_reply", "message": "state sent a reply we cannot read"}}
            self.ok = True
            if entry[0] != "ping":
                out.append((entry[0], reply))
        return out

    def tick(self, now: float) -> list[str]:
        """Commands that timed out (their answers will not come); sends the idle ping."""
        expired = [rid for rid, (_, deadline) in self.pending.items() if now >= deadline]
        lost = [self.pending[rid][0] for rid in expired]
        if expired:
            self.ok = False
            self.close()
            self._open()
        if now >= self.next_ping and not any(kind == "ping" for kind, _ in self.pending.values()):
            self.send("ping", {}, now)
            # while state is away, look more often: the sidebar should recover as soon as it can
            self.next_ping = now + (PING_EVERY if self.ok else PING_EVERY / 4)
        return [kind for kind in lost if kind != "ping"]

    def deadline(self) -> float:
        soonest = min((d for _, d in self.pending.values()), default=self.next_ping)
        return min(soonest, self.next_ping)
