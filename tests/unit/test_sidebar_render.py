"""cli/sidebar/render.py: the pure renderer — layout at narrow and wide widths, names that do
not fit, CJK, many sessions, every status glyph, every theme, the detail panel."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from cli.sidebar import view as V
from cli.sidebar.render import (BOLD, CURRENT_MARK, CURSOR_MARK, REVERSE, SPINNER, UNSEEN_GLYPH,
                                render)
from cli.sidebar.text import width
from cli.sidebar.themes import PALETTES
from services.settings import THEMES

from ._builders import FEW, PROPS


# -- builders (the view tests use them too) ---------------------------------------------------

def agent(status="idle", *, unseen=False, name="claude", thread="", liveness="alive", tid=None):
    return {"agent": name, "thread_id": tid or f"t-{status}-{name}", "thread_name": thread,
            "status": status, "unseen": unseen, "liveness": liveness, "pane_id": "%1", "since": 0}


def session(name, index=1, *, label=None, sid=None, agents=(), branch=None, dirty=False, ports=(),
            dir="/home/u/src", metadata=None):
    return {"index": index, "name": name, "label": label if label is not None else name,
            "id": sid or f"${index}", "dir": dir, "branch": branch, "dirty": dirty, "windows": 1,
            "panes": 1, "attached": 0, "created": index, "hidden": False, "ports": list(ports),
            "agents": list(agents), "agent_state": "idle",
            "unseen": any(a["unseen"] for a in agents),
            "metadata": metadata or {"status": None, "progress": None, "logs": []}}


def snapshot(*sessions, clients=(), theme="catppuccin-mocha", filter="all", width=32, connected=True):
    return {"seq": 1, "ts": 0.0, "tmux": {"socket": "/tmp/x", "connected": connected, "error": None},
            "sessions": [dict(s, index=i) for i, s in enumerate(sessions, start=1)], "hidden": [],
            "clients": list(clients), "settings": {"theme": theme, "filter": filter, "width": width}}


def client(tty, session_name, sid, highlight=None):
    return {"tty": tty, "session": session_name, "session_id": sid, "window": "@1", "pane": "%1",
            "highlight": highlight or session_name}


def five(**kw):
    return snapshot(*(session(f"s{i}", i) for i in range(1, 6)), **kw)


def text(frame) -> list[str]:
    return frame.text()


def assert_fits(frame, w, h):
    assert len(frame.lines) == h
    for line in frame.lines:
        assert sum(width(seg[0]) for seg in line) == w, ["".join(s[0] for s in line)]


def row(frame, name) -> str:
    """The first line of a session's row."""
    for y, n in sorted(frame.hits.items()):
        if n == name:
            return frame.text()[y]
    raise AssertionError(f"{name} not on screen: {frame.text()}")


# -- layout ------------------------------------------------------------------------------------

@pytest.mark.parametrize("w", [20, 32, 60])
def test_every_line_is_exactly_the_width(w):
    snap = five()
    f = render(snap, V.View(highlight="s2", current="s1"), w, 30)
    assert_fits(f, w, 30)


def test_header_counts_working_waiting_unseen_and_sessions():
    snap = snapshot(session("a", 1, agents=[agent("running"), agent("tool-running", name="codex")]),
                    session("b", 2, agents=[agent("waiting"), agent("done", unseen=True, name="amp")]),
                    session("c", 3))
    wide = text(render(snap, V.View(), 60, 20))[0]
    assert "2 working" in wide and "1 waiting" in wide and "1 unseen" in wide and "3 sessions" in wide
    assert wide.lstrip()[0] in SPINNER
    narrow = text(render(snap, V.View(), 20, 20))[0]
    assert width(narrow) == 20 and "3s" in narrow and "◉1" in narrow and f"{UNSEEN_GLYPH}1" in narrow


def test_header_without_running_agents_has_no_spinner_and_no_animation():
    f = render(five(), V.View(), 32, 20)
    assert "0 working" in text(f)[0] and "5 sessions" in text(f)[0]
    assert not any(ch in text(f)[0] for ch in SPINNER)
    assert f.animated is False
    running = render(snapshot(session("a", 1, agents=[agent("running")])), V.View(), 32, 20)
    assert running.animated is True


