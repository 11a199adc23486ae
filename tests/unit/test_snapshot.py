"""services/state/snapshot.py: what sidebars and `opensessions ls --json` see."""
from __future__ import annotations

import orjson

from services import protocol as P
from services.state.model import Model
from services.state.snapshot import build_snapshot

from ._builders import client_row, make_model, session_rows


def model() -> Model:
    """alpha (2 panes, client on %1), beta (hidden), gamma (agents), delta; gamma is first by user order."""
    m = make_model([("$1", "alpha", 100, ["%1", "%2"]), ("$2", "beta", 200, ["%3"]),
                    ("$3", "gamma", 300, ["%4", "%5"]), ("$4", "\\$HOME", 400, ["%6"])],
                   [client_row("/dev/pts/2", "$1", "alpha", pane_id="%1", window_id="@1"),
                    client_row("/dev/pts/1", "$3", "gamma", pane_id="%5", window_id="@3"),
                    client_row("/dev/pts/0", "$1", "alpha", control=True)],
                   user_order=["gamma"], hidden={"beta", "gone"})
    m.apply_agents({"%4": [{"agent": "claude-code", "pid": 6775}], "%5": [{"agent": "codex", "pid": 7973}]},
                   now=50.0)
    for t in m.tracker.threads.values():
        if t.agent == "codex":
            t.status, t.thread_name = "waiting", "create hi.txt"
        else:
            t.status, t.unseen = "done", True
    m.apply_ports({"$3": [5173, 3000]})
    m.apply_git({"/work/3": {"branch": "main", "dirty": True}})
    return m


def by_name(snap: dict) -> dict:
    return {s["name"]: s for s in snap["sessions"]}


def test_sessions_in_display_order_with_1_based_index_among_visible():
    snap = build_snapshot(model(), now=1000.0)
    assert [(s["index"], s["name"]) for s in snap["sessions"]] == [(1, "gamma"), (2, "alpha"), (3, "\\$HOME")]


def test_index_is_what_switch_means():
    m = model()
    snap = build_snapshot(m, now=1.0)
    client = m.clients["/dev/pts/2"]
    for s in snap["sessions"]:
        assert m.switch_target(str(s["index"]), client).name == s["name"]


def test_session_fields():
    s = by_name(build_snapshot(model(), now=1.0))["gamma"]
    assert s["name"] == "gamma" and s["id"] == "$3"
    assert s["dir"] == "/work/3"
    assert s["branch"] == "main" and s["dirty"] is True
    assert s["windows"] == 1 and s["panes"] == 2
    assert s["attached"] == 1
    assert s["created"] == 300
    assert s["ports"] == [3000, 5173]
    assert s["hidden"] is False
    assert s["metadata"] == {"status": None, "progress": None, "logs": []}


def test_session_without_git_or_ports():
    s = by_name(build_snapshot(model(), now=1.0))["alpha"]
    assert s["branch"] is None and s["dirty"] is False
    assert s["ports"] == [] and s["agents"] == [] and s["agent_state"] is None and s["unseen"] is False
    assert s["attached"] == 1                      # the control client does not count


def test_agents_and_the_session_state():
    s = by_name(build_snapshot(model(), now=1.0))["gamma"]
    agents = {a["agent"]: a for a in s["agents"]}
    assert set(agents) == {"claude-code", "codex"}
    for a in agents.values():
        assert {"agent", "status", "unseen", "liveness", "pane_id", "thread_id", "thread_name"} <= set(a)
    assert agents["codex"]["status"] == "waiting" and agents["codex"]["pane_id"] == "%5"
    assert agents["codex"]["thread_name"] == "create hi.txt" and agents["codex"]["liveness"] == "alive"
    assert agents["claude-code"]["status"] == "done" and agents["claude-code"]["unseen"] is True
    assert agents["claude-code"]["thread_id"] != agents["codex"]["thread_id"]
    assert s["agent_state"] == "waiting"             # waiting always shows
    assert s["unseen"] is True


