"""cli/sidebar/feed.py FeedCore: the Clone-pattern decisions — sync on start, drop what the
snapshot already covers, resync on a gap, a missed heartbeat or a new epoch. Messages come from
the publisher's real Sequencer, decoded as the sidebar decodes them."""
from __future__ import annotations

from hypothesis import given, strategies as st

from cli.sidebar.feed import (BUFFER_MAX, CONNECTING, HEARTBEAT_MISS, LIVE, RECONNECT, RECONNECTING,
                              SYNC, SYNC_TIMEOUT, FeedCore)
from services import protocol as P
from services.publisher.core import Sequencer

from ._builders import PROPS


def dec(frame: bytes) -> dict:
    return P.decode(frame, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)


def snap(n: int) -> dict:
    return {"ts": float(n), "sessions": [{"name": f"s{n}"}], "clients": [], "settings": {}}


def publish(seqr: Sequencer, n: int) -> dict:
    return dec(seqr.offer(snap(n)))


def synced(epoch="e1", upto=3, now=0.0):
    """A core that joined a publisher which had published `upto` snapshots."""
    pub = Sequencer(epoch=epoch)
    for n in range(1, upto + 1):
        pub.offer(snap(n))
    core = FeedCore()
    assert core.start(now) == ([SYNC], False)
    actions, changed = core.on_sync_reply(dec(pub.message), now)
    assert actions == [] and changed
    return core, pub


def test_start_asks_for_the_snapshot_and_is_connecting():
    core = FeedCore()
    assert core.start(0.0) == ([SYNC], False)
    assert core.syncing and core.link == CONNECTING and core.snapshot is None


def test_sync_reply_gives_snapshot_seq_and_epoch():
    core, pub = synced(upto=3)
    assert core.seq == 3 and core.epoch == "e1" and core.snapshot == snap(3)
    assert core.link == LIVE and not core.syncing


def test_next_update_applies_duplicates_and_old_ones_drop():
    core, pub = synced(upto=3)
    m4 = publish(pub, 4)
    assert core.on_published(m4, 1.0) == ([], True)
    assert core.seq == 4 and core.snapshot == snap(4)
    assert core.on_published(m4, 1.1) == ([], False)
    assert core.seq == 4


def test_updates_published_while_syncing_are_buffered_and_replayed_above_the_snapshot_seq():
    pub = Sequencer(epoch="e1")
    pub.offer(snap(1))
    core = FeedCore()
    core.start(0.0)
    early = publish(pub, 2)                    # the SUB got seq 2 before the reply came …
    reply = dec(pub.message)                   # … and the reply already covers it
    late = publish(pub, 3)                     # seq 3 comes after the reply was made
    assert core.on_published(early, 0.01) == ([], False)
    assert core.on_published(late, 0.02) == ([], False)
    assert core.snapshot is None               # nothing applied before the snapshot
    actions, changed = core.on_sync_reply(reply, 0.03)
    assert actions == [] and changed
    assert core.seq == 3 and core.snapshot == snap(3)


def test_a_gap_means_resync():
    core, pub = synced(upto=3)
    publish(pub, 4)                            # lost (slow subscriber: PUB dropped it)
    m5 = publish(pub, 5)
    actions, changed = core.on_published(m5, 1.0)
    assert actions == [SYNC] and not changed and core.syncing
    assert core.seq == 3                       # not applied past a gap …
    actions, changed = core.on_sync_reply(dec(pub.message), 1.01)
    assert actions == [] and changed and core.seq == 5 and core.snapshot == snap(5)


def test_gap_message_is_used_if_the_reply_is_older():
    core, pub = synced(upto=3)
    publish(pub, 4)
    old_reply = dec(pub.message)              # the reply (seq 4) was made …
    m5 = publish(pub, 5)                       # … before 5 was published
    core.on_published(m5, 1.0)                 # gap 3 → 5: resync; 5 is buffered
    core.on_sync_reply(old_reply, 1.01)
    assert core.seq == 5 and core.snapshot == snap(5)


def test_heartbeat_with_our_seq_is_fine_a_higher_one_means_we_missed_something():
    core, pub = synced(upto=3)
    assert core.on_published(dec(pub.heartbeat()), 1.0) == ([], False)
    publish(pub, 4)                            # lost
    actions, _ = core.on_published(dec(pub.heartbeat()), 2.0)
    assert actions == [SYNC]


def test_a_new_epoch_means_resync_even_with_a_plausible_seq():
    core, _ = synced(epoch="old", upto=3)
    restarted = Sequencer(epoch="new")
    for n in range(1, 5):
        restarted.offer(snap(10 + n))
    m = dec(restarted.message)                 # seq 4 = our seq + 1, but another publisher
    actions, changed = core.on_published(m, 1.0)
    assert actions == [SYNC] and not changed and core.snapshot == snap(3)
    core.on_sync_reply(dec(restarted.message), 1.1)
    assert core.epoch == "new" and core.seq == 4 and core.snapshot == snap(14)