def test_spinner_advances_with_the_tick():
    snap = snapshot(session("a", 1, agents=[agent("running")]))
    a = row(render(snap, V.View(tick=0), 32, 20), "a")
    b = row(render(snap, V.View(tick=1), 32, 20), "a")
    assert SPINNER[0] in a and SPINNER[1] in b


def test_current_and_highlight_markers():
    f = render(five(), V.View(highlight="s3", current="s2"), 32, 20)
    assert row(f, "s2").startswith(" " + CURRENT_MARK)
    assert row(f, "s3").startswith(CURSOR_MARK + " ")
    assert row(f, "s1").startswith("   1 s1")
    both = render(five(), V.View(highlight="s2", current="s2"), 32, 20)
    assert row(both, "s2").startswith(CURSOR_MARK + CURRENT_MARK)


def test_highlighted_row_uses_the_selection_background_on_both_lines():
    f = render(five(), V.View(highlight="s3"), 32, 20)
    sel = PALETTES["catppuccin-mocha"]["sel"]
    ys = [y for y, n in f.hits.items() if n == "s3"]
    assert len(ys) == 2
    for y in ys:
        assert all(seg[2] == sel for seg in f.lines[y])
    other = [y for y, n in f.hits.items() if n == "s1"][0]
    assert all(seg[2] == PALETTES["catppuccin-mocha"]["bg"] for seg in f.lines[other])


def test_the_label_is_shown_not_the_stored_name():
    snap = snapshot(session("\\$HOME", 1, label="$HOME"))
    assert "$HOME" in row(render(snap, V.View(), 32, 20), "\\$HOME")
    assert "\\$HOME" not in "".join(text(render(snap, V.View(), 32, 20)))


def test_second_line_has_branch_and_ports_or_the_dir():
    snap = snapshot(session("a", 1, branch="feature/login", dirty=True, ports=[3000, 8080]),
                    session("b", 2, dir="/home/u/src/thing"))
    f = render(snap, V.View(home="/home/u"), 40, 20)
    ya = [y for y, n in f.hits.items() if n == "a"][1]
    yb = [y for y, n in f.hits.items() if n == "b"][1]
    assert "feature/login* · :3000 :8080" in text(f)[ya]
    assert "~/src/thing" in text(f)[yb]


@pytest.mark.parametrize("w", [20, 60])
def test_long_names_and_branches_are_cut_with_ellipsis(w):
    long_name = "an-extremely-long-session-name-that-never-ends-" * 2
    snap = snapshot(session(long_name, 1, branch="feature/" + "x" * 80, ports=[5173],
                            agents=[agent("done")]))
    f = render(snap, V.View(), w, 20)
    assert_fits(f, w, 20)
    r = row(f, long_name)
    assert "…" in r and "✓" in r
    sub = text(f)[[y for y, n in f.hits.items() if n == long_name][1]]
    assert "…" in sub and ":5173" in sub


def test_cjk_names_are_measured_in_cells():
    name = "日本語のセッション名前がとても長い"
    snap = snapshot(session(name, 1, agents=[agent("waiting")]), session("한국어", 2))
    for w in (20, 33, 60):
        f = render(snap, V.View(), w, 20)
        assert_fits(f, w, 20)
        assert "◉" in row(f, name)
    wide = render(snap, V.View(), 60, 20)
    assert name in row(wide, name)
    narrow = row(render(snap, V.View(), 20, 20), name)
    assert "…" in narrow and "日本語" in narrow


def test_combining_characters_do_not_shift_the_badges():
    plain = row(render(snapshot(session("cafe", 1, agents=[agent("done")])), V.View(), 32, 20), "cafe")
    marked = row(render(snapshot(session("cafe\u0301", 1, agents=[agent("done")])), V.View(), 32, 20), "cafe\u0301")
    assert width(plain) == width(marked) == 32
    assert plain.index("✓") == marked.index("✓") - 1    # one more code point, same cell


def test_control_characters_in_names_are_not_drawn():
    f = render(snapshot(session("evil\x1b[2Jname", 1)), V.View(), 32, 20)
    assert "\x1b" not in "".join(text(f))


# -- badges and glyphs -------------------------------------------------------------------------

@pytest.mark.parametrize("status,unseen,glyph", [
    ("tool-running", False, "⚙"), ("waiting", False, "◉"), ("done", False, "✓"),
    ("done", True, "●"), ("error", False, "✗"), ("interrupted", False, "⚠"), ("stale", False, "⚠"),
    ("idle", False, "○")])
