"""The sidebar in real tmux panes beside a pty-attached client, with the real trio
(SCENARIOS 1, 2, 3, 18, 19, 20, and recovering from killed services)."""
import os
import signal
import subprocess

import psutil

from .conftest import wait_for
from .sidebar_helpers import (click, errors, header_style, highlighted, keys, listed, open_sidebar,
                              pane_alive, rows, screen, service_pids, wait_current, wait_highlight,
                              wait_text)
from .sidebar_helpers import sidebars  # noqa: F401  (a fixture)


def test_switch_marks_the_destination_then_the_source_again(sidebars):
    """SCENARIO 1: after `switch 4` the sidebar in s4's window marks s4; going back, s1's marks s1.
    A sidebar bound to the client with --client (in a window nobody looks at) follows the client."""
    w = sidebars
    c = w.attach("s1")
    src = open_sidebar(w, "s1")
    dst = open_sidebar(w, "s4")
    follower = open_sidebar(w, "s5", "--client", c.tty)
    wait_current(w, src, "s1")
    wait_current(w, follower, "s1")
    assert [r["index"] for r in rows(screen(w, src))] == [1, 2, 3, 4, 5]

    w.ok("switch", "4")
    assert w.client_session(c.tty) == "s4"
    wait_current(w, dst, "s4")
    wait_current(w, follower, "s4")
    wait_highlight(w, dst, "s4")

    w.ok("switch", "1")
    wait_current(w, src, "s1")
    wait_current(w, follower, "s1")
    wait_highlight(w, src, "s1")


def test_keys_and_mouse_drive_the_client(sidebars):
    """SCENARIO 2: j/k move the highlight, Enter switches, Tab/Shift-Tab next/previous, digits by
    index, a mouse click on a row switches. Keys go to the sidebar of the window the client sees."""
    w = sidebars
    c = w.attach("s1")
    panes = {s: open_sidebar(w, s) for s in ("s1", "s2", "s3", "s4", "s5")}

    def on(session):
        return panes[session]

    wait_highlight(w, on("s1"), "s1")
    keys(w, on("s1"), "j")
    wait_highlight(w, on("s1"), "s2")
    keys(w, on("s1"), "j", "j", "k")
    wait_highlight(w, on("s1"), "s3")
    keys(w, on("s1"), "Down")
    wait_highlight(w, on("s1"), "s4")
    keys(w, on("s1"), "Up")
    wait_highlight(w, on("s1"), "s3")
    assert w.client_session(c.tty) == "s1"                 # moving never switches

    keys(w, on("s1"), "Enter")
    wait_for(lambda: w.client_session(c.tty) == "s3", what="Enter to switch to s3")
    wait_current(w, on("s3"), "s3")

    keys(w, on("s3"), "Tab")
    wait_for(lambda: w.client_session(c.tty) == "s4", what="Tab to switch to the next session")
    keys(w, on("s4"), "BTab")
    wait_for(lambda: w.client_session(c.tty) == "s3", what="Shift-Tab to switch back")

    keys(w, on("s3"), "5")
    wait_for(lambda: w.client_session(c.tty) == "s5", what="5 to switch to the 5th session")
    keys(w, on("s5"), "2")
    wait_for(lambda: w.client_session(c.tty) == "s2", what="2 to switch to the 2nd session")
    keys(w, on("s2"), "9")
    wait_text(w, on("s2"), "no session 9")
    assert w.client_session(c.tty) == "s2"

    # a click on s4's row in the sidebar the client is looking at
    target = next(r for r in rows(screen(w, on("s2"))) if r["name"] == "s4")
    click(w, c, on("s2"), target["y"])
    wait_for(lambda: w.client_session(c.tty) == "s4", what="a click on s4's row to switch")
    wait_current(w, on("s4"), "s4")


