"""cli/sidebar/view.py: what every key does (view change and/or commands), following the
snapshot's shared highlight, and whose sidebar it is."""
from __future__ import annotations

import pytest

from cli.sidebar import view as V
from services import protocol as P
from services.settings import THEMES, WIDTH_MAX, WIDTH_MIN

from .test_sidebar_render import client, five, session, snapshot

TTY = "/dev/pts/7"


def ctx(snap=None, now=100.0, hits=None, page=5):
    snap = snap or five()
    return V.Ctx(snap["sessions"], snap["settings"], hits or {}, page, now)


def base(**kw):
    defaults = dict(highlight="s2", hl_index=1, client=TTY, current="s1", pane="%3")
    defaults.update(kw)
    return V.View(**defaults)


def press(view, *events, c=None):
    c = c or ctx()
    cmds = []
    for e in events:
        view, out = V.handle(view, e, c)
        cmds += out
    return view, cmds


def assert_encodable(cmds):
    """Every state command the view asks for is a valid protocol message."""
    for kind, fields in cmds:
        if kind not in V.LOCAL:
            P.decode(P.encode(kind, **fields), P.COMMANDS)


# -- moving ------------------------------------------------------------------------------------

@pytest.mark.parametrize("key,expected", [("j", "s3"), ("down", "s3"), ("k", "s1"), ("up", "s1"),
                                          ("g", "s1"), ("home", "s1"), ("G", "s5"), ("end", "s5")])
def test_moving_the_highlight_shares_it_with_state(key, expected):
    v, cmds = press(base(), key)
    assert v.highlight == expected
    assert cmds == [("highlight", {"client": TTY, "session": expected})]
    assert v.pending_hl == expected and v.pending_until > 100.0
    assert_encodable(cmds)


def test_moving_stops_at_the_ends():
    v, cmds = press(base(highlight="s1", hl_index=0), "k")
    assert v.highlight == "s1" and cmds == []
    v, cmds = press(base(highlight="s5", hl_index=4), "j")
    assert v.highlight == "s5" and cmds == []


def test_page_keys_move_by_a_page():
    v, _ = press(base(highlight="s1", hl_index=0), "pgdn", c=ctx(page=3))
    assert v.highlight == "s4"
    v, _ = press(v, "pgup", c=ctx(page=3))
    assert v.highlight == "s1"


def test_without_a_client_the_highlight_stays_local():
    v, cmds = press(base(client=None), "j")
    assert v.highlight == "s3" and cmds == [] and v.pending_hl is None


def test_moving_cancels_a_wheel_scroll():
    v, _ = press(base(scroll=3, free_scroll=True), "j")
    assert v.free_scroll is False


# -- switching ---------------------------------------------------------------------------------

def test_enter_switches_this_client_to_the_highlighted_session():
    _, cmds = press(base(), "enter")
    assert cmds == [("switch", {"target": "=s2", "client": TTY, "pane": "%3"})]
    assert_encodable(cmds)


def test_tab_and_shift_tab_switch_to_the_neighbours_of_the_current_session():
    assert press(base(current="s3"), "tab")[1] == [("switch", {"target": "=s4", "client": TTY, "pane": "%3"})]
    assert press(base(current="s3"), "btab")[1] == [("switch", {"target": "=s2", "client": TTY, "pane": "%3"})]
    assert press(base(current="s5"), "tab")[1][0][1]["target"] == "=s1"       # wraps around
    assert press(base(current="s1"), "btab")[1][0][1]["target"] == "=s5"


def test_tab_without_a_known_current_session_asks_state_for_next_and_prev():
    assert press(base(current=None), "tab")[1] == [("switch", {"target": "next", "client": TTY, "pane": "%3"})]
    assert press(base(current=None), "btab")[1] == [("switch", {"target": "prev", "client": TTY, "pane": "%3"})]


@pytest.mark.parametrize("n", range(1, 6))
def test_digits_switch_by_index_as_listed(n):
    _, cmds = press(base(), str(n))
    assert cmds == [("switch", {"target": f"=s{n}", "client": TTY, "pane": "%3"})]


def test_digit_beyond_the_list_says_so_and_sends_nothing():
    v, cmds = press(base(), "9")
    assert cmds == [] and "no session 9" in v.message and v.tone == "warn"


