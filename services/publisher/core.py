"""The publisher's core: drop snapshots that change nothing, number the rest (Clone pattern).

Each published snapshot is encoded once and the same bytes go to every subscriber and to every
late joiner. The epoch changes when the publisher restarts, so subscribers can tell a new
sequence from a gap.
"""
from __future__ import annotations

import os

from services import protocol as P


class Sequencer:
    def __init__(self, epoch: str | None = None):
        self.epoch = epoch or os.urandom(4).hex()
        self.seq = 0
        self.snapshot_json: bytes | None = None   # the last published snapshot, as state encoded it
        self.message: bytes = P.published_snapshot(0, self.epoch, None)
        self._digest: str | None = None
        self.published = 0
        self.suppressed = 0

    def offer(self, snapshot: dict) -> bytes | None:
        """The message to publish, or None when the snapshot is the same as the last one."""
        return self.offer_json(P.snapshot_digest(P.snapshot_body(snapshot)), P.encode_json(snapshot))

    def offer_json(self, digest: str, snapshot_json: bytes) -> bytes | None:
        """`offer` for a snapshot already encoded, with the digest of its body (ts left out)."""
        if digest == self._digest:
            self.suppressed += 1
            return None
        self._digest = digest
        self.seq += 1
        self.snapshot_json = snapshot_json
        self.message = P.published_snapshot_json(self.seq, self.epoch, snapshot_json)
        self.published += 1
        return self.message

    def heartbeat(self) -> bytes:
        return P.heartbeat(self.seq, self.epoch)

    def stats(self) -> dict:
        return {"seq": self.seq, "epoch": self.epoch, "published": self.published,
                "suppressed": self.suppressed}