def test_two_clients_each_sidebar_marks_its_own_and_shares_the_highlight_per_client(sidebars):
    """SCENARIO 3: each client's sidebar marks that client's session; a key in one client's
    sidebar moves only that client; the highlight is shared by the sidebars of one client."""
    w = sidebars
    a = w.attach("s1")
    b = w.attach("s2")
    wait_for(lambda: len(w.snapshot()["clients"]) == 2, what="two clients")
    sa = open_sidebar(w, "s1")
    sb = open_sidebar(w, "s2")
    # a second window in s1 with its own sidebar: same client, same highlight
    w.tmux("new-window", "-d", "-t", "=s1:1")
    pane2 = open_sidebar(w, "s1", window="1")
    wait_current(w, sa, "s1")
    wait_current(w, sb, "s2")
    wait_current(w, pane2, "s1")

    keys(w, sa, "j", "j")
    wait_highlight(w, sa, "s3")
    wait_highlight(w, pane2, "s3")                            # follows a's shared highlight
    wait_highlight(w, sb, "s2")                               # b's is its own
    assert highlighted(w, sb) == "s2"

    keys(w, sb, "4")
    wait_for(lambda: w.client_session(b.tty) == "s4", what="b to move")
    assert w.client_session(a.tty) == "s1"
    keys(w, sa, "Enter")
    wait_for(lambda: w.client_session(a.tty) == "s3", what="a to move")
    assert w.client_session(b.tty) == "s4"


def test_q_closes_the_sidebar_and_q_elsewhere_does_nothing(sidebars):
    """SCENARIO 18."""
    w = sidebars
    c = w.attach("s1")
    side = open_sidebar(w, "s1")
    main = w.tmux("display-message", "-p", "-t", "=s1:.0", "#{pane_id}").strip()
    keys(w, main, "q")
    keys(w, main, "q", "Enter")                                # a shell runs `q`: not found, nothing else
    w.tmux("send-keys", "-t", side, "")                        # a round trip to the server
    assert pane_alive(w, side) and listed(w, side) == ["s1", "s2", "s3", "s4", "s5"]
    assert w.client_session(c.tty) == "s1"
    before = service_pids(w)
    keys(w, side, "q")
    wait_for(lambda: not pane_alive(w, side), what="q to close the sidebar")
    assert service_pids(w) == before                            # the services are untouched
    assert w.names() == ["s1", "s2", "s3", "s4", "s5"]
    # Ctrl-C closes one too
    other = open_sidebar(w, "s2")
    keys(w, other, "C-c")
    wait_for(lambda: not pane_alive(w, other), what="Ctrl-C to close the sidebar")


def test_theme_switches_live_in_every_sidebar_and_persists(sidebars):
    """SCENARIO 19: t, j (preview in this sidebar only), Enter (every sidebar), across down/up."""
    w = sidebars
    w.attach("s1")
    one = open_sidebar(w, "s1")
    two = open_sidebar(w, "s2")
    mocha = header_style(w, one)
    assert header_style(w, two) == mocha

    keys(w, one, "t")
    wait_text(w, one, "catppuccin-latte")
    keys(w, one, "j")                                          # preview: catppuccin-latte
    wait_for(lambda: header_style(w, one) != mocha, what="live preview in this sidebar")
    assert header_style(w, two) == mocha                       # not applied yet
    keys(w, one, "Enter")
    wait_for(lambda: w.snapshot()["settings"]["theme"] == "catppuccin-latte", what="theme setting")
    wait_for(lambda: header_style(w, two) != mocha, what="the other sidebar to follow")
    latte = header_style(w, two)
    wait_for(lambda: header_style(w, one) == latte, what="both sidebars in the same theme")

    w.ok("down")
    wait_text(w, one, "reconnecting…", timeout=10)
    w.ok("up")
    wait_text(w, one, "reconnecting…", present=False, timeout=15)
    assert w.snapshot()["settings"]["theme"] == "catppuccin-latte"
    assert header_style(w, one) == latte and header_style(w, two) == latte
    # t then Esc changes nothing
    keys(w, two, "t", "j", "Escape")
    wait_for(lambda: header_style(w, two) == latte and "theme" not in screen(w, two).splitlines()[2],
             what="Esc to cancel the preview")


FAKE_CLAUDE = """#!/bin/sh
while read line; do :; done
"""