def test_names_are_sent_exactly_even_when_all_digits_or_dashed():
    snap = snapshot(session("42", 1), session("-x", 2))
    _, cmds = press(base(highlight="42", hl_index=0), "enter", c=ctx(snap))
    assert cmds[0][1]["target"] == "=42"
    _, cmds = press(base(highlight="-x", hl_index=1), "d", c=ctx(snap))
    assert cmds == [("hide", {"name": "=-x", "client": TTY, "pane": "%3"})]
    assert_encodable(cmds)


def test_switch_without_a_client_lets_state_resolve_the_pane():
    _, cmds = press(base(client=None), "enter")
    assert cmds == [("switch", {"target": "=s2", "client": None, "pane": "%3"})]
    assert_encodable(cmds)


# -- order, hide, kill, new --------------------------------------------------------------------

@pytest.mark.parametrize("key,direction", [("K", "up"), ("alt-up", "up"), ("J", "down"), ("alt-down", "down")])
def test_reorder_keys(key, direction):
    _, cmds = press(base(), key)
    assert cmds == [("reorder", {"name": "=s2", "direction": direction})]
    assert_encodable(cmds)


def test_d_hides_u_unhides_all():
    _, cmds = press(base(), "d")
    assert cmds == [("hide", {"name": "=s2", "client": TTY, "pane": "%3"})]
    _, cmds = press(base(), "u")
    assert cmds == [("unhide_all", {})]
    assert_encodable(cmds)


def test_hiding_the_current_session_explains_why_it_stays():
    v, cmds = press(base(highlight="s1", hl_index=0, current="s1"), "d")
    assert cmds[0][0] == "hide" and "stays listed" in v.message


def test_x_asks_then_y_kills():
    v, cmds = press(base(), "x")
    assert v.mode == V.CONFIRM and v.target == "s2" and cmds == []
    v, cmds = press(v, "y")
    assert v.mode == V.LIST
    assert cmds == [("kill", {"name": "=s2", "client": TTY, "pane": "%3"})]
    assert_encodable(cmds)


def test_anything_but_y_cancels_the_kill():
    v, _ = press(base(), "x")
    v, cmds = press(v, "n")
    assert v.mode == V.LIST and cmds == [] and "cancelled" in v.message


def test_n_prompts_for_a_name_and_creates_and_switches():
    v, cmds = press(base(), "n")
    assert v.mode == V.NEW and cmds == []
    v, cmds = press(v, "w", "o", "r", "x", "backspace", "k", "日")
    assert v.text == "work日" and cmds == []
    v, cmds = press(v, "enter")
    assert v.mode == V.LIST
    assert cmds == [("new", {"name": "work日", "switch": True, "client": TTY, "pane": "%3"})]
    assert_encodable(cmds)


def test_new_with_an_empty_name_lets_tmux_pick_and_esc_cancels():
    v, _ = press(base(), "n")
    _, cmds = press(v, "enter")
    assert cmds[0][1]["name"] is None
    assert_encodable(cmds)
    v, _ = press(base(), "n", "a", "esc")
    assert v.mode == V.LIST and v.text == ""
    v, _ = press(base(), "n", "a", "b", "ctrl-u")
    assert v.text == ""


def test_keys_typed_into_the_name_are_not_commands():
    v, cmds = press(base(), "n", "q", "x", "d", "j")
    assert v.mode == V.NEW and v.text == "qxdj" and cmds == []


# -- settings ----------------------------------------------------------------------------------

def test_f_cycles_the_filter():
    for current, nxt in (("all", "active"), ("active", "running"), ("running", "all")):
        v, cmds = press(base(), "f", c=ctx(five(filter=current)))
        assert cmds == [("set_setting", {"key": "filter", "value": nxt})]
        assert nxt in v.message
        assert_encodable(cmds)


def test_t_opens_the_picker_on_the_current_theme_and_enter_applies():
    v, cmds = press(base(), "t", c=ctx(five(theme="nord")))
    assert v.mode == V.THEME and V.theme_under_cursor(v) == "nord" and cmds == []
    v, cmds = press(v, "j")
    assert V.theme_under_cursor(v) == THEMES[THEMES.index("nord") + 1] and cmds == []   # preview only
    v, cmds = press(v, "enter")
    assert v.mode == V.LIST
    assert cmds == [("set_setting", {"key": "theme", "value": THEMES[THEMES.index("nord") + 1]})]
    assert_encodable(cmds)