def test_every_status_has_its_glyph(status, unseen, glyph):
    f = render(snapshot(session("a", 1, agents=[agent(status, unseen=unseen)])), V.View(), 32, 20)
    assert row(f, "a").rstrip().endswith(glyph)


def test_running_shows_the_spinner_glyph():
    f = render(snapshot(session("a", 1, agents=[agent("running")])), V.View(tick=3), 32, 20)
    assert row(f, "a").rstrip().endswith(SPINNER[3])


def test_at_most_three_badges_then_plus_n_most_important_first():
    agents = [agent("idle", tid="1"), agent("done", tid="2"), agent("waiting", tid="3"),
              agent("running", tid="4"), agent("error", tid="5")]
    r = row(render(snapshot(session("a", 1, agents=agents)), V.View(), 32, 20), "a")
    assert r.rstrip().endswith(f"◉ ✗ {SPINNER[0]} +2")
    narrow = row(render(snapshot(session("a", 1, agents=agents)), V.View(), 20, 20), "a")
    assert narrow.rstrip().endswith(f"◉✗{SPINNER[0]}+2")


def test_glyph_colours_follow_the_status():
    pal = PALETTES["dracula"]
    snap = snapshot(session("a", 1, agents=[agent("error")]), theme="dracula")
    f = render(snap, V.View(highlight="zzz"), 32, 20)
    y = [y for y, n in f.hits.items() if n == "a"][0]
    seg = next(s for s in f.lines[y] if s[0] == "✗")
    assert seg[1] == pal["error"]


def test_a_very_narrow_sidebar_drops_badges_before_the_name():
    f = render(snapshot(session("abcdefgh", 1, agents=[agent("waiting")] * 3)), V.View(), 10, 20)
    assert_fits(f, 10, 20)
    assert "abc" in row(f, "abcdefgh")


# -- many and none -----------------------------------------------------------------------------

def test_no_sessions():
    f = render(snapshot(), V.View(), 32, 20)
    assert_fits(f, 32, 20)
    assert any("no sessions" in line for line in text(f)) and "0 sessions" in text(f)[0]
    assert f.hits == {}


def test_no_snapshot_yet_says_connecting_or_reconnecting():
    assert any("connecting…" in line for line in text(render(None, V.View(), 32, 20)))
    f = render(None, V.View(link="reconnecting"), 32, 20)
    assert any("reconnecting…" in line for line in text(f))
    assert any("opensessions up" in line for line in text(f))


def test_reconnecting_with_a_snapshot_keeps_the_list_and_says_so():
    f = render(five(), V.View(link="reconnecting"), 32, 20)
    assert "reconnecting…" in text(f)[1] and "s3" in row(f, "s3")
    g = render(five(), V.View(state_ok=False), 32, 20)
    assert "reconnecting…" in text(g)[1]


def test_tmux_down_and_filter_show_under_the_header():
    assert "tmux not reachable" in text(render(five(connected=False), V.View(), 32, 20))[1]
    assert "filter: running" in text(render(five(filter="running"), V.View(), 32, 20))[1]


def many(n=100):
    return snapshot(*(session(f"sess{i:03d}", i, branch="main") for i in range(1, n + 1)))


@pytest.mark.parametrize("hl", [1, 2, 37, 50, 99, 100])
def test_100_sessions_scroll_to_keep_the_highlight_visible(hl):
    snap = many()
    name = f"sess{hl:03d}"
    f = render(snap, V.View(highlight=name, scroll=0), 32, 30)
    assert_fits(f, 32, 30)
    assert name in f.hits.values()
    assert row(f, name).startswith(CURSOR_MARK)
    assert len(set(f.hits.values())) == f.page
    # the frame says where it scrolled to; rendering again from there is stable
    g = render(snap, V.View(highlight=name, scroll=f.scroll), 32, 30)
    assert g.text() == f.text()


def test_scroll_indicators_say_how_many_are_hidden():
    f = render(many(), V.View(highlight="sess050"), 32, 30)
    above, below = f.scroll, 100 - f.scroll - f.page
    assert f"↑{above}" in text(f)[1] and f"↓{below}" in text(f)[1]