def test_detail_panel_shows_dir_branch_ports_and_agents(world):
    """SCENARIO 20 (the parts state fills today; status pill, progress and logs are unit-tested)."""
    import socket as _s
    cfg = os.path.join(world.config_home, "opensessions")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "config.toml"), "w") as f:
        f.write("[opensessions]\nports_scan = 0.5\ngit_scan = 0.5\n")
    repo = os.path.join(world.home, "src", "api")
    os.makedirs(repo)
    git = ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q", "-b", "feat/login"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], check=True)
    claude = os.path.join(world.bin, "claude")
    with open(claude, "w") as f:
        f.write(FAKE_CLAUDE)
    os.chmod(claude, 0o755)
    with _s.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    world.new_session("other")
    world.tmux("new-session", "-d", "-s", "api", "-x", "120", "-y", "40", "-c", repo)
    world.tmux("set-option", "-g", "default-terminal", "screen")    # 8 colours: the degraded palette
    world.ok("up")
    world.attach("api")
    world.tmux("send-keys", "-t", "=api:", claude, "Enter")
    world.tmux("new-window", "-d", "-t", "=api:", "-c", repo,
               f"python3 -m http.server {port} --bind 127.0.0.1")
    wait_for(lambda: any(s["name"] == "api" and s["agents"] and s["ports"] and s["branch"]
                         for s in world.snapshot()["sessions"]), timeout=10, what="agent, port and branch")
    side = open_sidebar(world, "api", width=40)
    wait_highlight(world, side, "api")
    text = screen(world, side)
    panel = text[text.index("─ api "):]
    assert "~/src/api" in panel and "feat/login" in panel and f":{port}" in panel
    assert "claude-code" in panel and "idle" in panel
    row = text.splitlines()[next(r["y"] for r in rows(text) if r["name"] == "api") + 1]
    assert "feat/login" in row and f":{port}" in row            # the row's second line
    keys(world, side, "k")                                       # the panel follows the highlight
    wait_text(world, side, "─ other ")
    assert "claude-code" not in screen(world, side)
    world.tmux("resize-pane", "-t", side, "-x", "50")             # SIGWINCH: drawn again at 50 cells
    wait_for(lambda: screen(world, side).splitlines()[1] == "─" * 50, what="the sidebar redrawn at 50 cells")
    assert "Traceback" not in errors(world)


def test_survives_killed_publisher_and_state(sidebars):
    """SCENARIO 24, sidebar side: kill -9 the publisher, then state; the sidebar says
    reconnecting…, then works again without being restarted. (Each is stopped first so the
    outage lasts long enough to be seen; supervisord restarts it after the kill.)"""
    w = sidebars
    c = w.attach("s1")
    side = open_sidebar(w, "s1")
    pid = psutil.Process(int(w.tmux("display-message", "-p", "-t", side, "#{pane_pid}"))).pid

    pub = service_pids(w)["publisher"]
    os.kill(pub, signal.SIGSTOP)
    wait_text(w, side, "reconnecting…", timeout=10)
    os.kill(pub, signal.SIGKILL)
    wait_for(lambda: service_pids(w)["publisher"] not in (None, pub), what="publisher restart")
    wait_text(w, side, "reconnecting…", present=False, timeout=10)
    w.ok("hide", "s3")
    wait_for(lambda: listed(w, side) == ["s1", "s2", "s4", "s5"], what="updates after the publisher restart")

    state = service_pids(w)["state"]
    os.kill(state, signal.SIGSTOP)
    wait_text(w, side, "reconnecting…", timeout=10)
    os.kill(state, signal.SIGKILL)
    wait_for(lambda: service_pids(w)["state"] not in (None, state), what="state restart")
    wait_text(w, side, "reconnecting…", present=False, timeout=10)
    keys(w, side, "u")                                          # a command through the sidebar
    wait_for(lambda: listed(w, side) == ["s1", "s2", "s3", "s4", "s5"], what="unhide after the state restart")
    keys(w, side, "4")
    wait_for(lambda: w.client_session(c.tty) == "s4", what="switch from the sidebar after the restart")
    assert psutil.pid_exists(pid) and pane_alive(w, side)        # the same sidebar process throughout