def test_theme_picker_wraps_and_esc_cancels():
    v, _ = press(base(), "t", c=ctx(five(theme=THEMES[0])))
    v, _ = press(v, "k")
    assert V.theme_under_cursor(v) == THEMES[-1]
    v, cmds = press(v, "esc")
    assert v.mode == V.LIST and cmds == []


def test_w_slider_moves_clamps_and_sets_the_width():
    v, _ = press(base(), "w", c=ctx(five(width=32)))
    assert v.mode == V.WIDTH and v.width_value == 32
    v, _ = press(v, "l", "right", "L")
    assert v.width_value == 39
    v, _ = press(v, "h")
    assert v.width_value == 38
    v, cmds = press(v, "enter")
    assert v.mode == V.LIST and cmds == [("set_setting", {"key": "width", "value": 38})]
    assert_encodable(cmds)
    v, _ = press(base(), "w", *["H"] * 20)
    assert v.width_value == WIDTH_MIN
    v, _ = press(base(), "w", *["L"] * 20)
    assert v.width_value == WIDTH_MAX
    v, cmds = press(v, "esc")
    assert v.mode == V.LIST and cmds == []


# -- local actions -----------------------------------------------------------------------------

def test_r_resyncs_q_closes_sidebars_ctrl_c_quits():
    assert press(base(), "r")[1] == [(V.RESYNC, {})]
    assert press(base(), "q")[1] == [(V.CLOSE_SIDEBARS, {})]
    assert press(base(), "ctrl-c")[1] == [(V.QUIT, {})]
    v, _ = press(base(), "n")
    assert press(v, "ctrl-c")[1] == [(V.QUIT, {})]       # in every mode


def test_question_mark_opens_help_and_any_key_closes_it():
    v, cmds = press(base(), "?")
    assert v.mode == V.HELP and cmds == []
    v, cmds = press(v, "q")
    assert v.mode == V.LIST and cmds == []                # q closes the help, not the sidebar


def test_esc_clears_a_message():
    v, _ = press(base(), "9")
    v, _ = press(v, "esc")
    assert v.message is None


# -- mouse -------------------------------------------------------------------------------------

def test_click_on_a_row_highlights_and_switches():
    hits = {2: "s1", 3: "s1", 4: "s2", 5: "s2", 6: "s3", 7: "s3"}
    v, cmds = press(base(), ("click", 5, 7), c=ctx(hits=hits))
    assert v.highlight == "s3"
    assert cmds == [("highlight", {"client": TTY, "session": "s3"}),
                    ("switch", {"target": "=s3", "client": TTY, "pane": "%3"})]


def test_click_outside_the_rows_does_nothing():
    v, cmds = press(base(), ("click", 5, 0), c=ctx(hits={2: "s1"}))
    assert cmds == [] and v.highlight == "s2"


def test_wheel_scrolls_without_moving_the_highlight():
    v, cmds = press(base(scroll=2), ("wheel", 1, 0, 5))
    assert v.scroll == 3 and v.free_scroll and v.highlight == "s2" and cmds == []
    v, _ = press(base(scroll=0), ("wheel", -1, 0, 5))
    assert v.scroll == 0


# -- following the snapshot --------------------------------------------------------------------

def test_current_is_this_clients_session():
    snap = five(clients=[client(TTY, "s4", "$4"), client("/dev/pts/9", "s2", "$2")])
    v, cmds = V.on_snapshot(V.View(), snap, TTY, "$4", 0.0)
    assert v.current == "s4" and v.client == TTY and cmds == []


def test_without_a_client_the_panes_own_session_is_current():
    snap = five(clients=[client("/dev/pts/9", "s2", "$2")])
    v, _ = V.on_snapshot(V.View(), snap, None, "$3", 0.0)
    assert v.current == "s3" and v.client is None


def test_the_shared_highlight_is_followed():
    snap = five(clients=[client(TTY, "s1", "$1", highlight="s4")])
    v, _ = V.on_snapshot(V.View(highlight="s1"), snap, TTY, "$1", 0.0)
    assert v.highlight == "s4" and v.hl_index == 3


