"""services/publisher/core.py: the Sequencer drops no-op snapshots and numbers the rest."""
from __future__ import annotations

import orjson
import pytest
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
    assert s.seq == 0 and s.snapshot_json is None


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
    assert orjson.loads(s.snapshot_json) == snap(2, x=2)
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


# -- state's own form: forwarded without decoding ------------------------------------------

@PROPS
@given(st.dictionaries(st.sampled_from(["ts", "sessions", "clients", "x"]),
                       st.recursive(st.none() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=5),
                                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                                    max_leaves=10)),
       st.integers(0, 10**12), st.sampled_from(["e1", "00ff00ff", "ab\"c\\d"]))
def test_a_forwarded_snapshot_is_byte_for_byte_what_encoding_it_gives(snapshot, seq, epoch):
    frame = P.snapshot_in(snapshot, P.snapshot_body(snapshot))
    digest, raw = P.split_snapshot_in(frame)
    assert digest == P.snapshot_digest(P.snapshot_body(snapshot)) and orjson.loads(raw) == snapshot
    assert P.published_snapshot_json(seq, epoch, raw) == P.published_snapshot(seq, epoch, snapshot)


def test_the_forwarded_path_numbers_and_deduplicates_like_offer():
    direct, forwarded = Sequencer(epoch="e"), Sequencer(epoch="e")
    for snapshot in (snap(1.0), snap(2.0), snap(3.0, sessions=[{"name": "a"}]), snap(4.0, sessions=[{"name": "a"}])):
        a = direct.offer(snapshot)
        b = forwarded.offer_json(*P.split_snapshot_in(P.snapshot_in(snapshot, P.snapshot_body(snapshot))))
        assert a == b
    assert (forwarded.seq, forwarded.published, forwarded.suppressed) == (2, 2, 2)


@pytest.mark.parametrize("frame", [
    P.encode("state.snapshot", snapshot={"a": 1}),                                   # no digest: decoded instead
    b'{"v":1,"type":"state.snapshot","digest":"' + b"g" * 32 + b'","snapshot":{}}',    # not hex
    b'{"v":1,"type":"state.snapshot","digest":"' + b"a" * 31 + b'","snapshot":{}}',    # too short
    b'{"v":1,"type":"state.snapshot","digest":"' + b"a" * 32 + b'","snapshot":[]}',    # not an object
    b'{"v":1,"type":"state.snapshot","digest":"' + b"a" * 32 + b'","snapshot":{}',     # cut short
    b'{"v":1,"type":"state.snapshot","digest":"' + b"a" * 32 + b'","other":{}}',
])
def test_any_other_form_is_left_to_the_full_decode(frame):
    assert P.split_snapshot_in(frame) is None
