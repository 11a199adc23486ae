"""services/state/order.py: display order, visible order, reorder, remembered names, renames."""
from __future__ import annotations

from collections import namedtuple

import pytest
from hypothesis import assume, given, strategies as st

from services.state import order as O

from ._builders import PROPS

S = namedtuple("S", "name created id")


def names(sessions) -> list[str]:
    return [s.name for s in sessions]


# -- display_order ----------------------------------------------------------------------------

def test_sessions_in_creation_order():
    ss = [S("c", 300, "$3"), S("a", 100, "$1"), S("b", 200, "$2")]
    assert names(O.display_order(ss, [])) == ["a", "b", "c"]


def test_same_creation_time_breaks_ties_by_numeric_id():
    ss = [S("ten", 100, "$10"), S("nine", 100, "$9"), S("two", 100, "$2")]
    assert names(O.display_order(ss, [])) == ["two", "nine", "ten"]     # not "$10" < "$2"


def test_id_that_is_not_a_number_sorts_after_numbered_ones():
    ss = [S("odd", 100, "weird"), S("n", 100, "$500")]
    assert names(O.display_order(ss, [])) == ["n", "odd"]
    assert O.id_number("$42") == 42
    assert O.id_number("nope") > O.id_number("$999999")


def test_user_order_comes_first():
    ss = [S("a", 1, "$1"), S("b", 2, "$2"), S("c", 3, "$3"), S("d", 4, "$4")]
    assert names(O.display_order(ss, ["c", "a"])) == ["c", "a", "b", "d"]


def test_sessions_unknown_to_the_user_order_are_appended_in_creation_order():
    ss = [S("new2", 9, "$9"), S("a", 1, "$1"), S("new1", 8, "$8"), S("b", 2, "$2")]
    assert names(O.display_order(ss, ["b", "a"])) == ["b", "a", "new1", "new2"]


def test_user_order_names_without_a_session_are_ignored():
    ss = [S("a", 1, "$1"), S("b", 2, "$2")]
    assert names(O.display_order(ss, ["gone", "b", "also-gone", "a"])) == ["b", "a"]


def test_display_order_accepts_any_iterable():
    ss = {"$1": S("a", 1, "$1"), "$2": S("b", 0, "$2")}
    assert names(O.display_order(ss.values(), [])) == ["b", "a"]


sessions_st = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 50)), max_size=12, unique_by=lambda t: t[1]
).map(lambda rows: [S(f"s{sid}", created, f"${sid}") for created, sid in rows])


@PROPS
@given(sessions_st, st.data())
def test_display_order_is_a_permutation_that_honours_the_user_order(ss, data):
    all_names = [s.name for s in ss] + ["ghost1", "ghost2"]
    user = data.draw(st.lists(st.sampled_from(all_names), unique=True)) if all_names else []
    out = O.display_order(ss, user)
    assert sorted(names(out)) == sorted(names(ss))
    placed = [n for n in user if n in set(names(ss))]
    assert names(out)[:len(placed)] == placed
    rest = out[len(placed):]
    assert rest == sorted(rest, key=lambda s: (s.created, O.id_number(s.id)))


# -- visible_order ----------------------------------------------------------------------------

ABC = [S("a", 1, "$1"), S("b", 2, "$2"), S("c", 3, "$3"), S("d", 4, "$4")]


def test_hidden_sessions_are_removed():
    assert names(O.visible_order(ABC, {"b", "d"}, set())) == ["a", "c"]


def test_hidden_session_you_are_in_stays():
    assert names(O.visible_order(ABC, {"b", "d"}, {"b"})) == ["a", "b", "c"]


def test_hidden_names_that_do_not_exist_change_nothing():
    assert names(O.visible_order(ABC, {"zzz"}, {"yyy"})) == ["a", "b", "c", "d"]


def test_filter_all_keeps_sessions_without_agents():
    assert names(O.visible_order(ABC, set(), set(), "all", agent_state=lambda s: None,
                                 has_agents=lambda s: False)) == ["a", "b", "c", "d"]


def test_filter_active_keeps_sessions_with_agents():
    with_agents = {"b", "d"}
    out = O.visible_order(ABC, set(), set(), "active", has_agents=lambda s: s.name in with_agents)
    assert names(out) == ["b", "d"]


@pytest.mark.parametrize("state,kept", [
    ("running", True), ("tool-running", True), ("waiting", True),
    ("idle", False), ("done", False), ("error", False), ("interrupted", False), ("stale", False),
    (None, False),
])
def test_filter_running(state, kept):
    states = {"a": "running", "b": state, "c": None, "d": "done"}
    out = O.visible_order(ABC, set(), set(), "running", agent_state=lambda s: states[s.name],
                          has_agents=lambda s: states[s.name] is not None)
    assert names(out) == (["a", "b"] if kept else ["a"])