def test_a_pending_local_move_wins_until_state_confirms_or_it_expires():
    v, _ = press(base(current="s1"), "j", c=ctx(now=10.0))         # s2 → s3, pending
    stale = five(clients=[client(TTY, "s1", "$1", highlight="s2")])
    v2, _ = V.on_snapshot(v, stale, TTY, "$1", 10.1)
    assert v2.highlight == "s3" and v2.pending_hl == "s3"
    confirmed = five(clients=[client(TTY, "s1", "$1", highlight="s3")])
    v3, _ = V.on_snapshot(v2, confirmed, TTY, "$1", 10.2)
    assert v3.highlight == "s3" and v3.pending_hl is None
    v4, _ = V.on_snapshot(v2, stale, TTY, "$1", 10.0 + V.PENDING_HIGHLIGHT + 0.1)
    assert v4.highlight == "s2" and v4.pending_hl is None


def test_when_the_client_moves_the_highlight_follows_it_and_is_shared():
    before = five(clients=[client(TTY, "s1", "$1", highlight="s2")])
    v, _ = V.on_snapshot(V.View(), before, TTY, "$1", 0.0)
    after = five(clients=[client(TTY, "s4", "$4", highlight="s2")])
    v, cmds = V.on_snapshot(v, after, TTY, "$1", 1.0)
    assert v.current == "s4" and v.highlight == "s4"
    assert cmds == [("highlight", {"client": TTY, "session": "s4"})]


def test_a_vanished_highlight_falls_back_to_its_old_place():
    v = V.View(highlight="s3", hl_index=2)
    snap = snapshot(session("s1", 1), session("s2", 2), session("s4", 4), session("s5", 5))
    v, _ = V.on_snapshot(v, snap, None, None, 0.0)
    assert v.highlight == "s4"
    v, _ = V.on_snapshot(v.replace(highlight="gone", hl_index=10), snap, None, None, 0.0)
    assert v.highlight == "s5"


def test_first_snapshot_highlights_the_current_session():
    v, _ = V.on_snapshot(V.View(), five(), None, "$3", 0.0)
    assert v.highlight == "s3"


def test_keys_with_no_sessions_do_nothing_harmful():
    c = ctx(snapshot())
    for key in ("j", "k", "enter", "d", "x", "K", "J", "tab", "1", "G", ("click", 1, 3)):
        v, cmds = V.handle(V.View(client=TTY), key, c)
        assert all(kind not in ("switch", "hide", "kill", "reorder") for kind, _ in cmds), key


# -- replies -----------------------------------------------------------------------------------

def test_replies_become_footer_messages():
    v = V.on_reply(base(), "switch", {"ok": False, "error": {"code": "not_found", "message": "no session named 'x'"}}, 5.0)
    assert v.message == "no session named 'x'" and v.tone == "error" and v.message_until > 5.0
    v = V.on_reply(base(), "kill", {"ok": True, "result": {"killed": "s2", "moved": []}}, 5.0)
    assert v.message == "killed s2"
    v = V.on_reply(base(), "switch", {"ok": True, "result": {}}, 5.0)
    assert v.message is None
    v = V.on_reply(base(), "switch", None, 5.0)
    assert v.state_ok is False and "reconnecting" in v.message
    v = V.on_reply(v, "switch", {"ok": True, "result": {}}, 6.0)
    assert v.state_ok is True


# -- whose sidebar -----------------------------------------------------------------------------

def test_pick_client():
    snap = five(clients=[client("/dev/pts/1", "s1", "$1"), client("/dev/pts/2", "s2", "$2"),
                         client("/dev/pts/3", "s2", "$2")])
    assert V.pick_client(snap, "/dev/pts/9", "$1", None) == ("/dev/pts/9", False)
    assert V.pick_client(snap, None, "$1", None) == ("/dev/pts/1", False)
    assert V.pick_client(snap, None, "$2", "/dev/pts/3") == ("/dev/pts/3", True)
    assert V.pick_client(snap, None, "$2", None) == ("/dev/pts/2", True)
    assert V.pick_client(snap, None, "$5", "/dev/pts/1") == (None, False)