def test_exited_agent_shows_as_exited():
    m = model()
    m.apply_agents({"%5": [{"agent": "codex", "pid": 7973}]}, now=60.0)     # claude is gone
    agents = {a["agent"]: a for a in by_name(build_snapshot(m, now=61.0))["gamma"]["agents"]}
    assert agents["claude-code"]["liveness"] == "exited"
    assert agents["codex"]["liveness"] == "alive"


def test_label_undoes_tmux_escaping():
    s = by_name(build_snapshot(model(), now=1.0))["\\$HOME"]
    assert s["label"] == "$HOME"


def test_clients_are_listed_by_tty_without_control_clients():
    snap = build_snapshot(model(), now=1.0)
    assert [(c["tty"], c["session"]) for c in snap["clients"]] == [("/dev/pts/1", "gamma"), ("/dev/pts/2", "alpha")]
    c = snap["clients"][0]
    assert (c["session_id"], c["window"], c["pane"]) == ("$3", "@3", "%5")


def test_hidden_lists_only_live_hidden_sessions():
    snap = build_snapshot(model(), now=1.0)
    assert snap["hidden"] == ["beta"]
    assert "beta" not in by_name(snap)


def test_hidden_current_session_is_listed_and_flagged():
    m = model()
    m.client_session_changed("/dev/pts/2", "$2", "beta")
    s = by_name(build_snapshot(m, now=1.0))["beta"]
    assert s["hidden"] is True


def test_filter_is_applied_and_reported():
    m = model()
    m.settings["filter"] = "running"
    m.clients.clear()
    snap = build_snapshot(m, now=1.0)
    assert [s["name"] for s in snap["sessions"]] == ["gamma"]
    assert snap["settings"]["filter"] == "running"
    assert [s["index"] for s in snap["sessions"]] == [1]


def test_tmux_status_and_timestamp():
    snap = build_snapshot(model(), now=123.5, socket_path="/tmp/tmux-1000/default")
    assert snap["ts"] == 123.5
    assert snap["tmux"] == {"socket": "/tmp/tmux-1000/default", "connected": True, "error": None}
    m = Model()
    m.apply_tmux_down("no server", now=1.0)
    snap = build_snapshot(m, now=2.0)
    assert snap["sessions"] == [] and snap["tmux"]["connected"] is False and snap["tmux"]["error"] == "no server"


def test_only_the_clock_differs_between_two_builds_of_the_same_model():
    m = model()
    a, b = build_snapshot(m, now=1.0), build_snapshot(m, now=2.0)
    assert a != b
    assert P.snapshot_body(a) == P.snapshot_body(b)


def test_snapshot_is_a_valid_wire_message():
    snap = build_snapshot(model(), now=1.0)
    msg = P.decode(P.encode("state.snapshot", snapshot=snap), P.SNAPSHOT_IN, max_bytes=P.MAX_SNAPSHOT_BYTES)
    assert msg["snapshot"] == orjson.loads(orjson.dumps(snap))


def test_settings_are_a_copy():
    m = model()
    snap = build_snapshot(m, now=1.0)
    snap["settings"]["filter"] = "active"
    assert m.settings["filter"] == "all"


def test_empty_model():
    snap = build_snapshot(Model(), now=0.0)
    assert snap["sessions"] == [] and snap["clients"] == [] and snap["hidden"] == []