def test_wheel_scroll_is_not_pulled_back_to_the_highlight():
    f = render(many(), V.View(highlight="sess001", scroll=40, free_scroll=True), 32, 30)
    assert f.scroll == 40 and "sess001" not in f.hits.values() and "sess041" in f.hits.values()
    clamp = render(many(), V.View(highlight="sess001", scroll=1000, free_scroll=True), 32, 30)
    assert clamp.scroll == 100 - clamp.page and "sess100" in clamp.hits.values()


def test_hits_map_both_lines_of_each_row():
    f = render(five(), V.View(), 32, 20)
    assert f.hits[2] == f.hits[3] == "s1" and f.hits[4] == f.hits[5] == "s2"


@pytest.mark.parametrize("h", [1, 2, 3, 4, 5, 8, 13, 14])
def test_tiny_heights_never_overflow(h):
    f = render(five(), V.View(highlight="s5"), 24, h)
    assert_fits(f, 24, h)
    assert all(0 <= y < h for y in f.hits)


# -- detail panel ------------------------------------------------------------------------------

def detailed():
    meta = {"status": {"text": "Deploying to prod", "tone": "warn"},
            "progress": {"current": 3, "total": 4, "percent": None, "label": "migrations"},
            "logs": [{"message": f"step {i} finished", "tone": "success" if i % 2 else "info",
                      "source": "ci", "ts": 1700000000 + i} for i in range(1, 8)]}
    return snapshot(session("s1", 1),
                    session("api", 2, dir="/home/u/src/api", branch="feat/x", dirty=True, ports=[3000, 5432],
                            agents=[agent("waiting", thread="Fix the flaky test"),
                                    agent("done", unseen=True, name="codex", thread="Refactor auth")],
                            metadata=meta))


def test_detail_panel_shows_dir_branch_ports_agents_pill_progress_and_logs():
    f = render(detailed(), V.View(highlight="api", home="/home/u"), 40, 50)
    assert_fits(f, 40, 50)
    screen = "\n".join(text(f))
    panel = screen[screen.index("─ api "):]
    for expected in ("~/src/api", "feat/x*", ":3000 :5432", "Deploying to prod", "75%", "migrations 3/4",
                     "◉ claude Fix the flaky test", "waiting", "● codex Refactor auth", "unseen",
                     "step 7 finished", "ci: "):
        assert expected in panel, expected


def test_detail_panel_uses_the_room_the_list_does_not_need():
    f = render(detailed(), V.View(highlight="api"), 40, 30)
    screen = text(f)
    assert sum("finished" in line for line in screen) >= 4
    assert all(f"step {i} finished" in "\n".join(screen) for i in (5, 6, 7))


def test_detail_panel_follows_the_highlight():
    f = render(detailed(), V.View(highlight="s1", home="/home/u"), 40, 50)
    screen = "\n".join(text(f))
    assert "─ s1 " in screen and "Deploying" not in screen


def test_detail_panel_pill_is_drawn_in_its_tone():
    f = render(detailed(), V.View(highlight="api"), 40, 50)
    pill = next(seg for line in f.lines for seg in line if "Deploying" in seg[0])
    assert pill[2] == PALETTES["catppuccin-mocha"]["warn"] and pill[3] & BOLD


def test_detail_panel_gives_way_to_the_list_on_short_screens():
    f = render(detailed(), V.View(highlight="api"), 40, 20)
    screen = text(f)
    assert "─ api " in "\n".join(screen)
    assert "s1" in row(f, "s1") and "api" in row(f, "api")        # both rows still listed
    assert not any("step 1 finished" in line for line in screen)  # oldest logs go first
    assert any("step 7 finished" in line for line in screen)
    none = render(detailed(), V.View(highlight="api"), 40, 12)
    assert "─ api " not in "\n".join(text(none))


def test_progress_from_percent_and_clamped():
    meta = {"status": None, "progress": {"percent": 250, "label": None}, "logs": []}
    f = render(snapshot(session("a", 1, metadata=meta)), V.View(), 40, 30)
    assert any("100%" in line and "█" in line for line in text(f))


def test_null_metadata_renders_without_it():
    snap = snapshot(session("a", 1, metadata={"status": None, "progress": None, "logs": None}))
    f = render(snap, V.View(), 32, 30)
    assert_fits(f, 32, 30)
    snap["sessions"][0]["metadata"] = None
    assert_fits(render(snap, V.View(), 32, 30), 32, 30)


