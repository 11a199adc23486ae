"""Snapshots and listings are full state: of a batch waiting on a socket, state, the publisher
and a sidebar decode only the newest of each kind. An older frame passed over is never decoded,
so a broken one there is not even counted; the newest is always decoded and validated in full."""
from __future__ import annotations

import os
import tempfile
import time

import pytest
import zmq

from cli.sidebar.feed import Feed
from services import protocol as P
from services.paths import Runtime
from services.publisher.loop import PublisherService
from services.state.loop import StateService

BROKEN_SNAPSHOT = b'{"v":1,"type":"state.snapshot","snapshot":{"sessions":[1'
BROKEN_GIT = b'{"v":1,"type":"obs.git","dirs":{"/a":'


@pytest.fixture
def rt():
    with tempfile.TemporaryDirectory(prefix="os-newest-") as d:
        os.chmod(d, 0o700)
        yield Runtime(socket_path=os.path.join(d, "no-tmux"), dir=d, config_dir=os.path.join(d, "config"))


@pytest.fixture
def pub(rt):
    service = PublisherService(rt)
    yield service
    for s in (service.inbox, service.pub, service.sync):
        s.close(0)


@pytest.fixture
def state(rt):
    service = StateService(rt)
    yield service
    service.close()


def _queue(endpoint: str, frames: list[bytes], receiver: zmq.Socket) -> None:
    """Send the frames in one go and let them all arrive before the receiver reads any."""
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 1000)
    push.connect(endpoint)
    for f in frames:
        push.send(f)
    assert receiver.poll(5000), "nothing arrived"
    time.sleep(0.2)   # the rest of the same burst over the same pipe
    push.close()


def published(pub: PublisherService) -> dict:
    return P.decode(pub.seq.message, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)["snapshot"]


def test_publisher_offers_only_the_newest_snapshot_of_a_batch(rt, pub):
    newest = {"sessions": [], "n": 3}
    _queue(rt.snapshot_in_endpoint, [BROKEN_SNAPSHOT, P.encode("state.snapshot", snapshot={"sessions": [], "n": 2}),
                                     P.encode("state.snapshot", snapshot=newest)], pub.inbox)
    pub.drain_inbox()
    assert (published(pub), pub.seq.seq, pub.superseded, pub.bad) == (newest, 1, 2, 0)


def test_publisher_falls_back_to_the_newest_valid_snapshot(rt, pub):
    good = {"sessions": [], "n": 1}
    _queue(rt.snapshot_in_endpoint, [P.encode("state.snapshot", snapshot=good), BROKEN_SNAPSHOT], pub.inbox)
    pub.drain_inbox()
    assert (published(pub), pub.seq.seq, pub.bad) == (good, 1, 1)


def test_state_decodes_only_the_newest_observation_of_each_kind(rt, state):
    newest = {"/a": {"branch": "new", "dirty": True}}
    event = {"agent": "claude-code", "source": "transcript", "status": "running", "thread_id": "t1", "at": time.time()}
    _queue(rt.observe_endpoint, [BROKEN_GIT,
                                 P.encode("obs.events", events=[event]),
                                 P.encode("obs.git", dirs={"/a": {"branch": "old", "dirty": False}}),
                                 P.encode("obs.git", dirs=newest),
                                 b"not json at all"], state.obs)
    state.drain_observations()
    assert state.model.git == newest
    assert "t1" in {t.thread_id for t in state.model.tracker.threads.values()}   # every evidence batch applies
    assert state.stats["observations"] == 5
    assert state.stats["bad_observations"] == 1   # the frame with no head of ours; the broken git was passed over
    # the same listing again is skipped without being decoded or applied
    state.model.git = {}
    _queue(rt.observe_endpoint, [P.encode("obs.git", dirs=newest)], state.obs)
    state.drain_observations()
    assert state.model.git == {} and state.stats["observations_unchanged"] == 1


def _feed(rt) -> Feed:
    feed = Feed(rt, zmq.Context.instance())
    feed.start(0.0)
    feed.core.on_sync_reply(P.decode(P.published_snapshot(1, "e", {"n": 1}), P.PUBLISHED), 0.0)
    return feed


