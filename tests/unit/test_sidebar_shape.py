"""cli/sidebar/shape.py: a snapshot with wrong types or missing fields is drawn without what
is wrong in it, and never crashes the renderer or the key handling."""
from __future__ import annotations

from hypothesis import given, strategies as st

from cli.sidebar import view as V
from cli.sidebar.render import render
from cli.sidebar.shape import shape
from cli.sidebar.text import width

from ._builders import PROPS
from .test_sidebar_render import agent, client, five, session, snapshot


def test_a_good_snapshot_keeps_everything_the_sidebar_draws():
    snap = snapshot(session("api", 1, branch="main", dirty=True, ports=[3000], label="api",
                            agents=[agent("waiting", thread="t")],
                            metadata={"status": {"text": "Deploying", "tone": "warn"},
                                      "progress": {"current": 1, "total": 2, "percent": 50, "label": "x"},
                                      "logs": [{"message": "m", "tone": "info", "source": "ci", "ts": 1.0}]}),
                    clients=[client("/dev/pts/1", "api", "$1")], theme="nord")
    out = shape(snap)
    s = out["sessions"][0]
    assert (s["name"], s["label"], s["branch"], s["dirty"], s["ports"]) == ("api", "api", "main", True, [3000])
    assert s["agents"][0]["status"] == "waiting" and s["agents"][0]["thread_name"] == "t"
    assert s["metadata"]["status"] == {"text": "Deploying", "tone": "warn"}
    assert s["metadata"]["progress"]["percent"] == 50 and s["metadata"]["logs"][0]["message"] == "m"
    assert out["clients"] == [{"tty": "/dev/pts/1", "session": "api", "session_id": "$1", "highlight": "api"}]
    assert out["settings"]["theme"] == "nord" and out["tmux"]["connected"] is True


def test_malformed_parts_are_left_out():
    snap = {"sessions": [{"name": 3}, "x", {"label": "no name"}, {"name": "ok", "ports": [80, "443", True],
                                                                  "agents": ["a", {"status": 5}],
                                                                  "metadata": {"logs": [{"message": None}, 7]}},
                         {"name": "ok"}],
            "clients": [{"tty": None}, {"tty": "/dev/pts/2", "session": 4}], "settings": {"theme": ["x"], "width": True},
            "tmux": "down"}
    out = shape(snap)
    assert [s["name"] for s in out["sessions"]] == ["ok"]          # duplicates by name too
    s = out["sessions"][0]
    assert s["ports"] == [80] and s["agents"] == [{"agent": "agent", "thread_id": "", "thread_name": "",
                                                    "status": "idle", "unseen": False, "liveness": "unknown"}]
    assert s["metadata"]["logs"] == [] and s["label"] == "ok"
    assert out["clients"] == [{"tty": "/dev/pts/2", "session": None, "session_id": None, "highlight": None}]
    assert out["settings"] == {}
    assert shape(None) is None and shape([1, 2]) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "label", "id", "sessions", "clients", "agents", "status", "tty",
                         "session", "session_id", "highlight", "metadata", "logs", "progress", "ports",
                         "text", "message", "settings", "theme", "percent", "branch"]), children, max_size=6),
    max_leaves=30)


@PROPS
@given(json_values, st.integers(0, 50), st.integers(0, 30))
def test_any_json_shaped_then_rendered_and_followed_never_raises(value, w, h):
    snap = shape(value)
    f = render(snap, V.View(highlight="x"), w, h)
    assert len(f.lines) == h
    assert all(sum(width(seg[0]) for seg in line) == w for line in f.lines)
    if snap is not None:
        view, _ = V.on_snapshot(V.View(), snap, "/dev/pts/1", "$1", 0.0)
        ctx = V.Ctx(snap["sessions"], snap["settings"], f.hits, f.page, 0.0)
        for key in ("j", "enter", "d", "x", "t", "f", "w", "1", "tab"):
            V.handle(view, key, ctx)


def test_shaped_five_sessions_render_like_the_raw_ones():
    raw = five(clients=[client("/dev/pts/1", "s2", "$2")])
    assert render(shape(raw), V.View(highlight="s2"), 32, 20).text() == \
        render(raw, V.View(highlight="s2"), 32, 20).text()


_plain = st.none() | st.integers(-5, 5) | st.text(max_size=4)   # no bools: true == 1 to Python
_session_values = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "c"])},
    optional={k: st.one_of(_plain, st.lists(_plain, max_size=3),
                           st.lists(st.dictionaries(st.sampled_from(["agent", "status", "thread_id", "unseen"]),
                                                    _plain, max_size=4), max_size=3))
              for k in ("label", "branch", "ports", "agents", "dir", "metadata")})


@PROPS
@given(st.lists(st.fixed_dictionaries({"sessions": st.lists(_session_values, max_size=4)}), min_size=1, max_size=6))
def test_shaping_with_memory_gives_what_shaping_afresh_gives(snapshots):
    """A sequence of snapshots whose sessions share names (so the memo is used), shaped with
    one memo throughout, equals each one shaped on its own."""
    memo: dict = {}
    for snap in snapshots:
        assert shape(snap, memo) == shape(snap)


def test_an_unchanged_session_is_not_shaped_again_and_a_changed_one_is():
    memo: dict = {}
    first = shape(five(), memo)
    second_raw = five()
    second_raw["sessions"][1]["agents"] = [agent("waiting", thread="t2")]
    second = shape(second_raw, memo)
    assert second["sessions"][0] is first["sessions"][0]            # equal raw dict: the same shaped one
    assert second["sessions"][1] is not first["sessions"][1]
    assert second["sessions"][1]["agents"][0]["status"] == "waiting"
    assert set(memo) == {s["name"] for s in second["sessions"]}
