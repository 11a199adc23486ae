"""Which tmux events make the collector list panes again, against a real tmux server with a
real attached client. The safety poll is set to a minute, so a listing within the test can
only come from a notification."""
from __future__ import annotations

import time

from .collector_helpers import harness_factory, wait_for  # noqa: F401  (fixture)

LONG = 60.0


def _quiet_harness(harness_factory):
    h = harness_factory(tmux_every=LONG, procs_every=LONG, ports_every=LONG, git_every=LONG, files_every=LONG)
    for name in ("a", "b"):
        h.world.new_session(name)
    wait_for(lambda: (h.step(), h.svc.listings >= 1 and h.svc.panes)[1], what="the first listing")
    return h


def _step_until_heard(h, prefix: str, start: int) -> list[tuple[str, bool]]:
    """Run the loop until a notification starting with `prefix` was read; what was heard since `start`."""
    def heard():
        h.step()
        lines = list(h.svc.heard)[start:] if start < len(h.svc.heard) else []
        return any(line.startswith(prefix) for line, _ in lines) and lines
    return wait_for(heard, what=f"tmux to send {prefix}")


def _step_until_listed(h, listings: int, predicate, what: str) -> None:
    wait_for(lambda: (h.step(), h.svc.listings > listings and predicate())[1], what=what)


def test_a_switch_lists_nothing_but_new_clients_sessions_windows_and_panes_do(harness_factory):
    h = _quiet_harness(harness_factory)
    svc = h.svc

    client = h.world.attach("a")                    # a client nobody has listed yet: news
    n = svc.listings
    _step_until_listed(h, n, lambda: client.tty in svc._client_ttys, "the new client to be listed")

    wait_for(lambda: (h.step(), svc.due["tmux"] > time.monotonic() + LONG / 2)[1], what="the listing to settle")
    n, start = svc.listings, len(svc.heard)
    h.world.tmux("switch-client", "-c", client.tty, "-t", "=b")
    heard = _step_until_heard(h, f"%client-session-changed {client.tty} ", start)
    assert all(not news for _, news in heard), heard      # the switch, and the resize it caused
    h.step()
    assert svc.listings == n and svc.due["tmux"] > time.monotonic() + LONG / 2

    h.world.new_session("c")
    _step_until_listed(h, n, lambda: "c" in {p.session_name for p in svc.panes}, "the new session to be listed")

    n = svc.listings
    h.world.tmux("new-window", "-d", "-t", "=a:")
    _step_until_listed(h, n, lambda: len({p.window_id for p in svc.panes if p.session_name == "a"}) == 2,
                       "the new window to be listed")

    # the control client hears of splits and kills in the session it is attached to
    ours = next(line.split("\t")[1] for line in h.world.tmux("list-clients", "-F",
                                                             "#{client_control_mode}\t#{session_name}").splitlines()
                if line.startswith("1\t"))
    n = svc.listings
    pane = h.world.tmux("split-window", "-d", "-t", f"={ours}:", "-P", "-F", "#{pane_id}").strip()
    _step_until_listed(h, n, lambda: pane in {p.pane_id for p in svc.panes}, "the new pane to be listed")
    n = svc.listings
    h.world.tmux("kill-pane", "-t", pane)
    _step_until_listed(h, n, lambda: pane not in {p.pane_id for p in svc.panes}, "the killed pane to be gone")

    n = svc.listings
    client.close()
    _step_until_listed(h, n, lambda: client.tty not in svc._client_ttys, "the detached client to be gone")