def test_a_restarted_publisher_with_nothing_yet_keeps_the_old_snapshot_on_screen():
    core, _ = synced(epoch="old", upto=3)
    fresh = Sequencer(epoch="new")
    core.on_published(dec(fresh.heartbeat()), 1.0)          # epoch changed → resync
    actions, changed = core.on_sync_reply(dec(fresh.message), 1.1)
    assert core.epoch == "new" and core.seq == 0 and core.snapshot == snap(3)
    first = publish(fresh, 20)
    assert core.on_published(first, 2.0) == ([], True)
    assert core.snapshot == snap(20)


def test_missed_heartbeats_mean_reconnect_and_reconnecting():
    core, pub = synced(upto=1, now=0.0)
    assert core.on_tick(HEARTBEAT_MISS - 0.1) == ([], False)
    actions, changed = core.on_tick(HEARTBEAT_MISS + 0.01)
    assert actions == [RECONNECT, SYNC] and changed and core.link == RECONNECTING
    core.on_sync_reply(dec(pub.message), HEARTBEAT_MISS + 0.1)
    assert core.link == LIVE


def test_heartbeats_keep_the_link_alive():
    core, pub = synced(upto=1, now=0.0)
    for t in range(1, 20):
        core.on_published(dec(pub.heartbeat()), float(t))
        assert core.on_tick(t + 0.5) == ([], False)


def test_an_unanswered_sync_is_retried_on_a_fresh_socket():
    core = FeedCore()
    core.start(0.0)
    assert core.on_tick(SYNC_TIMEOUT - 0.01) == ([], False)
    actions, changed = core.on_tick(SYNC_TIMEOUT)
    assert actions == [RECONNECT, SYNC] and changed and core.link == RECONNECTING
    assert core.deadline() == SYNC_TIMEOUT * 2
    actions, changed = core.on_tick(SYNC_TIMEOUT * 2)
    assert actions == [RECONNECT, SYNC] and not changed   # still reconnecting: no repaint


def test_a_reply_when_not_syncing_is_ignored():
    core, pub = synced(upto=2)
    assert core.on_sync_reply(dec(pub.message), 1.0) == ([], False)


def test_r_forces_a_resync():
    core, pub = synced(upto=2)
    assert core.resync(1.0) == ([SYNC], False) and core.syncing


def test_deadline_is_the_next_thing_due():
    core = FeedCore()
    core.start(5.0)
    assert core.deadline() == 5.0 + SYNC_TIMEOUT
    core, _ = synced(now=7.0)
    assert core.deadline() == 7.0 + HEARTBEAT_MISS


def test_buffer_is_bounded():
    core = FeedCore()
    core.start(0.0)
    pub = Sequencer(epoch="e1")
    for n in range(1, BUFFER_MAX * 3):
        core.on_published(publish(pub, n), 0.0)
    assert len(core.buffer) == BUFFER_MAX


@PROPS
@given(st.lists(st.tuples(st.sampled_from(["pub", "lose", "hb", "restart", "tick"]), st.booleans()),
                max_size=60))
def test_whatever_is_lost_the_core_converges_to_the_publishers_snapshot(script):
    """Drive a real Sequencer and a core through losses, heartbeats and restarts; answer every
    sync request at once. At the end the core holds exactly what the publisher holds."""
    pub = Sequencer(epoch="e0")
    pub.offer(snap(0))
    core = FeedCore()
    now = 0.0
    n = 0
    restarts = 0
    pending = core.start(now)[0]

    def answer(actions):
        while SYNC in actions:
            actions, _ = core.on_sync_reply(dec(pub.message), now)

    answer(pending)
    for kind, flag in script:
        now += 0.5
        if kind in ("pub", "lose"):
            n += 1
            m = pub.offer(snap(n))
            if kind == "pub":
                answer(core.on_published(dec(m), now)[0])
        elif kind == "hb":
            answer(core.on_published(dec(pub.heartbeat()), now)[0])
        elif kind == "restart":
            restarts += 1
            pub = Sequencer(epoch=f"e{restarts}")
            if flag:
                n += 1
                pub.offer(snap(n))
        else:
            now += HEARTBEAT_MISS
            answer(core.on_tick(now)[0])
    # the next heartbeat (the publisher sends one every second when idle) settles it
    now += 0.5
    answer(core.on_published(dec(pub.heartbeat()), now)[0])
    assert core.epoch == pub.epoch and core.seq == pub.seq
    if pub.snapshot_json is not None:
        assert core.snapshot == P.parse_json(pub.snapshot_json)
