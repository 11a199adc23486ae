from hypothesis import given, strategies as st

from services.state.pacing import Pacer


def test_a_change_after_a_quiet_spell_goes_out_at_once():
    p = Pacer(gap=0.02)
    assert p.want(100.0) is True
    assert p.want(100.5) is True
    assert p.due is None


def test_changes_inside_the_gap_wait_for_one_snapshot_at_its_end():
    p = Pacer(gap=0.02)
    assert p.want(1.000)
    assert not p.want(1.005)
    assert not p.want(1.010)
    assert p.due == 1.02
    assert not p.ready(1.019)
    assert abs(p.wait(1.010, 0.25) - 0.01) < 1e-9
    assert p.ready(1.021)          # one snapshot for both changes
    assert not p.ready(1.03)       # and nothing more until something changes
    assert not p.want(1.03)        # the gap counts from that snapshot
    assert p.ready(1.041)


def test_the_loop_sleeps_its_longest_when_nothing_is_due():
    p = Pacer()
    assert p.wait(5.0, 0.25) == 0.25
    p.want(5.0)
    p.want(5.001)
    assert 0 < p.wait(5.001, 0.25) <= 0.02


@given(st.lists(st.floats(min_value=0, max_value=0.05), min_size=1, max_size=200))
def test_no_two_snapshots_closer_than_the_gap_and_no_change_left_behind(steps):
    p, now, sent, last_change = Pacer(gap=0.02), 0.0, [], None
    for step in steps:
        now += step
        if p.ready(now):
            sent.append(now)
        last_change = now
        if p.want(now):
            sent.append(now)
    while p.due is not None:          # the loop keeps ticking after the last change
        now = max(now, p.due)
        if p.ready(now):
            sent.append(now)
    assert all(b - a >= 0.02 - 1e-12 for a, b in zip(sent, sent[1:]))
    assert sent[-1] >= last_change    # the last change is in a snapshot sent at or after it