def test_sidebar_decodes_only_the_newest_snapshot_of_a_batch(rt):
    feed = _feed(rt)
    try:
        broken = b'{"v":1,"type":"snapshot","seq":2,"epoch":"e","snapshot":{"n":'
        frames = [broken, P.published_snapshot(3, "e", {"n": 3}), P.heartbeat(3, "e"),
                  P.published_snapshot(4, "e", {"n": 4}), P.heartbeat(4, "e")]
        assert feed._published(frames, 1.0) is True
        assert (feed.snapshot, feed.core.seq, feed.bad, feed.core.syncing) == ({"n": 4}, 4, 0, False)
    finally:
        feed.close()


def test_sidebar_resyncs_when_the_newest_snapshot_is_broken(rt):
    feed = _feed(rt)
    try:
        broken = b'{"v":1,"type":"snapshot","seq":3,"epoch":"e","snapshot":{"n":'
        feed._published([P.published_snapshot(2, "e", {"n": 2}), broken], 1.0)
        assert feed.bad == 1 and feed.core.syncing   # what it shows may be older than its seq
    finally:
        feed.close()


def test_sidebar_reads_a_real_batch_off_its_socket(rt):
    feed = _feed(rt)
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(rt.pub_endpoint)
    try:
        deadline = time.monotonic() + 5
        while not feed.sub.poll(20) and time.monotonic() < deadline:   # the slow joiner
            pub.send(P.heartbeat(1, "e"))
        for seq in (2, 3, 4):
            pub.send(P.published_snapshot(seq, "e", {"n": seq}))
        while feed.core.seq < 4 and time.monotonic() < deadline:
            if feed.sub.poll(100):
                feed.read(feed.sub, 1.0)
        assert (feed.snapshot, feed.core.seq, feed.bad) == ({"n": 4}, 4, 0)
    finally:
        pub.close(0)
        feed.close()


def test_state_falls_back_to_an_older_observation_when_the_newest_is_broken(rt, state):
    older = {"/a": {"branch": "main", "dirty": False}}
    _queue(rt.observe_endpoint, [P.encode("obs.git", dirs=older), BROKEN_GIT], state.obs)
    state.drain_observations()
    assert state.model.git == older and state.stats["bad_observations"] == 1


def test_publisher_forwards_states_own_form_without_decoding_it(rt, pub):
    """What state really sends (snapshot_in: digest first): the newest is published as bytes,
    equal to encoding it, and a repeat of the same body is suppressed."""
    older, newest = {"sessions": [], "n": 1}, {"sessions": [], "n": 2}
    frames = [P.snapshot_in(s, P.snapshot_body(s)) for s in (older, newest)]
    _queue(rt.snapshot_in_endpoint, frames, pub.inbox)
    pub.drain_inbox()
    assert pub.seq.message == P.published_snapshot(1, pub.seq.epoch, newest)
    assert (pub.seq.seq, pub.superseded, pub.bad) == (1, 1, 0)
    again = {"sessions": [], "n": 2, "ts": 99.0}               # only the clock differs
    _queue(rt.snapshot_in_endpoint, [P.snapshot_in(again, P.snapshot_body(again))], pub.inbox)
    pub.drain_inbox()
    assert (pub.seq.seq, pub.seq.suppressed) == (1, 1)


def test_state_wakes_at_once_when_a_timer_changed_the_model(rt, state):
    state.timers()                 # the timers just ran: the next is up to a second away
    state.changed = False
    assert 0 < state.idle_wait() <= 1.0
    state.changed = True
    assert state.idle_wait() == 0.0


def test_an_unchanged_snapshot_settles_what_state_owed_the_publisher(rt, state):
    """B failed to send, then the model went back to A, which the publisher has: nothing is
    owed, so the timer does not rebuild the snapshot on every turn."""
    state.push_snapshot()                       # A goes out (queued for a publisher to come)
    assert state.stats["snapshots_pushed"] == 1
    state._unsent = True                        # as if B had met a full queue
    state.push_snapshot()                       # the model is A again
    assert state._unsent is False and state.stats["snapshots_unchanged"] == 1