# -- themes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("theme", THEMES)
def test_every_theme_renders_in_its_own_colours(theme):
    pal = PALETTES[theme]
    f = render(detailed(), V.View(highlight="api"), 40, 50, theme)
    assert_fits(f, 40, 50)
    colours = {seg[1] for line in f.lines for seg in line} | {seg[2] for line in f.lines for seg in line}
    assert pal["waiting"] in colours and pal["bg"] in colours
    if theme == "transparent":
        sel_y = [y for y, n in f.hits.items() if n == "api"][0]
        assert all(seg[3] & REVERSE for seg in f.lines[sel_y])   # no colour to spare: reverse video


def test_the_theme_argument_overrides_the_snapshot_setting_for_the_preview():
    snap = five(theme="nord")
    assert render(snap, V.View(), 32, 20).lines[0][0][2] == PALETTES["nord"]["bg"]
    assert render(snap, V.View(), 32, 20, "dracula").lines[0][0][2] == PALETTES["dracula"]["bg"]


# -- overlays and footer -----------------------------------------------------------------------

def test_footer_hints_fit_the_width():
    assert "q close" in text(render(five(), V.View(), 60, 20))[-1]
    assert "? help" in text(render(five(), V.View(), 20, 20))[-1]


def test_footer_shows_messages_and_prompts():
    assert "no session 9" in text(render(five(), V.View(message="no session 9 (there are 5)"), 40, 20))[-1]
    assert "kill s3? y/n" in text(render(five(), V.View(mode=V.CONFIRM, target="s3"), 40, 20))[-1]
    assert "new: work" in text(render(five(), V.View(mode=V.NEW, text="work"), 40, 20))[-1]
    slider = text(render(five(), V.View(mode=V.WIDTH, width_value=40), 40, 20))[-1]
    assert "width" in slider and "40" in slider and "●" in slider


def test_help_overlay_lists_the_keys():
    screen = "\n".join(text(render(five(), V.View(mode=V.HELP), 40, 30)))
    for k in ("switch", "reorder", "hide", "theme", "filter", "close"):
        assert k in screen


def test_theme_picker_lists_every_theme_with_the_cursor():
    f = render(five(), V.View(mode=V.THEME, theme_cursor=THEMES.index("nord")), 32, 30)
    screen = text(f)
    for t in THEMES:
        assert any(t in line for line in screen), t
    assert any(line.startswith(CURSOR_MARK + " nord") for line in screen)


# -- properties --------------------------------------------------------------------------------

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
statuses = st.sampled_from(["idle", "running", "tool-running", "waiting", "done", "error",
                            "interrupted", "stale", "weird"])


@PROPS
@given(st.lists(st.tuples(names, st.lists(st.tuples(statuses, st.booleans()), max_size=6),
                          st.one_of(st.none(), names), st.lists(st.integers(1, 65535), max_size=4)),
                max_size=12),
       st.integers(0, 90), st.integers(0, 50), st.integers(0, 20), st.sampled_from(THEMES),
       st.sampled_from([V.LIST, V.HELP, V.THEME, V.WIDTH, V.CONFIRM, V.NEW]))
def test_any_snapshot_any_size_fits_exactly(rows, w, h, hl, theme, mode):
    sessions = [session(f"n{i}", i + 1, label=label, branch=branch, ports=ports,
                        agents=[agent(s, unseen=u, tid=str(k)) for k, (s, u) in enumerate(ags)])
                for i, (label, ags, branch, ports) in enumerate(rows)]
    snap = snapshot(*sessions, theme=theme)
    view = V.View(highlight=f"n{hl}", mode=mode, target="n1", text="日本", width_value=40)
    f = render(snap, view, w, h)
    assert_fits(f, w, h)
    for y in f.hits:
        assert 0 <= y < h


@FEW
@given(st.integers(1, 200), st.integers(0, 199), st.integers(6, 60))
def test_the_highlight_is_always_on_screen(n, hl, h):
    snap = snapshot(*(session(f"x{i}", i + 1) for i in range(n)))
    name = f"x{min(hl, n - 1)}"
    f = render(snap, V.View(highlight=name), 24, h)
    assert name in f.hits.values()
