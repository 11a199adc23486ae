"""services/state/model.py: tmux listings into the model, and the decisions commands make."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from services import protocol as P
from services.state.model import CommandError, Model
from services.tmux import PaneRow

from ._builders import PROPS, client_row, make_model, pane_row, session_rows

ALPHA, BETA, GAMMA = ("$1", "alpha", 100, ["%1", "%2"]), ("$2", "beta", 200, ["%3"]), ("$3", "gamma", 300, ["%4"])


def three(clients=(), **kw) -> Model:
    """alpha ($1: %1 %2), beta ($2: %3), gamma ($3: %4), created in that order."""
    return make_model([ALPHA, BETA, GAMMA], clients, **kw)


def in_alpha(tty="/dev/pts/1", pane="%1", activity=0):
    return client_row(tty, "$1", "alpha", pane_id=pane, activity=activity)


def visible_names(m: Model) -> list[str]:
    return [s.name for s in m.visible()]


def error_code(excinfo) -> str:
    return excinfo.value.code


def add_agent(m: Model, pane: str, agent="codex", pid=77, status=None, unseen=False):
    found = {p: [{"agent": a, "pid": i} for a, i in lst] for p, lst in _agents_of(m).items()}
    found.setdefault(pane, []).append({"agent": agent, "pid": pid})
    m.apply_agents(found, now=1.0)
    th = next(t for t in m.tracker.threads.values() if t.pid == pid and t.pane_id == pane)
    if status is not None:
        th.status = status
    th.unseen = unseen
    return th


def _agents_of(m: Model) -> dict:
    out: dict = {}
    for t in m.tracker.threads.values():
        if t.liveness == "alive":
            out.setdefault(t.pane_id, []).append((t.agent, t.pid))
    return out


# -- apply_tmux -------------------------------------------------------------------------------

def test_listing_builds_sessions_panes_and_clients():
    m = three([in_alpha()])
    assert set(m.sessions) == {"$1", "$2", "$3"}
    a = m.sessions["$1"]
    assert (a.name, a.created, a.panes, a.windows, a.dir) == ("alpha", 100, 2, 1, "/work/1")
    assert set(m.panes) == {"%1", "%2", "%3", "%4"}
    assert m.panes["%3"].session_id == "$2"
    assert list(m.clients) == ["/dev/pts/1"]
    assert m.tmux_connected is True and m.bad_items == 0


BAD_PANES = [
    "not a dict", None, 5, ["%1"],
    {k: v for k, v in pane_row("%9", "$9", "bad").items() if k != "pane_id"},     # missing key
    {**pane_row("%9", "$9", "bad"), "pane_pid": "12"},                             # str for int
    {**pane_row("%9", "$9", "bad"), "session_created": True},                      # bool for int
    {**pane_row("%9", "$9", "bad"), "session_windows": 1.0},                       # float for int
    {**pane_row("%9", "$9", "bad"), "pane_active": 1},                             # int for bool
    {**pane_row("%9", "$9", "bad"), "session_name": None},
    {**pane_row("%9", "$9", "bad"), "title": 3},
]


@pytest.mark.parametrize("bad", BAD_PANES, ids=range(len(BAD_PANES)))
def test_malformed_pane_row_is_counted_and_the_listing_refused(bad):
    # a listing with a malformed row is refused whole: applying the rest would drop live sessions
    m = three([in_alpha()])
    assert m.apply_tmux([bad] + session_rows([ALPHA]), [], now=1.0) is False
    assert m.bad_items == 1
    assert set(m.sessions) == {"$1", "$2", "$3"} and set(m.panes) == {"%1", "%2", "%3", "%4"}
    assert list(m.clients) == ["/dev/pts/1"]


BAD_CLIENTS = [
    "x", None, {},
    {k: v for k, v in client_row("/dev/pts/9", "$1", "alpha").items() if k != "tty"},
    {**client_row("/dev/pts/9", "$1", "alpha"), "pid": True},
    {**client_row("/dev/pts/9", "$1", "alpha"), "control": 0},
    {**client_row("/dev/pts/9", "$1", "alpha"), "activity": "5"},
]


@pytest.mark.parametrize("bad", BAD_CLIENTS, ids=range(len(BAD_CLIENTS)))
def test_malformed_client_row_is_counted_and_the_listing_refused(bad):
    m = three([in_alpha()])
    assert m.apply_tmux(session_rows([ALPHA]), [bad, in_alpha("/dev/pts/2")], now=1.0) is False
    assert m.bad_items == 1
    assert set(m.sessions) == {"$1", "$2", "$3"} and list(m.clients) == ["/dev/pts/1"]


def test_every_malformed_row_is_counted_and_counts_accumulate():
    m = Model()
    assert m.apply_tmux([None, None] + session_rows([ALPHA]), [None], now=0.0) is False
    assert m.bad_items == 3
    assert m.apply_tmux([1], [], now=1.0) is False
    assert m.bad_items == 4
    assert m.sessions == {} and m.tmux_connected is False
    assert m.apply_tmux(session_rows([ALPHA]), [], now=2.0) is True
    assert set(m.sessions) == {"$1"} and m.tmux_connected is True and m.bad_items == 4


def test_an_empty_listing_is_valid():
    m = three()
    assert m.apply_tmux([], [], now=1.0) is True
    assert m.sessions == {} and m.tmux_connected is True


def test_control_mode_clients_are_ignored():
    control = client_row("/dev/pts/0", "$1", "alpha", control=True)
    m = three([control, in_alpha()])
    assert list(m.clients) == ["/dev/pts/1"]
    assert m.bad_items == 0
    m = three([control])
    assert m.clients == {}


def test_a_new_listing_replaces_the_old_one():
    m = three([in_alpha()])
    m.apply_tmux(session_rows([BETA]), [], now=1.0)
    assert set(m.sessions) == {"$2"} and set(m.panes) == {"%3"} and m.clients == {}


def test_rename_carries_the_user_order_and_the_hidden_set():
    m = three(user_order=["gamma", "beta", "alpha"], hidden={"beta"})
    renamed = [("$1", "alpha", 100, ["%1", "%2"]), ("$2", "BETA!", 200, ["%3"]), GAMMA]
    m.apply_tmux(session_rows(renamed), [], now=1.0)
    assert m.user_order == ["gamma", "BETA!", "alpha"]
    assert m.hidden == {"BETA!"}
    assert m.order_dirty is True
    assert visible_names(m) == ["gamma", "alpha"]


def test_rename_of_an_unordered_visible_session_is_not_a_persisted_change():
    m = three()
    m.apply_tmux(session_rows([("$1", "renamed", 100, ["%1"]), BETA, GAMMA]), [], now=1.0)
    assert m.order_dirty is False
    assert visible_names(m) == ["renamed", "beta", "gamma"]


def test_renames_in_one_listing_that_form_a_chain_keep_each_sessions_place():
    # between two listings the user renamed beta -> gamma, then alpha -> beta
    m = make_model([("$1", "alpha", 100, ["%1"]), ("$2", "beta", 200, ["%2"]), ("$3", "delta", 300, ["%3"])],
                   user_order=["beta", "delta", "alpha"])
    assert [s.id for s in m.visible()] == ["$2", "$3", "$1"]
    m.apply_tmux(session_rows([("$1", "beta", 100, ["%1"]), ("$2", "gamma", 200, ["%2"]),
                               ("$3", "delta", 300, ["%3"])]), [], now=1.0)
    assert [s.id for s in m.visible()] == ["$2", "$3", "$1"]
    assert m.user_order == ["gamma", "delta", "beta"]


def test_renames_in_one_listing_that_swap_names_keep_the_hidden_session_hidden():
    # alpha -> tmp, beta -> alpha, tmp -> beta, all before the next listing
    m = make_model([("$1", "alpha", 100, ["%1"]), ("$2", "beta", 200, ["%2"]), GAMMA],
                   [client_row("/dev/pts/1", "$3", "gamma", pane_id="%4")], hidden={"alpha"})
    assert [s.id for s in m.visible()] == ["$2", "$3"]
    m.apply_tmux(session_rows([("$1", "beta", 100, ["%1"]), ("$2", "alpha", 200, ["%2"]), GAMMA]),
                 [client_row("/dev/pts/1", "$3", "gamma", pane_id="%4")], now=1.0)
    assert m.hidden == {"beta"}                       # still session $1
    assert [s.id for s in m.visible()] == ["$2", "$3"]


def test_ports_of_vanished_sessions_are_dropped():
    m = three()
    m.apply_ports({"$1": [3000], "$3": [8080, 22, 8080]})
    assert m.ports == {"$1": [3000], "$3": [22, 8080]}
    m.apply_tmux(session_rows([ALPHA]), [], now=1.0)
    assert m.ports == {"$1": [3000]}


def test_thread_of_a_vanished_pane_exits_and_a_moved_pane_takes_its_thread_along():
    m = three()
    add_agent(m, "%3", "codex", 31)
    add_agent(m, "%4", "pi", 41)
    # %4 moved into alpha (join-pane), %3 is gone
    rows = session_rows([("$1", "alpha", 100, ["%1", "%2", "%4"]), GAMMA[:3] + (["%5"],)])
    m.apply_tmux(rows, [], now=5.0)
    by_pid = {t.pid: t for t in m.tracker.threads.values()}
    assert by_pid[31].liveness == "exited"
    assert by_pid[41].liveness == "alive" and by_pid[41].session_id == "$1"


def test_tmux_down_empties_the_model_and_ends_threads():
    m = three([in_alpha()])
    add_agent(m, "%1")
    m.apply_tmux_down("server exited", now=9.0)
    assert (m.sessions, m.panes, m.clients) == ({}, {}, {})
    assert m.tmux_connected is False and m.tmux_error == "server exited"
    assert all(t.liveness == "exited" for t in m.tracker.threads.values())


@pytest.mark.parametrize("panes", [
    {"%1": "codex"}, {"%1": None}, {"%1": [{"agent": "codex"}]}, {"%1": [{"agent": "pi", "pid": True}]},
    {"%1": [{"agent": 3, "pid": 4}]}, {"%1": ["x"]}, {"%1": [{"pid": 4}]}, {"%1": [{"agent": "pi", "pid": "4"}]},
    {"%1": [{"agent": "amp", "pid": 9}], "%2": [{"agent": "pi", "pid": 1.5}]},
], ids=range(9))
def test_malformed_agent_observation_is_counted_and_refused(panes):
    m = three()
    add_agent(m, "%3", "codex", 31)
    before = {tid: (t.liveness, t.since) for tid, t in m.tracker.threads.items()}
    assert m.apply_agents(panes, now=5.0) is False
    assert m.bad_items == 1
    assert {tid: (t.liveness, t.since) for tid, t in m.tracker.threads.items()} == before


def test_agent_observation_maps_panes_to_sessions():
    m = three()
    assert m.apply_agents({"%2": [{"agent": "amp", "pid": 9}], "%4": [{"agent": "pi", "pid": 8}]}, now=1.0) is True
    assert sorted((t.agent, t.pid, t.session_id) for t in m.tracker.threads.values()) == \
        [("amp", 9, "$1"), ("pi", 8, "$3")]
    assert m.bad_items == 0


def test_ports_are_sorted_and_unique():
    m = three()
    assert m.apply_ports({"$1": [3000, 80, 3000], "$2": []}) is True
    assert m.ports == {"$1": [80, 3000], "$2": []}


@pytest.mark.parametrize("bad", [{"$1": [80, True]}, {"$2": "80"}, {"$3": None}, {"$1": [80.0]},
                                 {"$1": [443], "$2": ["22"]}], ids=range(5))
def test_malformed_ports_observation_is_counted_and_refused(bad):
    m = three()
    m.apply_ports({"$3": [443]})
    assert m.apply_ports(bad) is False
    assert m.ports == {"$3": [443]} and m.bad_items == 1


def test_git_info():
    m = three()
    assert m.apply_git({"/a": {"branch": "main", "dirty": True}, "/b": {"branch": None, "dirty": False}}) is True
    assert m.git["/a"] == {"branch": "main", "dirty": True}
    assert m.git["/b"] == {"branch": None, "dirty": False}


@pytest.mark.parametrize("bad", [{"/c": {"branch": 1, "dirty": False}}, {"/d": {"branch": "x", "dirty": "no"}},
                                 {"/e": []}, {"/f": {"branch": "x"}}, {"/g": None},
                                 {"/ok": {"branch": "x", "dirty": False}, "/h": {"dirty": 0, "branch": "y"}}],
                         ids=range(6))
def test_malformed_git_observation_is_counted_and_refused(bad):
    m = three()
    m.apply_git({"/a": {"branch": "main", "dirty": True}})
    assert m.apply_git(bad) is False
    assert m.git == {"/a": {"branch": "main", "dirty": True}} and m.bad_items == 1


# -- resolve_client ---------------------------------------------------------------------------

def test_explicit_tty():
    m = three([in_alpha("/dev/pts/1"), client_row("/dev/pts/2", "$2", "beta", pane_id="%3")])
    assert m.resolve_client("/dev/pts/2", None).tty == "/dev/pts/2"
    assert m.resolve_client("/dev/pts/2", "%1").tty == "/dev/pts/2"       # the name wins over the pane


def test_unknown_tty_is_not_found_and_lists_the_clients():
    m = three([in_alpha("/dev/pts/1")])
    with pytest.raises(CommandError) as e:
        m.resolve_client("/dev/pts/7", None)
    assert error_code(e) == P.NOT_FOUND
    assert "/dev/pts/7" in e.value.message and "/dev/pts/1" in e.value.message


def test_pane_picks_the_client_looking_at_that_pane():
    m = three([in_alpha("/dev/pts/1", pane="%1", activity=50),
               in_alpha("/dev/pts/2", pane="%2", activity=10),
               client_row("/dev/pts/3", "$2", "beta", pane_id="%3", activity=99)])
    assert m.resolve_client(None, "%2").tty == "/dev/pts/2"
    assert m.resolve_client(None, "%1").tty == "/dev/pts/1"
    assert m.resolve_client(None, "%3").tty == "/dev/pts/3"


def test_pane_in_a_session_with_clients_elsewhere_in_it_picks_the_most_recent():
    m = three([in_alpha("/dev/pts/1", pane="%1", activity=5),
               in_alpha("/dev/pts/2", pane="%1", activity=9),
               client_row("/dev/pts/3", "$2", "beta", pane_id="%3", activity=99)])
    assert m.resolve_client(None, "%2").tty == "/dev/pts/2"


def test_pane_whose_session_nobody_looks_at_falls_back_to_the_only_client():
    m = three([in_alpha()])
    assert m.resolve_client(None, "%4").tty == "/dev/pts/1"
    assert m.resolve_client(None, "%999").tty == "/dev/pts/1"
    assert m.resolve_client(None, None).tty == "/dev/pts/1"


def test_no_client_attached():
    m = three()
    for pane in (None, "%1"):
        with pytest.raises(CommandError) as e:
            m.resolve_client(None, pane)
        assert error_code(e) == P.NO_CLIENT


def test_control_client_does_not_count_as_attached():
    m = three([client_row("/dev/pts/0", "$1", "alpha", control=True)])
    with pytest.raises(CommandError) as e:
        m.resolve_client(None, None)
    assert error_code(e) == P.NO_CLIENT


def test_several_clients_and_nothing_to_choose_by_is_ambiguous():
    m = three([in_alpha("/dev/pts/1"), client_row("/dev/pts/2", "$2", "beta", pane_id="%3")])
    for pane in (None, "%4", "%999"):
        with pytest.raises(CommandError) as e:
            m.resolve_client(None, pane)
        assert error_code(e) == P.AMBIGUOUS_CLIENT
        assert "/dev/pts/1" in e.value.message and "/dev/pts/2" in e.value.message


# -- switch_target ----------------------------------------------------------------------------

def cur(m: Model, tty="/dev/pts/1"):
    return m.clients[tty]


@pytest.mark.parametrize("target,expected", [("1", "alpha"), ("2", "beta"), ("3", "gamma")])
def test_index(target, expected):
    m = three([in_alpha()])
    assert m.switch_target(target, cur(m)).name == expected


@pytest.mark.parametrize("target", ["0", "4", "99", "00"])
def test_index_out_of_range(target):
    m = three([in_alpha()])
    with pytest.raises(CommandError) as e:
        m.switch_target(target, cur(m))
    assert error_code(e) == P.NOT_FOUND


def test_index_counts_visible_sessions_in_display_order():
    m = three([in_alpha()], user_order=["gamma"], hidden={"beta"})
    assert visible_names(m) == ["gamma", "alpha"]
    assert m.switch_target("1", cur(m)).name == "gamma"
    assert m.switch_target("2", cur(m)).name == "alpha"
    with pytest.raises(CommandError):
        m.switch_target("3", cur(m))


def test_index_respects_the_filter():
    m = three([in_alpha()], settings={"filter": "active"})
    add_agent(m, "%1", "codex", 5)
    add_agent(m, "%4", "codex", 6)
    assert visible_names(m) == ["alpha", "gamma"]
    assert m.switch_target("2", cur(m)).name == "gamma"


@pytest.mark.parametrize("start,target,expected", [
    ("alpha", "next", "beta"), ("beta", "next", "gamma"), ("gamma", "next", "alpha"),
    ("alpha", "prev", "gamma"), ("beta", "prev", "alpha"), ("gamma", "prev", "beta"),
])
def test_next_and_prev_wrap(start, target, expected):
    sid = {"alpha": "$1", "beta": "$2", "gamma": "$3"}[start]
    m = three([client_row("/dev/pts/1", sid, start)])
    assert m.switch_target(target, cur(m)).name == expected


def test_next_skips_hidden_sessions():
    m = three([in_alpha()], hidden={"beta"})
    assert m.switch_target("next", cur(m)).name == "gamma"


def test_next_and_prev_from_a_session_the_model_does_not_know():
    m = three([client_row("/dev/pts/1", "$77", "elsewhere")])
    assert m.switch_target("next", cur(m)).name == "alpha"
    assert m.switch_target("prev", cur(m)).name == "gamma"


def test_next_with_no_sessions():
    m = Model()
    m.apply_tmux([], [client_row("/dev/pts/1", "$1", "ghost")], now=0.0)
    for target in ("next", "prev", "1"):
        with pytest.raises(CommandError) as e:
            m.switch_target(target, cur(m))
        assert error_code(e) == P.NOT_FOUND


def test_waiting_goes_to_the_next_session_with_a_waiting_agent_then_to_unseen():
    m = three([client_row("/dev/pts/1", "$2", "beta", pane_id="%3")])
    add_agent(m, "%1", "codex", 11, unseen=True)          # alpha: unseen result
    add_agent(m, "%4", "claude-code", 41, status="waiting")  # gamma: waiting
    assert m.switch_target("waiting", cur(m)).name == "gamma"
    m.tracker.threads[next(t for t, th in m.tracker.threads.items() if th.pid == 41)].status = "running"
    assert m.switch_target("waiting", cur(m)).name == "alpha"


def test_waiting_searches_from_the_current_session_and_wraps():
    m = three([client_row("/dev/pts/1", "$2", "beta", pane_id="%3")])
    add_agent(m, "%1", "codex", 11, status="waiting")
    add_agent(m, "%4", "codex", 41, status="waiting")
    assert m.switch_target("waiting", cur(m)).name == "gamma"
    m = three([client_row("/dev/pts/1", "$3", "gamma", pane_id="%4")])
    add_agent(m, "%1", "codex", 11, status="waiting")
    add_agent(m, "%3", "codex", 31, status="waiting")
    assert m.switch_target("waiting", cur(m)).name == "alpha"


def test_waiting_never_picks_the_current_session():
    m = three([in_alpha()])
    add_agent(m, "%1", "codex", 11, status="waiting", unseen=True)
    with pytest.raises(CommandError) as e:
        m.switch_target("waiting", cur(m))
    assert error_code(e) == P.NOT_FOUND


def test_names():
    m = three([in_alpha()])
    assert m.switch_target("beta", cur(m)).name == "beta"
    assert m.switch_target("=beta", cur(m)).name == "beta"


def test_unknown_name():
    m = three([in_alpha()])
    for target in ("delta", "=delta", "Beta", "bet", ""):
        with pytest.raises(CommandError) as e:
            m.switch_target(target, cur(m))
        assert error_code(e) == P.NOT_FOUND


def test_a_hidden_session_can_still_be_named():
    m = three([in_alpha()], hidden={"beta"})
    assert m.switch_target("beta", cur(m)).name == "beta"


def test_a_numeric_name_is_reached_with_the_exact_prefix():
    m = make_model([("$1", "alpha", 1, ["%1"]), ("$2", "7", 2, ["%2"])], [in_alpha()])
    assert m.switch_target("=7", cur(m)).name == "7"
    assert m.switch_target("2", cur(m)).name == "7"        # a bare number is an index
    with pytest.raises(CommandError):
        m.switch_target("7", cur(m))


@pytest.mark.parametrize("stored,typed", [
    ("\\$HOME", "$HOME"),            # tmux stores `$HOME` as `\$HOME`
    ("\\$HOME", "\\$HOME"),          # the stored name itself
    ("\\$HOME", "=$HOME"),
    ("\\$HOME", "=\\$HOME"),
    ("a_b_c", "a.b:c"),              # tmux turns . and : into _
    ("v_$1", "v.$1"),                # tmux 3.3a leaves `$` alone unless a letter, _ or { follows
    ("cost_$", "cost.$"),
    ("back\\\\slash", "back\\slash"),
    ("it's #1;x", "it's #1;x"),
    ("my session", "=my session"),
    ("-lead", "-lead"),
    ("日本語 🎉", "日本語 🎉"),
])
def test_names_as_the_user_typed_them(stored, typed):
    m = make_model([("$1", "alpha", 1, ["%1"]), ("$2", stored, 2, ["%2"])], [in_alpha()])
    assert m.switch_target(typed, cur(m)).name == stored


def test_exact_name_wins_over_an_escaped_match():
    # both `$x` (stored as typed, e.g. created another way) and `\$x` exist: `$x` is exact
    m = make_model([("$1", "\\$x", 1, ["%1"]), ("$2", "$x", 2, ["%2"])], [in_alpha()])
    assert m.switch_target("$x", cur(m)).id == "$2"
    assert m.switch_target("\\$x", cur(m)).id == "$1"


def test_a_name_made_of_non_ascii_digits_is_a_name_not_a_crash():
    # "²".isdigit() is True but int("²") raises: the target must be treated as a name
    m = make_model([("$1", "alpha", 1, ["%1"]), ("$2", "²", 2, ["%2"])], [in_alpha()])
    assert m.switch_target("²", cur(m)).name == "²"


# -- neighbour --------------------------------------------------------------------------------

def test_neighbour_is_the_next_one_down_else_the_one_above():
    m = three()
    s = m.sessions
    assert m.neighbour(s["$1"]).name == "beta"
    assert m.neighbour(s["$2"]).name == "gamma"
    assert m.neighbour(s["$3"]).name == "beta"


def test_neighbour_skips_hidden_sessions():
    m = three([in_alpha()], hidden={"beta"})
    assert m.neighbour(m.sessions["$1"]).name == "gamma"


def test_neighbour_of_a_hidden_session():
    m = three([in_alpha()], hidden={"gamma"})
    assert m.neighbour(m.sessions["$3"]).name == "beta"


def test_neighbour_of_the_only_session():
    m = make_model([ALPHA])
    assert m.neighbour(m.sessions["$1"]) is None


# -- reorder / hide / unhide / forget / add ---------------------------------------------------

def test_reorder_moves_one_step_and_marks_the_order_dirty():
    m = three()
    m.reorder("gamma", "up")
    assert visible_names(m) == ["alpha", "gamma", "beta"]
    assert m.order_dirty is True
    m.reorder("gamma", "up")
    assert visible_names(m) == ["gamma", "alpha", "beta"]
    m.reorder("gamma", "up")                                   # top: no-op
    assert visible_names(m) == ["gamma", "alpha", "beta"]
    m.reorder("alpha", "down")
    assert visible_names(m) == ["gamma", "beta", "alpha"]


def test_reorder_keeps_hidden_sessions_in_place():
    m = three([in_alpha()], hidden={"beta"})
    m.reorder("gamma", "up")
    assert visible_names(m) == ["gamma", "alpha"]
    m.unhide_all()
    assert visible_names(m) == ["gamma", "beta", "alpha"]


def test_reorder_keeps_remembered_names():
    m = three(user_order=["alpha", "gone", "beta", "gamma"])
    m.reorder("beta", "up")
    assert visible_names(m) == ["beta", "alpha", "gamma"]
    assert "gone" in m.user_order
    # the session named "gone" comes back (created last): it takes a remembered place, not the end
    m.apply_tmux(session_rows([ALPHA, BETA, GAMMA, ("$9", "gone", 900, ["%9"])]), [], now=1.0)
    names = visible_names(m)
    assert [n for n in names if n != "gone"] == ["beta", "alpha", "gamma"]
    assert names.index("gone") in (1, 2)


def test_reorder_by_a_typed_name():
    m = make_model([("$1", "a", 1, ["%1"]), ("$2", "\\$HOME", 2, ["%2"])])
    m.reorder("$HOME", "up")
    assert visible_names(m) == ["\\$HOME", "a"]


def test_reorder_of_a_hidden_or_unknown_session_is_not_found():
    m = three([in_alpha()], hidden={"beta"})
    for name in ("beta", "delta"):
        with pytest.raises(CommandError) as e:
            m.reorder(name, "up")
        assert error_code(e) == P.NOT_FOUND
    assert m.order_dirty is False


def test_reorder_under_a_filter_swaps_with_the_visible_neighbour():
    m = three([client_row("/dev/pts/1", "$3", "gamma", pane_id="%4")], settings={"filter": "active"})
    add_agent(m, "%1", "codex", 5)
    add_agent(m, "%4", "codex", 6)
    assert visible_names(m) == ["alpha", "gamma"]
    m.reorder("gamma", "up")
    assert visible_names(m) == ["gamma", "alpha"]
    m.settings["filter"] = "all"
    assert visible_names(m) == ["gamma", "beta", "alpha"]


def test_hide_and_unhide_all():
    m = three([in_alpha()])
    m.hide("beta")
    assert m.hidden == {"beta"} and m.order_dirty is True
    assert visible_names(m) == ["alpha", "gamma"]
    m.order_dirty = False
    m.hide("=beta")                                             # already hidden
    assert m.order_dirty is False
    m.hide("alpha")                                             # the current one: hidden, still shown
    assert m.hidden == {"alpha", "beta"} and visible_names(m) == ["alpha", "gamma"]
    assert m.unhide_all() == 2
    assert m.hidden == set() and visible_names(m) == ["alpha", "beta", "gamma"]
    m.order_dirty = False
    assert m.unhide_all() == 0 and m.order_dirty is False


def test_hide_unknown_is_not_found():
    m = three()
    with pytest.raises(CommandError) as e:
        m.hide("delta")
    assert error_code(e) == P.NOT_FOUND
    assert m.hidden == set()


def test_hide_by_typed_name_stores_the_tmux_name():
    m = make_model([("$1", "a_b", 1, ["%1"])])
    m.hide("a.b")
    assert m.hidden == {"a_b"}


def test_forget_session():
    m = three(user_order=["beta", "alpha"], hidden={"beta"})
    m.forget_session(m.sessions["$2"])
    assert "$2" not in m.sessions and "%3" not in m.panes
    assert m.user_order == ["alpha"] and m.hidden == set() and m.order_dirty is True
    assert visible_names(m) == ["alpha", "gamma"]


def test_add_session_shows_it_now():
    m = three()
    row = PaneRow("$4", "delta", 400, "/tmp/d", 1, "@9", 0, True, "%9", 4242, True, "bash", "")
    s = m.add_session(row)
    assert (s.id, s.name, s.panes) == ("$4", "delta", 1)
    assert visible_names(m)[-1] == "delta"
    assert m.panes["%9"].session_id == "$4"
    assert m.find_session("delta") is s


def test_client_session_changed():
    m = three([in_alpha()])
    assert m.client_session_changed("/dev/pts/9", "$2", "beta") is False   # unknown client
    assert m.client_session_changed("/dev/pts/1", "$1", "alpha") is False  # no change
    assert m.client_session_changed("/dev/pts/1", "$2", "beta") is True
    c = m.clients["/dev/pts/1"]
    assert (c.session_id, c.session_name) == ("$2", "beta")
    assert m.current_names() == {"beta"}
    assert m.switch_target("next", c).name == "gamma"


def test_client_session_changed_reveals_and_hides_a_hidden_session():
    m = three([in_alpha()], hidden={"beta"})
    assert "beta" not in visible_names(m)
    m.client_session_changed("/dev/pts/1", "$2", "beta")
    assert "beta" in visible_names(m)
    m.client_session_changed("/dev/pts/1", "$1", "alpha")
    assert "beta" not in visible_names(m)


def test_set_client_session():
    m = three([in_alpha()])
    m.set_client_session("/dev/pts/1", m.sessions["$3"])
    assert m.clients["/dev/pts/1"].session_name == "gamma"
    m.set_client_session("/dev/pts/nope", m.sessions["$3"])      # unknown: ignored
    assert list(m.clients) == ["/dev/pts/1"]


# -- properties -------------------------------------------------------------------------------

@PROPS
@given(st.lists(st.sampled_from(["alpha", "beta", "gamma"]), unique=True),
       st.sets(st.sampled_from(["alpha", "beta", "gamma"])),
       st.lists(st.tuples(st.sampled_from(["alpha", "beta", "gamma"]), st.sampled_from(["up", "down"])),
                max_size=6))
def test_index_n_is_the_nth_visible_session_after_any_reorders(user_order, hidden, moves):
    m = three([in_alpha()], user_order=list(user_order), hidden=set(hidden))
    for name, direction in moves:
        if name in visible_names(m):
            m.reorder(name, direction)
    vis = m.visible()
    assert sorted(visible_names(m)) == sorted(n for n in ["alpha", "beta", "gamma"]
                                               if n not in hidden or n == "alpha")
    for i, s in enumerate(vis, start=1):
        assert m.switch_target(str(i), cur(m)) is s
    m.unhide_all()
    assert sorted(visible_names(m)) == ["alpha", "beta", "gamma"]


def test_pane_session_follows_every_change_of_the_pane_table():
    m = three()
    assert m.pane_session() == {"%1": "$1", "%2": "$1", "%3": "$2", "%4": "$3"}
    assert m.pane_session() is m.pane_session()          # built once per table
    m.forget_session(m.sessions["$2"])
    assert m.pane_session() == {"%1": "$1", "%2": "$1", "%4": "$3"}
    m.add_session(PaneRow("$4", "delta", 400, "/tmp/d", 1, "@9", 0, True, "%9", 4242, True, "bash", ""))
    assert m.pane_session()["%9"] == "$4"
    moved = make_model([("$1", "alpha", 100, ["%1"]), ("$2", "beta", 200, ["%2", "%3", "%4"])])
    m.apply_tmux([vars(r) for r in session_rows_of(moved)], [], now=2.0)   # a pane moved sessions, same count
    assert m.pane_session() == {"%1": "$1", "%2": "$2", "%3": "$2", "%4": "$2"}


def session_rows_of(m: Model) -> list[PaneRow]:
    return [PaneRow(s.id, s.name, s.created, s.dir, 1, "@" + p.id[1:], 0, True, p.id, p.pid, True, "bash", "")
            for s in m.sessions.values() for p in m.panes.values() if p.session_id == s.id]


def test_a_listing_rebuilds_only_the_rows_that_changed_and_still_checks_them():
    rows = session_rows([ALPHA, BETA])
    m = make_model([])
    assert m.apply_tmux(rows, [], now=1.0)
    before = dict(m.panes)
    changed = [dict(r) for r in rows]
    changed[0]["title"] = "renamed"
    assert m.apply_tmux(changed, [], now=2.0)
    assert m.panes["%1"] is not before["%1"] and m.panes["%1"].title == "renamed"
    assert all(m.panes[p] is before[p] for p in ("%2", "%3"))      # equal rows: the same Pane
    broken = [dict(r) for r in changed]
    broken[1]["pane_pid"] = "12"                                     # a known pane, now malformed
    assert not m.apply_tmux(broken, [], now=3.0)
    assert m.panes["%2"] is before["%2"] and m.bad_items == 1
