"""Faults (SCENARIOS 24–26, issue 6 "Prove it survives"): a service killed with -9 while a sidebar
is open and an agent reports; supervisord itself killed; the publisher stalled; tmux gone (no
busy loop); corrupt order, config and checkpoint files; garbage among the transcripts; evidence
arriving between two tmux listings. docs/reliability.md says what each test stands for."""
import dataclasses
import glob
import os
import re
import signal
import threading
import time
import uuid

import orjson
import psutil
import zmq

from bench.storm import CloneSub, body, publisher_snapshot
from services import protocol as P
from services.collector.watchers.claude import encode_dir
from services.settings import DEFAULTS
from services.tmux import Tmux

from .conftest import wait_for
from .fault_helpers import (alive, ask, command, control_clients, cpu_share, logs, pane_of, processes_of,
                            running_pids, runtime, session_row, supervisord_pid, wait_restarted)
from .sidebar_helpers import listed, open_sidebar, pane_alive, screen, wait_text
from .sidebar_helpers import sidebars  # noqa: F401  (a fixture)

CHECKPOINT_EVERY = 1.0   # state writes its checkpoint at most once a second (services/state/loop.py)


class Reporter(threading.Thread):
    """An agent that keeps reporting through `opensessions emit` (running ⇄ tool-running) while
    services die around it; it records when each report got through."""

    def __init__(self, world, pane: str):
        super().__init__(daemon=True)
        self.world, self.pane = world, pane
        self.stop = threading.Event()
        self.delivered: list[tuple[float, str]] = []
        self.refused = 0

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            status = ("running", "tool-running")[n % 2]
            n += 1
            proc = self.world.cli("emit", "--agent", "codex", "--status", status, "--pane", self.pane,
                                  "--thread-id", "t-live", timeout=15)
            if proc.returncode == 0:
                self.delivered.append((time.time(), status))
            else:
                assert proc.returncode == 3, proc.stderr   # "not running" while state restarts, nothing else
                self.refused += 1
            self.stop.wait(0.1)

    def delivered_after(self, t: float) -> bool:
        return any(at > t for at, _ in self.delivered)


def _theme_marks(world, pane: str) -> tuple:
    """The theme's colours in a sidebar: the header's first two escapes and the rule under it
    (the rest of the header changes with the agents it counts)."""
    lines = screen(world, pane, escapes=True).splitlines()
    return tuple(re.findall(r"\x1b\[[0-9;]*m", lines[0])[:2]) + tuple(re.findall(r"\x1b\[[0-9;]*m", lines[1])[:1])


def _sidebar_processes(world, pane: str) -> set[int]:
    root = psutil.Process(int(world.tmux("display-message", "-p", "-t", pane, "#{pane_pid}")))
    return {root.pid} | {p.pid for p in root.children(recursive=True)}


