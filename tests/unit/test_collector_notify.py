"""services/collector/notify.py: which tmux notifications make the collector list again. The
layouts are the ones tmux 3.3a printed for real splits, kills and switches."""
from __future__ import annotations

import pytest

from services.collector.notify import QUIET, layout_panes, relevant


@pytest.mark.parametrize("layout,panes", [
    ("c7fe,160x47,0,0,1", {"%1"}),
    ("6f75,160x47,0,0[160x23,0,0,1,160x23,0,24,3]", {"%1", "%3"}),
    ("ab12,200x50,0,0{100x50,0,0[100x25,0,0,4,100x24,0,26,5],99x50,101,0,6}", {"%4", "%5", "%6"}),
    ("b25d,80x24,0,0{40x24,0,0,12,39x24,41,0[39x12,41,0,13,39x11,41,13{19x11,41,13,14,19x11,61,13,15}]}",
     {"%12", "%13", "%14", "%15"}),
    ("0000,1x1,0,0,123456", {"%123456"}),
])
def test_layout_panes_reads_every_leaf(layout, panes):
    assert layout_panes(layout) == panes


@pytest.mark.parametrize("layout", ["", "x", "c7fe", "c7fe,", "c7fe,160x47,0,0", "c7fe,160x47,0,0[",
                                    "c7fe,160x47,0,0,1 x",
                                    "c7fe,160x47,0,0,1;160x1,0,0,2", "c7fe,160,47,0,0,1", "toolong,160x47,0,0,1",
                                    "c7fe,160x47,0,0,%1"])
def test_layout_panes_refuses_what_is_not_a_layout(layout):
    assert layout_panes(layout) is None


CLIENTS = {"/dev/pts/2"}
WINDOWS = {"@1": frozenset({"%1", "%3"}), "@2": frozenset({"%2"})}


@pytest.mark.parametrize("line,expected", [
    # a known client switched: state has it from its own control client
    ("%client-session-changed /dev/pts/2 $1 b", False),
    ("%client-session-changed /dev/pts/2 $1 a name with spaces", False),
    # a client the listing does not have yet: a new attach, state needs the listing for it
    ("%client-session-changed /dev/pts/9 $0 a", True),
    ("%client-session-changed", True),
    ("%client-detached /dev/pts/2", True),
    # resizes keep the panes; splits and kills change them
    ("%layout-change @1 6f75,160x47,0,0[160x23,0,0,1,160x23,0,24,3] "
     "6f75,160x47,0,0[160x23,0,0,1,160x23,0,24,3] *", False),
    ("%layout-change @1 6f75,200x50,0,0[200x25,0,0,3,200x24,0,26,1] 6f75,200x50,0,0[200x25,0,0,3,200x24,0,26,1] *Z",
     False),
    ("%layout-change @1 c7fe,160x47,0,0,1 c7fe,160x47,0,0,1 *", True),
    ("%layout-change @1 6f75,160x47,0,0[160x23,0,0,1,160x11,0,24,3,160x11,0,36,4] x *", True),
    ("%layout-change @2 c7fe,160x47,0,0,2 c7fe,160x47,0,0,2 -", False),
    ("%layout-change @7 c7fe,160x47,0,0,7 c7fe,160x47,0,0,7 *", True),            # a window not listed yet
    ("%layout-change @1 garbage garbage *", True),
    ("%layout-change @1", True),
    # the rest is news as before
    ("%sessions-changed", True), ("%window-add @5", True), ("%unlinked-window-add @5", True),
    ("%window-close @2", True), ("%session-renamed $2 cc", True), ("%session-window-changed $1 @2", True),
    ("%window-pane-changed @1 %3", True), ("%window-renamed @1 claude", True), ("%session-changed $1 b", True),
    ("%exit", True),
])
def test_relevant(line, expected):
    assert relevant(line, CLIENTS, WINDOWS) is expected


@pytest.mark.parametrize("prefix", QUIET)
def test_quiet_notifications_never_list(prefix):
    assert relevant(prefix + " anything", set(), {}) is False


def test_before_the_first_listing_every_switch_and_layout_is_news():
    assert relevant("%client-session-changed /dev/pts/2 $1 b", set(), {})
    assert relevant("%layout-change @1 c7fe,160x47,0,0,1 c7fe,160x47,0,0,1 *", set(), {})