def test_a_big_model_fits_in_a_snapshot_message():
    sessions = [(f"${i}", f"s{i}", i, [f"%{i * 5 + k}" for k in range(5)]) for i in range(100)]
    m = make_model(sessions)
    m.apply_agents({f"%{i * 5}": [{"agent": "codex", "pid": 10_000 + i}] for i in range(100)}, now=1.0)
    m.apply_agents({**{f"%{i * 5}": [{"agent": "codex", "pid": 10_000 + i}] for i in range(100)},
                    **{f"%{i * 5 + 1}": [{"agent": "claude-code", "pid": 20_000 + i}] for i in range(100)}},
                   now=2.0)
    snap = build_snapshot(m, now=3.0)
    assert [s["index"] for s in snap["sessions"]] == list(range(1, 101))
    assert sum(len(s["agents"]) for s in snap["sessions"]) == 200
    assert len(P.encode("state.snapshot", snapshot=snap)) < P.MAX_SNAPSHOT_BYTES
    assert len(session_rows(sessions)) == 500


# -- metadata and highlights ------------------------------------------------------------------

def test_every_session_carries_its_metadata():
    m = model()
    m.set_status("gamma", "deploying", "warn", now=5.0)
    m.set_progress("gamma", {"current": 1, "total": 4, "label": "steps"}, now=6.0)
    m.add_log("alpha", "build ok", "success", "ci", now=7.0)
    snap = build_snapshot(m, now=10.0)
    sessions = by_name(snap)
    assert sessions["gamma"]["metadata"] == {
        "status": {"text": "deploying", "tone": "warn", "ts": 5.0},
        "progress": {"current": 1, "total": 4, "percent": 25.0, "label": "steps", "ts": 6.0},
        "logs": []}
    assert sessions["alpha"]["metadata"]["logs"] == [{"message": "build ok", "tone": "success", "source": "ci", "ts": 7.0}]
    assert sessions["\\$HOME"]["metadata"] == {"status": None, "progress": None, "logs": []}
    assert all(set(s["metadata"]) == {"status", "progress", "logs"} for s in snap["sessions"])
    P.decode(P.encode("state.snapshot", snapshot=snap), P.SNAPSHOT_IN, max_bytes=P.MAX_SNAPSHOT_BYTES)


def test_metadata_changes_change_the_snapshot_body():
    m = model()
    before = P.snapshot_body(build_snapshot(m, now=1.0))
    m.add_log("gamma", "x", None, None, now=2.0)
    assert P.snapshot_body(build_snapshot(m, now=3.0)) != before


def test_a_renamed_session_shows_its_metadata_under_the_new_name():
    m = model()
    m.set_status("gamma", "keep me", None, now=1.0)
    m.apply_tmux(session_rows([("$1", "alpha", 100, ["%1", "%2"]), ("$2", "beta", 200, ["%3"]),
                               ("$3", "gamma2", 300, ["%4", "%5"]), ("$4", "\\$HOME", 400, ["%6"])]),
                 [client_row("/dev/pts/2", "$1", "alpha", pane_id="%1")], now=2.0)
    assert by_name(build_snapshot(m, now=3.0))["gamma2"]["metadata"]["status"]["text"] == "keep me"


def test_each_client_has_a_highlight_defaulting_to_its_session():
    m = model()
    snap = build_snapshot(m, now=1.0)
    assert {c["tty"]: c["highlight"] for c in snap["clients"]} == {"/dev/pts/1": "gamma", "/dev/pts/2": "alpha"}
    m.highlights["/dev/pts/2"] = "\\$HOME"
    snap = build_snapshot(m, now=2.0)
    assert {c["tty"]: c["highlight"] for c in snap["clients"]} == {"/dev/pts/1": "gamma", "/dev/pts/2": "\\$HOME"}


def test_agents_carry_the_snapshot_fields_from_events():
    m = model()
    m.apply_event({"agent": "claude-code", "source": "hook", "status": "running", "thread_id": "c-1",
                   "thread_name": "say hi", "pane": "%2", "at": 20.0}, now=20.0)
    (a,) = by_name(build_snapshot(m, now=21.0))["alpha"]["agents"]
    assert a == {"agent": "claude-code", "thread_id": "c-1", "thread_name": "say hi", "status": "running",
                 "unseen": False, "liveness": "alive", "pane_id": "%2", "since": 20.0}