def test_kill_9_each_service_in_turn_loses_nothing(sidebars):
    """SCENARIO 24: kill -9 the collector, the publisher, then state, with a sidebar open and an
    agent reporting. supervisord restarts each; the same sidebar process resyncs and follows
    again; order, hidden set, unseen flag, metadata and theme all survive."""
    w = sidebars
    w.attach("s1")
    side = open_sidebar(w, "s1")
    side_procs = _sidebar_processes(w, side)
    default_style = _theme_marks(w, side)

    w.ok("reorder", "s4", "up")
    w.ok("hide", "s5")
    command(w, "set_setting", key="theme", value="nord")
    w.ok("set-status", "s2", "Deploying", "--tone", "warn")
    w.ok("set-progress", "s2", "--percent", "40", "--label", "build")
    w.ok("log", "s2", "step one", "--source", "ci")
    w.ok("emit", "--agent", "claude-code", "--status", "done", "--pane", pane_of(w, "s3"),
         "--thread-id", "t-done", "--thread-name", "Ship it")
    order = ["s1", "s2", "s4", "s3"]
    wait_for(lambda: listed(w, side) == order, what="the sidebar to show the order")
    style = wait_for(lambda: (s := _theme_marks(w, side)) != default_style and s, what="the theme to change")

    def everything_is_still_there(after: str) -> None:
        snap = w.snapshot()
        assert [s["name"] for s in snap["sessions"]] == order, after
        assert snap["hidden"] == ["s5"], after
        s3 = session_row(snap, "s3")
        [done] = [a for a in s3["agents"] if a["thread_id"] == "t-done"]
        assert (done["status"], done["unseen"], done["thread_name"]) == ("done", True, "Ship it"), after
        assert s3["unseen"] is True, after
        meta = session_row(snap, "s2")["metadata"]
        assert (meta["status"]["text"], meta["status"]["tone"]) == ("Deploying", "warn"), after
        assert (meta["progress"]["percent"], meta["progress"]["label"]) == (40, "build"), after
        assert [(l["message"], l["source"]) for l in meta["logs"]] == [("step one", "ci")], after
        assert snap["settings"]["theme"] == "nord", after
        live = [a for a in session_row(snap, "s4")["agents"] if a["thread_id"] == "t-live"]
        assert len(live) == 1 and live[0]["status"] in ("running", "tool-running"), after
        wait_for(lambda: listed(w, side) == order, what=f"the sidebar's order after {after}")
        assert _theme_marks(w, side) == style, after

    reporter = Reporter(w, pane_of(w, "s4"))
    reporter.start()
    try:
        wait_for(lambda: reporter.delivered, what="the agent's first report")
        time.sleep(CHECKPOINT_EVERY * 1.5)   # the setup above is older than a checkpoint interval
        pids = running_pids(w)
        for name in ("collector", "publisher", "state"):
            killed_at = time.time()
            psutil.Process(pids[name]).kill()
            pids = wait_restarted(w, name, pids[name])
            wait_for(lambda: reporter.delivered_after(killed_at + 0.5), timeout=10,
                     what=f"the agent's reports to get through after the {name} restart")
            everything_is_still_there(f"kill -9 of {name}")
            # the sidebar follows new changes again (it resynced by itself)
            w.ok("reorder", "s3", "up")
            wait_for(lambda: listed(w, side) == ["s1", "s2", "s3", "s4"], timeout=10,
                     what=f"the sidebar to follow after the {name} restart")
            w.ok("reorder", "s3", "down")
            wait_for(lambda: listed(w, side) == order, what="the order back")
    finally:
        reporter.stop.set()
        reporter.join(20)
    assert _sidebar_processes(w, side) == side_procs and pane_alive(w, side)   # never restarted
    wait_text(w, side, "reconnecting…", present=False)
    assert running_pids(w) == pids
    wait_for(lambda: control_clients(w) == 2, what="one tmux connection each for state and collector")
    assert "Traceback" not in logs(w)


def test_a_stalled_publisher_misses_no_update(trio):
    """The publisher stops (SIGSTOP) while state keeps changing: state's queue to it fills and
    state cannot hand over snapshots. When the publisher resumes, it and every subscriber must
    get the latest state — at once, not whenever something unrelated changes next. (The
    collector is stopped too, so that its periodic observations cannot hide a lost update.)"""
    rt = runtime(trio)
    pids = running_pids(trio)
    ctx = zmq.Context()
    sub = CloneSub(ctx, rt)
    sub.resync()
    os.kill(pids["collector"], signal.SIGSTOP)
    os.kill(pids["publisher"], signal.SIGSTOP)
    try:
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(rt.state_endpoint)
        for i in range(300):
            req.send(P.encode("set_status", session="s1", text=f"n{i}"))
            assert req.poll(3000), "state stopped answering while the publisher is stalled"
            assert P.decode_reply(req.recv())["ok"]
        req.close(0)
        os.kill(pids["publisher"], signal.SIGCONT)
        model = ask(rt.state_endpoint, P.encode("ls"), ctx=ctx)["result"]
        assert session_row(model, "s1")["metadata"]["status"]["text"] == "n299"

        def caught_up():
            sub.pump()
            published = publisher_snapshot(ctx, rt)
            return (body(published["snapshot"]) == body(model) and sub.seq == published["seq"]
                    and body(sub.snapshot) == body(model))
        try:
            wait_for(caught_up, timeout=3, what="the publisher and a subscriber to get the latest state")
        except AssertionError:
            published = publisher_snapshot(ctx, rt)["snapshot"]
            raise AssertionError("after the stall the publisher still shows s1's status "
                                 f"{session_row(published, 's1')['metadata']['status']!r}; state has 'n299'") from None
    finally:
        os.kill(pids["publisher"], signal.SIGCONT)
        os.kill(pids["collector"], signal.SIGCONT)
        sub.close()
        ctx.term()
    assert running_pids(trio) == pids