def test_filter_and_hidden_combine():
    out = O.visible_order(ABC, {"a"}, set(), "active", has_agents=lambda s: s.name in {"a", "c"})
    assert names(out) == ["c"]


@PROPS
@given(st.lists(st.sampled_from("abcdefgh"), unique=True), st.sets(st.sampled_from("abcdefgh")),
       st.sets(st.sampled_from("abcdefgh")), st.sampled_from(O.FILTERS),
       st.dictionaries(st.sampled_from("abcdefgh"),
                       st.sampled_from(["idle", "running", "tool-running", "waiting", "done", "error"])))
def test_visible_order_is_a_subsequence(order, hidden, current, filter_, states):
    ss = [S(n, i, f"${i}") for i, n in enumerate(order)]
    out = O.visible_order(ss, hidden, current, filter_, agent_state=lambda s: states.get(s.name),
                          has_agents=lambda s: s.name in states)
    it = iter(ss)
    assert all(any(x is y for y in it) for x in out)            # order kept, nothing invented
    for s in out:
        assert s.name not in hidden or s.name in current
    for s in ss:   # hidden is the only reason to drop a session under "all"
        if filter_ == "all" and (s.name not in hidden or s.name in current):
            assert s in out


# -- reorder ----------------------------------------------------------------------------------

def test_move_up_and_down():
    full = ["a", "b", "c"]
    assert O.reorder(full, full, "b", "up") == ["b", "a", "c"]
    assert O.reorder(full, full, "b", "down") == ["a", "c", "b"]


def test_edges_are_no_ops():
    full = ["a", "b", "c"]
    assert O.reorder(full, full, "a", "up") == full
    assert O.reorder(full, full, "c", "down") == full


def test_reorder_does_not_mutate_its_input():
    full = ["a", "b", "c"]
    O.reorder(full, full, "b", "up")
    assert full == ["a", "b", "c"]


def test_hidden_sessions_keep_their_place():
    full = ["a", "hidden", "b", "c"]
    visible = ["a", "b", "c"]
    assert O.reorder(full, visible, "b", "up") == ["b", "hidden", "a", "c"]
    assert O.reorder(full, visible, "a", "down") == ["b", "hidden", "a", "c"]


def test_remembered_names_keep_their_place():
    full = ["gone", "a", "gone2", "b"]
    assert O.reorder(full, ["a", "b"], "b", "up") == ["gone", "b", "gone2", "a"]


def test_reorder_of_a_name_that_is_not_visible_is_an_error():
    with pytest.raises(KeyError):
        O.reorder(["a", "h", "b"], ["a", "b"], "h", "up")


@st.composite
def full_and_visible(draw):
    n = draw(st.integers(1, 10))
    full = [f"s{i}" for i in draw(st.permutations(range(n)))]
    mask = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    mask[draw(st.integers(0, n - 1))] = True            # at least one visible
    visible = [name for name, shown in zip(full, mask) if shown]
    name = visible[draw(st.integers(0, len(visible) - 1))]
    return full, visible, name


@PROPS
@given(full_and_visible(), st.sampled_from(["up", "down"]))
def test_reorder_is_a_permutation_moving_one_visible_step(fvn, direction):
    full, visible, name = fvn
    new = O.reorder(full, visible, name, direction)
    assert sorted(new) == sorted(full)
    # names that are not visible do not move
    for i, n in enumerate(full):
        if n not in visible:
            assert new[i] == n
    new_visible = [n for n in new if n in visible]
    i = visible.index(name)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(visible):
        assert new_visible.index(name) == j
        expected = list(visible)
        expected[i], expected[j] = expected[j], expected[i]
        assert new_visible == expected
    else:
        assert new == full


@PROPS
@given(full_and_visible(), st.sampled_from(["up", "down"]))
def test_a_step_and_the_step_back_restore_the_order(fvn, direction):
    full, visible, name = fvn
    i = visible.index(name)
    if (direction == "up" and i == 0) or (direction == "down" and i == len(visible) - 1):
        return                                              # an edge: a no-op, checked above
    moved = O.reorder(full, visible, name, direction)
    moved_visible = [n for n in moved if n in visible]
    back = "down" if direction == "up" else "up"
    assert O.reorder(moved, moved_visible, name, back) == full


# -- merged_order -----------------------------------------------------------------------------

def test_without_remembered_names_it_is_the_live_order():
    assert O.merged_order(["b", "a"], ["b", "a", "c"]) == ["b", "a", "c"]
    assert O.merged_order([], ["a", "b"]) == ["a", "b"]


def test_remembered_name_stays_after_its_anchor():
    assert O.merged_order(["a", "gone", "b"], ["a", "b"]) == ["a", "gone", "b"]


