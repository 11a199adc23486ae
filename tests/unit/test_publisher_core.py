"""services/publisher/core.py: the Sequencer drops no-op snapshots and numbers the rest."""
from __future__ import annotations

import orjson
from hypothesis import given, strategies as st

from services import protocol as P
from services.publisher.core import Sequencer

from ._builders import PROPS


def decoded(msg: bytes) -> dict:
    return P.decode(msg, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)


def snap(ts: float, **body) -> dict:
    return {"ts": ts, "sessions": [], **body}


def test_before_any_snapshot_late_joiners_get_seq_0_and_no_snapshot():
    s = Sequencer(epoch="e1")
    m = decoded(s.message)
    assert (m["type"], m["seq"], m["epoch"], m["snapshot"]) == ("snapshot", 0, "e1", None)
    assert s.seq == 0 and s.snapshot is None


def test_first_snapshot_is_published_with_seq_1():
    s = Sequencer(epoch="e1")
    out = s.offer(snap(1.0, sessions=[{"name": "a"}]))
    m = decoded(out)
    assert (m["seq"], m["epoch"]) == (1, "e1")
    assert m["snapshot"] == snap(1.0, sessions=[{"name": "a"}])
    assert s.message == out                       # the same bytes go to late joiners


def test_identical_snapshots_are_suppressed_even_with_a_new_ts():
    s = Sequencer(epoch="e1")
    first = s.offer(snap(1.0))
    assert s.offer(snap(2.0)) is None
    assert s.offer(snap(3.0)) is None
    assert s.seq == 1 and s.suppressed == 2 and s.published == 1
    assert s.message == first


def test_key_order_does_not_make_a_change():
    s = Sequencer(epoch="e")
    s.offer({"ts": 1, "a": 1, "b": {"x": 1, "y": 2}})
    assert s.offer({"b": {"y": 2, "x": 1}, "a": 1, "ts": 5}) is None


def test_seq_increments_only_on_change():
    s = Sequencer(epoch="e")
    seqs = []
    for body in ["a", "a", "b", "b", "b", "a", "c", "c"]:
        out = s.offer(snap(len(seqs), state=body))
        seqs.append(decoded(out)["seq"] if out else None)
    assert seqs == [1, None, 2, None, None, 3, 4, None]
    assert s.stats() == {"seq": 4, "epoch": "e", "published": 4, "suppressed": 4}


def test_going_back_to_an_earlier_snapshot_is_a_change():
    s = Sequencer(epoch="e")
    s.offer(snap(1, x=1))
    s.offer(snap(2, x=2))
    assert s.offer(snap(3, x=1)) is not None
    assert s.seq == 3


def test_current_snapshot_and_message_follow_the_last_change():
    s = Sequencer(epoch="e")
    s.offer(snap(1, x=1))
    s.offer(snap(2, x=2))
    s.offer(snap(9, x=2))                                  # suppressed
    assert s.snapshot == snap(2, x=2)
    assert decoded(s.message)["snapshot"] == snap(2, x=2)
    assert decoded(s.message)["seq"] == 2


def test_heartbeat_carries_the_current_seq_and_epoch():
    s = Sequencer(epoch="cafe")
    h = decoded(s.heartbeat())
    assert (h["type"], h["seq"], h["epoch"]) == ("heartbeat", 0, "cafe")
    s.offer(snap(1, x=1))
    s.offer(snap(2, x=1))
    s.offer(snap(3, x=2))
    h = decoded(s.heartbeat())
    assert (h["seq"], h["epoch"]) == (2, "cafe")


def test_epoch_is_in_every_message():
    s = Sequencer(epoch="ep0")
    msgs = [s.message, s.heartbeat(), s.offer(snap(1, x=1)), s.heartbeat(), s.offer(snap(2, x=2))]
    assert all(orjson.loads(m)["epoch"] == "ep0" for m in msgs)


def test_a_new_publisher_has_a_new_epoch():
    a, b = Sequencer(), Sequencer()
    assert isinstance(a.epoch, str) and a.epoch
    assert a.epoch != b.epoch
    assert decoded(a.message)["epoch"] == a.epoch


snapshots = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 1e9)), max_size=30)


@PROPS
@given(snapshots)
def test_seq_counts_changes_and_every_offer_is_counted(items):
    s = Sequencer(epoch="e")
    last_body, changes, seqs = None, 0, []
    for body, ts in items:
        out = s.offer({"ts": ts, "body": body})
        if body != last_body:
            changes += 1
            assert out is not None
            m = decoded(out)
            seqs.append(m["seq"])
            assert m["snapshot"] == {"ts": ts, "body": body}
        else:
            assert out is None
        last_body = body
        assert decoded(s.heartbeat())["seq"] == s.seq == changes
    assert seqs == list(range(1, changes + 1))            # no gaps, no repeats
    assert s.published + s.suppressed == len(items)
    assert s.published == changes