def test_kill_9_supervisord_leaves_no_orphans_and_up_recovers(trio):
    """supervisord killed with -9: the services notice their parent is gone and exit (with their
    tmux connections); the stale pid file and sockets do not stop the next `up`, which starts a
    fresh trio with the persisted order, hidden set and metadata."""
    w = trio
    w.ok("reorder", "s2", "up")
    w.ok("hide", "s4")
    w.ok("set-status", "s1", "kept", "--tone", "info")
    time.sleep(CHECKPOINT_EVERY * 1.5)
    rt = runtime(w)
    pids = running_pids(w)
    sup = supervisord_pid(w)
    assert sup is not None and alive(sup)
    assert control_clients(w) == 2

    os.kill(sup, signal.SIGKILL)
    wait_for(lambda: not alive(sup), what="supervisord to die")
    wait_for(lambda: not any(alive(p) for p in pids.values()), timeout=5,
             what="the orphaned services to exit by themselves")
    assert processes_of(w) == []
    wait_for(lambda: control_clients(w) == 0, what="their tmux control clients to go")
    assert os.path.exists(rt.supervisor_pidfile) and os.path.exists(rt.supervisor_socket)   # stale now

    t0 = time.monotonic()
    assert w.cli("status", timeout=10).returncode == 3
    assert w.cli("ls", timeout=10).returncode == 3
    assert time.monotonic() - t0 < 8

    assert "started" in w.ok("up")
    new = running_pids(w)
    assert set(new.values()).isdisjoint(pids.values())
    assert supervisord_pid(w) not in (None, sup)
    wait_for(lambda: w.names() == ["s2", "s1", "s3", "s5"], what="the persisted order")
    snap = w.snapshot()
    assert snap["hidden"] == ["s4"]
    assert session_row(snap, "s1")["metadata"]["status"]["text"] == "kept"
    assert len(processes_of(w)) == 4            # supervisord and the trio, nothing else
    wait_for(lambda: control_clients(w) == 2, what="the new trio's tmux connections")


def test_no_busy_loop_while_tmux_is_down(trio):
    """SCENARIO 25 adds this to test_tmux_restart.py: while the tmux server is gone, the trio
    retries at a slow pace — a generous bound of 20 % of a core each, measured over 4 s."""
    pids = running_pids(trio)
    trio.kill_server()
    wait_for(lambda: orjson.loads(trio.ok("status", "--json"))["tmux"]["connected"] is False,
             what="tmux reported down")
    time.sleep(1.0)
    share = cpu_share(pids, 4.0)
    assert all(v < 0.20 for v in share.values()), {n: f"{v:.0%}" for n, v in share.items()}
    assert running_pids(trio) == pids


def _asides(path: str) -> list[str]:
    return sorted(glob.glob(glob.escape(path) + ".corrupt-*"))