def test_remembered_name_at_the_start_stays_first():
    assert O.merged_order(["gone", "a", "b"], ["a", "b"]) == ["gone", "a", "b"]


def test_consecutive_remembered_names_keep_their_order():
    assert O.merged_order(["a", "x", "y", "z", "b"], ["a", "b"]) == ["a", "x", "y", "z", "b"]
    assert O.merged_order(["x", "y", "a"], ["a"]) == ["x", "y", "a"]


def test_remembered_name_follows_its_anchor_when_the_anchor_moves():
    # the user moved b above a after "gone" disappeared
    assert O.merged_order(["a", "gone", "b"], ["b", "a"]) == ["b", "a", "gone"]


def test_new_live_sessions_come_after_the_remembered_ones_of_the_last_anchor():
    assert O.merged_order(["a", "gone"], ["a", "new"]) == ["a", "gone", "new"]


def test_all_remembered_when_nothing_is_live():
    assert O.merged_order(["x", "y"], []) == ["x", "y"]


def test_a_returning_session_takes_its_old_place():
    merged = O.merged_order(["a", "back", "b"], ["a", "b"])
    ss = [S("a", 1, "$1"), S("b", 2, "$2"), S("back", 9, "$9")]
    assert names(O.display_order(ss, merged)) == ["a", "back", "b"]


def test_remembered_names_are_bounded(monkeypatch):
    monkeypatch.setattr(O, "MAX_REMEMBERED", 10)
    user = ["a"] + [f"r{i}" for i in range(20)] + ["b"]
    out = O.merged_order(user, ["a", "b"])
    assert len(out) == 10
    assert "a" in out and "b" in out
    assert len(set(out)) == len(out)
    kept = [n for n in user if n in out]
    assert out == kept                                  # survivors keep their order


def test_live_names_are_never_dropped_by_the_bound(monkeypatch):
    monkeypatch.setattr(O, "MAX_REMEMBERED", 5)
    live = [f"l{i}" for i in range(8)]
    out = O.merged_order(["r1"] + live + ["r2"], live)
    assert out == live


def test_merging_the_largest_remembered_set_keeps_every_name_in_place():
    # MAX_REMEMBERED names bunched after one anchor: all kept, in their order, none duplicated
    user = ["a"] + [f"r{i}" for i in range(O.MAX_REMEMBERED - 2)] + ["b"]
    out = O.merged_order(user, ["a", "b"])
    assert out == user


@st.composite
def user_and_live(draw):
    pool = [f"n{i}" for i in range(12)]
    user = draw(st.lists(st.sampled_from(pool), unique=True, max_size=12))
    live_in_user = draw(st.sets(st.sampled_from(user))) if user else set()
    extras = draw(st.lists(st.sampled_from([f"x{i}" for i in range(4)]), unique=True, max_size=4))
    return user, live_in_user, extras


@PROPS
@given(user_and_live())
def test_merged_order_restores_the_user_order_when_live_order_agrees(ule):
    user, live, extras = ule
    ordered = [n for n in user if n in live] + extras
    assert O.merged_order(user, ordered) == user + extras


@PROPS
@given(user_and_live(), st.randoms(use_true_random=False))
def test_merged_order_keeps_every_name_once_and_the_live_order(ule, rnd):
    user, live, extras = ule
    ordered = [n for n in user if n in live] + extras
    rnd.shuffle(ordered)                       # the live order may disagree (sessions moved)
    out = O.merged_order(user, ordered)
    assert len(out) == len(set(out))
    assert set(out) == set(user) | set(ordered)
    assert [n for n in out if n in set(ordered)] == ordered


# -- rename_in --------------------------------------------------------------------------------

def test_rename_keeps_the_place():
    assert O.rename_in(["a", "old", "b"], "old", "new") == ["a", "new", "b"]


def test_rename_of_an_unknown_name_changes_nothing():
    src = ["a", "b"]
    out = O.rename_in(src, "zzz", "new")
    assert out == ["a", "b"] and out is not src


def test_rename_onto_a_remembered_name_leaves_one_entry_at_the_old_place():
    assert O.rename_in(["new", "a", "old"], "old", "new") == ["a", "new"]
    assert O.rename_in(["old", "a", "new"], "old", "new") == ["new", "a"]


@PROPS
@given(st.lists(st.sampled_from("abcdef"), unique=True), st.sampled_from("abcdefg"),
       st.sampled_from("abcdefgh"))
def test_rename_never_duplicates(names_, old, new):
    assume(old != new)      # the model only renames when the name changed
    out = O.rename_in(names_, old, new)
    assert len(out) == len(set(out))
    if old in names_:
        assert new in out and old not in out
        assert len(out) == len(names_) - (1 if new in names_ else 0)
    else:
        assert out == names_
