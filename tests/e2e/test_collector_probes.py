"""The collector's cheaper safety polls against a real tmux server: an unchanged pane listing
is neither parsed nor sent again until a resend is due, and a port is found under its pane
without reading every process's fds each time."""
from __future__ import annotations

import sys

from services.collector.loop import RESEND_EVERY

from .collector_helpers import harness_factory, wait_for  # noqa: F401  (fixture)

LONG = 60.0
LISTENER = ("import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
            "open(sys.argv[1], 'w').write(str(s.getsockname()[1])); time.sleep(1000)")


def _kinds(h, kind: str) -> list[dict]:
    return [m for m in h.received if m["type"] == kind]


def test_an_unchanged_listing_is_not_parsed_again_and_is_resent_when_due(harness_factory):
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    h.world.new_session("a")
    assert h.svc.tmux.connect()
    h.svc.refresh_tmux()
    panes = h.svc.panes
    wait_for(lambda: (h.drain(), _kinds(h, "obs.tmux"))[1], what="the first listing")
    h.svc.refresh_tmux()
    assert h.svc.panes is panes                           # same lines: nothing parsed
    sent, at = h.svc._last["obs.tmux"]
    h.svc._last["obs.tmux"] = (sent, at - RESEND_EVERY)   # as if 5 s had passed
    h.svc.refresh_tmux()
    wait_for(lambda: (h.drain(), len(_kinds(h, "obs.tmux")) == 2)[1], what="the resend")
    assert _kinds(h, "obs.tmux")[1] == _kinds(h, "obs.tmux")[0]
    h.world.tmux("rename-session", "-t", "=a", "b")
    h.svc.refresh_tmux()
    assert h.svc.panes is not panes and [p.session_name for p in h.svc.panes] == ["b"]
    wait_for(lambda: (h.drain(), len(_kinds(h, "obs.tmux")) == 3)[1], what="the changed listing")


def test_a_port_is_found_under_its_pane_and_fds_are_read_only_on_change(harness_factory, tmp_path):
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    portfile = tmp_path / "port"
    h.world.new_session("api", f"{sys.executable} -c \"{LISTENER}\" {portfile}")
    h.world.new_session("other")
    assert h.svc.tmux.connect()
    h.svc.refresh_tmux()
    port = int(wait_for(lambda: portfile.exists() and portfile.read_text(), what="the listener"))
    api = next(p.session_id for p in h.svc.panes if p.session_name == "api")
    wait_for(lambda: (h.svc.scan_processes(), h.svc.scan_ports(), h.drain(),
                      any(m["sessions"].get(api) == [port] for m in _kinds(h, "obs.ports")))[-1],
             what="the port under its session")
    assert all(m["sessions"].get(api) in ([], [port]) for m in _kinds(h, "obs.ports"))
    other = next(p.session_id for p in h.svc.panes if p.session_name == "other")
    assert _kinds(h, "obs.ports")[-1]["sessions"][other] == []

    reads = h.svc.port_owner_reads
    for _ in range(3):
        h.svc.scan_ports()
    assert h.svc.port_owner_reads == reads                 # nothing started or stopped listening

    h.world.tmux("kill-session", "-t", "=api")
    h.svc.refresh_tmux()
    wait_for(lambda: (h.svc.scan_processes(), h.svc.scan_ports(), h.drain(),
                      api not in _kinds(h, "obs.ports")[-1]["sessions"])[-1], what="the port gone with its session")


def test_a_quiet_pane_is_not_read_again_until_its_window_prints(harness_factory):
    """Screen checks on a tmux server: a pane whose window printed nothing since its last read
    is skipped (one list-windows instead of a capture per pane); output makes it due again."""
    import time

    from services.collector import loop as L
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    h.world.new_session("a", "sh")
    assert h.svc.tmux.connect()
    h.svc.refresh_tmux()
    pane = h.svc.panes[0].pane_id
    candidate = [{"pane": pane, "agent": "claude-code", "status": "running"}]
    wait_for(lambda: h.world.tmux("capture-pane", "-p", "-t", pane).strip(), what="the shell's prompt")
    time.sleep(1.1)                                  # the prompt's second is over
    h.svc.check_screens(candidate)
    first = h.svc.captured[pane]
    time.sleep(1.1)                                  # tmux keeps activity in whole seconds
    h.svc.captured[pane] -= L.SCREEN_EVERY           # due by time, but nothing printed since
    h.svc.check_screens(candidate)
    assert h.svc.captured[pane] == first - L.SCREEN_EVERY
    h.world.tmux("send-keys", "-t", pane, "echo hello", "Enter")
    wait_for(lambda: "hello" in h.world.tmux("capture-pane", "-p", "-t", pane), what="the output")
    h.svc.check_screens(candidate)
    assert h.svc.captured[pane] > first               # printed since: read again
    h.svc.captured[pane] -= L.SCREEN_REREAD            # and a quiet one is read after SCREEN_REREAD anyway
    time.sleep(1.1)
    before = h.svc.captured[pane]
    h.svc.check_screens(candidate)
    assert h.svc.captured[pane] > before


def _unreachable_push(h):
    """A PUSH with no peer: every NOBLOCK send raises Again, as when state's queue is full."""
    import zmq
    s = h.ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    return s


def test_a_listing_state_did_not_get_is_sent_again_not_the_one_before(harness_factory):
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    h.world.new_session("a")
    h.world.new_session("b")
    assert h.svc.tmux.connect()
    h.svc.refresh_tmux()
    wait_for(lambda: (h.drain(), _kinds(h, "obs.tmux"))[1], what="the first listing")
    h.world.new_session("c")       # (not a kill: the control client may be attached to it)
    out, h.svc.out = h.svc.out, _unreachable_push(h)
    h.svc.refresh_tmux()                               # dropped: state's queue is full
    assert h.svc.dropped == 1
    h.svc.out.close()
    h.svc.out = out
    h.svc._last["obs.tmux"] = (h.svc._last["obs.tmux"][0], 0.0)   # and a resend is due
    h.svc.refresh_tmux()
    wait_for(lambda: (h.drain(), len(_kinds(h, "obs.tmux")) >= 2)[1], what="the next listing")
    assert {p["session_name"] for p in _kinds(h, "obs.tmux")[-1]["panes"]} == {"a", "b", "c"}


def test_evidence_state_could_not_take_is_kept_and_sent_in_order(harness_factory):
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    h.world.new_session("a")
    events = [{"agent": "codex", "source": "transcript", "status": s, "thread_id": "t", "at": 1.0 + i}
              for i, s in enumerate(("running", "tool-running", "done"))]
    out, h.svc.out = h.svc.out, _unreachable_push(h)
    h.svc.push_events(events[:2])
    h.svc.push_events(events[2:])
    assert h.svc.unsent_events == events
    h.svc.out.close()
    h.svc.out = out
    h.step()
    got = wait_for(lambda: [e for m in (h.drain(), h.received)[1] if m["type"] == "obs.events" for e in m["events"]],
                   what="the kept evidence")
    assert [e["status"] for e in got] == ["running", "tool-running", "done"] and h.svc.unsent_events == []