def test_corrupt_order_config_and_checkpoint_are_moved_aside(world):
    """SCENARIO 26: a corrupt order file, config.toml and checkpoint: each is kept aside as
    `*.corrupt-<ts>` with its content, an error is logged, defaults are used, nothing crashes —
    at start, and again when state restarts onto an order file corrupted while it ran."""
    for name in ("s1", "s2", "s3"):
        world.new_session(name)
    rt = runtime(world)
    checkpoint = os.path.join(rt.dir, "checkpoint.json")
    garbage = {rt.order_file: b'{"order": ["s3", "s1"], "hidden": ["s2"', rt.config_file: b"[opensessions\nx = = 1\n\x00",
               checkpoint: b"\x00\x01 not a checkpoint"}
    os.makedirs(rt.config_dir)
    os.makedirs(rt.dir, mode=0o700)
    for path, data in garbage.items():
        with open(path, "wb") as f:
            f.write(data)

    world.ok("up")
    wait_for(lambda: world.names() == ["s1", "s2", "s3"], what="the default order (creation order)")
    snap = world.snapshot()
    assert snap["hidden"] == [] and snap["settings"]["theme"] == DEFAULTS["theme"]
    for path, data in garbage.items():
        [aside] = _asides(path)
        assert open(aside, "rb").read() == data, aside
    assert not os.path.exists(rt.config_file)
    text = logs(world)
    for event in ("order_file_corrupt", "config_corrupt", "checkpoint_corrupt"):
        assert any("level=error" in line and f"event={event}" in line for line in text.splitlines()), event
    pids = running_pids(world)
    time.sleep(1.5)                                     # nothing exits after the start either
    assert running_pids(world) == pids
    assert "Traceback" not in logs(world)
    assert "not expected" not in logs(world, "supervisord")   # supervisord saw no service die

    world.ok("reorder", "s3", "up")                      # a fresh, valid order file is written
    wait_for(lambda: orjson.loads(open(rt.order_file, "rb").read())["order"][:3] == ["s1", "s3", "s2"],
             what="the new order file")
    time.sleep(1.1)                                      # a new second: a distinct `.corrupt-<ts>` name
    with open(rt.order_file, "wb") as f:
        f.write(b"\xff\xfe garbage")
    psutil.Process(pids["state"]).kill()
    wait_restarted(world, "state", pids["state"])
    wait_for(lambda: world.names() == ["s1", "s2", "s3"], what="defaults after the corrupt file")
    assert len(_asides(rt.order_file)) == 2
    assert sum("event=order_file_corrupt" in line for line in logs(world, "state").splitlines()) == 2
    assert "Traceback" not in logs(world)


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


def test_garbage_transcripts_do_not_stop_the_collector(world):
    """Garbage, binary data, NUL bytes, truncated lines, a 3 MiB line and directories named
    *.jsonl among the Claude transcripts — some there at the start, more while the trio runs,
    one followed file replaced by a directory: the collector stays up (same pid, no probe
    failure) and still reads and follows a valid transcript written beside them while it runs
    (found by its periodic rescan, every 10 s)."""
    proj = os.path.join(world.home, "proj")
    os.makedirs(proj)
    world.new_session("other")
    world.tmux("new-session", "-d", "-s", "proj", "-x", "120", "-y", "40", "-c", proj)
    d = os.path.join(world.home, ".claude", "projects", encode_dir(proj))
    os.makedirs(os.path.join(d, "adir.jsonl", "inner"))
    files = {
        "garbage.jsonl": os.urandom(4096) + b'\n{"type": "user", "message": {"content": "trunc',
        "binary.jsonl": bytes(range(256)) * 64,
        "nulls.jsonl": b"\x00" * 10000 + b"\n",
        "types.jsonl": b'[]\n42\n"s"\nnull\n{"type": 7}\n{"type": "user", "message": "nope"}\n'
                       b'{"type": "assistant", "message": {"content": [1, null, {"type": 3}]}}\n',
        "huge.jsonl": b'{"type": "user", "message": {"content": "' + b"x" * (3 << 20) + b'"}}\n',
    }
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    with open(os.path.join(d, "adir.jsonl", "inner", "x.jsonl"), "wb") as f:
        f.write(b"\xff\xff\n")
    world.ok("up")
    wait_for(lambda: world.names() == ["other", "proj"], what="the sessions")
    collector = running_pids(world)["collector"]

    with open(os.path.join(d, "garbage.jsonl"), "ab") as f:        # more garbage, and the end of the
        f.write(b'ted line\n\xc3\x28\n{"a":\n' + os.urandom(2048))  # truncated line, while running
    os.unlink(os.path.join(d, "nulls.jsonl"))                     # a followed file becomes a directory
    os.makedirs(os.path.join(d, "nulls.jsonl"))
    with open(os.path.join(d, "late-garbage.jsonl"), "wb") as f:  # a new bad file
        f.write(os.urandom(1024))
    sid = str(uuid.uuid4())
    valid = os.path.join(d, f"{sid}.jsonl")

    def line(obj: dict) -> None:
        with open(valid, "ab") as f:
            f.write(orjson.dumps({"sessionId": sid, "cwd": proj, "timestamp": _iso(time.time()),
                                  "isSidechain": False, **obj}) + b"\n")

    def thread():
        row = session_row(world.snapshot(), "proj")
        return next((a for a in row["agents"] if a["thread_id"] == sid), None)

    line({"type": "user", "message": {"role": "user", "content": "fix the flaky test"}})
    t = wait_for(thread, timeout=15, what="the valid transcript's thread (rescan every 10 s)")
    assert (t["agent"], t["status"], t["thread_name"]) == ("claude-code", "running", "fix the flaky test")
    line({"type": "assistant", "message": {"role": "assistant", "stop_reason": "tool_use",
                                           "content": [{"type": "tool_use", "name": "Bash", "input": {}}]}})
    wait_for(lambda: (t := thread()) and t["status"] == "tool-running", timeout=5, what="tool-running")
    with open(os.path.join(d, "garbage.jsonl"), "ab") as f:
        f.write(b"\x00\x01\x02\n" * 100)
    line({"type": "system", "subtype": "turn_duration", "durationMs": 1200})
    wait_for(lambda: (t := thread()) and t["status"] == "done", timeout=5, what="done")

    assert running_pids(world)["collector"] == collector
    text = logs(world, "collector")
    assert "Traceback" not in text and "probe_failed" not in text


def test_evidence_that_arrives_between_two_listings_is_not_lost(trio):
    """state applies a burst of observations with only the last listing of tmux kept — but that
    must not move the listing after evidence that came before it. Here state knows no session
    (tmux was down), then one burst brings a listing, an agent's transcript evidence for a dir
    that is a session's dir, and a second (slightly different) listing. The thread must land in
    that session. (The same happens for real at `up`, when the collector's first transcript
    scan and a second listing arrive in state's first turn: an agent found in its transcript
    then stays invisible until it writes again.) state and the collector are paused so the
    burst is read in one turn and nothing else speaks."""
    rt = runtime(trio)
    pids = running_pids(trio)
    t = Tmux(trio.socket)
    try:
        panes = [dataclasses.asdict(p) for p in t.list_panes()]
        clients = [dataclasses.asdict(c) for c in t.list_clients()]
    finally:
        t.close()
    s3 = next(p for p in panes if p["session_name"] == "s3")
    proj = s3["session_path"]
    assert [p["session_path"] for p in panes].count(proj) == 5   # every session has the same dir …
    s3_dir = os.path.join(proj, "s3-work")                       # … so the thread's dir is a child
    os.makedirs(s3_dir)                                          # of s3's, made s3's own below
    for p in panes:
        if p["session_name"] == "s3":
            p["session_path"] = s3_dir
    retitled = [dict(p, title=p["title"] + "!") for p in panes]
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 1000)
    push.connect(rt.observe_endpoint)
    os.kill(pids["collector"], signal.SIGSTOP)
    try:
        push.send(P.encode("obs.tmux_down", reason="test: tmux went away"))
        wait_for(lambda: trio.snapshot()["sessions"] == [], what="state to know no session")
        os.kill(pids["state"], signal.SIGSTOP)
        try:
            push.send(P.encode("obs.tmux", panes=panes, clients=clients))
            push.send(P.encode("obs.events", events=[{"agent": "claude-code", "source": "transcript",
                                                      "thread_id": "t-between", "status": "running",
                                                      "thread_name": "found at start", "name_rank": 1,
                                                      "dir": s3_dir, "at": time.time()}]))
            push.send(P.encode("obs.tmux", panes=retitled, clients=clients))
            time.sleep(0.3)                                      # all three queued at state
        finally:
            os.kill(pids["state"], signal.SIGCONT)
        wait_for(lambda: len(trio.snapshot()["sessions"]) == 5, what="the listing applied")
        time.sleep(0.3)
        threads = {s["name"]: [a["thread_id"] for a in s["agents"]] for s in trio.snapshot()["sessions"]}
        assert threads["s3"] == ["t-between"], threads
    finally:
        os.kill(pids["collector"], signal.SIGCONT)
        push.close(0)
        ctx.term()
