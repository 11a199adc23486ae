"""opensessions inside the user's tmux (SCENARIOS 1, 15, 16, 17, 18, 27): the real plugin file
sourced into a private server, keys typed on a real client's pty, sidebars as real panes."""
import os
import subprocess
import time

import pytest

from .conftest import wait_for

PLUGIN = os.path.join(os.path.dirname(__file__), "..", "..", "opensessions.tmux")
SIDEBAR = "opensessions-sidebar"


def panes(world, target=None):
    args = ["list-panes", "-F", "#{pane_id}\t#{pane_width}\t#{pane_title}\t#{window_id}"]
    args += ["-t", target] if target else ["-a"]
    out = []
    for line in world.tmux(*args).splitlines():
        pid, width, title, window = line.split("\t")
        out.append({"id": pid, "width": int(width), "title": title, "window": window})
    return out


def sidebars(world, target=None):
    return [p for p in panes(world, target) if p["title"] == SIDEBAR]


def press(client, keys: bytes):
    """Keys as a person types them: tmux switches key tables between keys, not within a read."""
    for k in keys:
        client.write(bytes([k]))
        time.sleep(0.05)


def source_plugin(world):
    """What TPM does: run the plugin file inside the server (PATH finds our opensessions)."""
    env = {**world.env, "TMUX": f"{world.socket},0,0"}
    proc = subprocess.run(["bash", os.path.abspath(PLUGIN)], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def plugged(world):
    for name in ("s1", "s2", "s3", "s4", "s5"):
        world.new_session(name)
    source_plugin(world)
    wait_for(lambda: world.names() == ["s1", "s2", "s3", "s4", "s5"], what="sessions")
    return world


def test_prefix_o_n_switches_and_sidebars_follow(plugged):
    w = plugged
    c = w.attach("s1")
    wait_for(lambda: len(sidebars(w, "=s1:")) == 1, timeout=8, what="a sidebar in the client's window")
    [sb] = sidebars(w, "=s1:")
    assert sb["width"] == 32
    user_pane = [p for p in panes(w, "=s1:") if p["title"] != SIDEBAR][0]["id"]
    active = w.tmux("display-message", "-p", "-t", "=s1:", "#{pane_id}").strip()
    assert active == user_pane                               # focus stayed with the user's pane

    press(c, b"\x02o4")                                       # prefix o 4: a native binding
    wait_for(lambda: w.client_session(c.tty) == "s4", timeout=3, what="client on s4")
    wait_for(lambda: len(sidebars(w, "=s4:")) == 1, timeout=8, what="sidebar in the visited window")
    wait_for(lambda: "s4" in w.tmux("capture-pane", "-p", "-t", sidebars(w, "=s4:")[0]["id"]),
             what="the sidebar drawn")

    w.ok("reorder", "s4", "up")                              # index keys follow the order
    time.sleep(0.3)
    press(c, b"\x02o3")
    wait_for(lambda: w.client_session(c.tty) == "s4", timeout=3, what="s4 is now third")
    press(c, b"\x02o1")
    wait_for(lambda: w.client_session(c.tty) == "s1", timeout=3, what="back on s1")
    assert len(sidebars(w, "=s1:")) == 1                     # never two in one window


def test_toggle_off_stays_off_and_on_again(plugged):
    w = plugged
    c = w.attach("s1")
    wait_for(lambda: len(sidebars(w, "=s1:")) == 1, timeout=8, what="sidebar on")
    press(c, b"\x02ot")                                       # prefix o t: toggle off
    wait_for(lambda: sidebars(w) == [], timeout=5, what="every sidebar gone")
    press(c, b"\x02o2")
    wait_for(lambda: w.client_session(c.tty) == "s2", timeout=3, what="switched")
    w.tmux("new-window", "-t", "=s2:")
    time.sleep(1.0)
    assert sidebars(w) == []                                 # off stays off across switches
    press(c, b"\x02ot")
    wait_for(lambda: len(sidebars(w, "=s2:")) == 1, timeout=8, what="on again in the current window")


def test_width_is_repaired_at_once_after_every_layout_change(plugged):
    w = plugged
    w.attach("s1")
    wait_for(lambda: len(sidebars(w, "=s1:")) == 1, timeout=8, what="sidebar")
    sb = sidebars(w, "=s1:")[0]["id"]
    user = [p for p in panes(w, "=s1:") if p["title"] != SIDEBAR][0]["id"]
    checks = [["split-window", "-h", "-t", user, "-d"], ["resize-pane", "-t", sb, "-x", "50"],
              ["select-layout", "-t", "=s1:", "even-horizontal"], ["resize-pane", "-t", user, "-L", "10"],
              ["split-window", "-v", "-t", user, "-d"]]
    for argv in checks:
        # the very next tmux command sees the width repaired: no waiting, no polling
        w.tmux(*argv)
        assert w.tmux("display-message", "-p", "-t", sb, "#{pane_width}").strip() == "32", argv
    extra = [p["id"] for p in panes(w, "=s1:") if p["title"] != SIDEBAR]
    w.tmux("kill-pane", "-t", extra[-1])
    assert w.tmux("display-message", "-p", "-t", sb, "#{pane_width}").strip() == "32"
    w.tmux("resize-window", "-t", "=s1:", "-x", "100")      # the terminal shrinks
    assert w.tmux("display-message", "-p", "-t", sb, "#{pane_width}").strip() == "32"


def test_lonely_sidebar_closes_and_moves_the_client_first(plugged):
    w = plugged
    c = w.attach("s3")
    wait_for(lambda: len(sidebars(w, "=s3:")) == 1, timeout=8, what="sidebar")
    user = [p for p in panes(w, "=s3:") if p["title"] != SIDEBAR][0]["id"]
    w.tmux("kill-pane", "-t", user)                          # the last user pane of s3 goes
    wait_for(lambda: "s3" not in w.session_names(), timeout=5, what="the lonely window closed")
    assert w.client_session(c.tty) == "s4"                   # moved to the neighbour, not detached
    assert c.proc.poll() is None
    msgs = w.tmux("show-messages")
    assert "opensessions" not in msgs.lower() or "error" not in msgs.lower()


def test_q_closes_sidebars_and_uninstall_leaves_nothing(plugged):
    w = plugged
    c = w.attach("s1")
    wait_for(lambda: len(sidebars(w, "=s1:")) == 1, timeout=8, what="sidebar")
    user = [p for p in panes(w, "=s1:") if p["title"] != SIDEBAR][0]["id"]
    w.tmux("send-keys", "-t", user, "q")                     # q in a normal pane: nothing happens
    time.sleep(0.5)
    assert len(sidebars(w, "=s1:")) == 1
    w.tmux("send-keys", "-t", sidebars(w, "=s1:")[0]["id"], "q")
    wait_for(lambda: sidebars(w) == [], timeout=5, what="sidebars closed by q")
    press(c, b"\x02o2")
    wait_for(lambda: w.client_session(c.tty) == "s2", timeout=3, what="switched")
    time.sleep(0.8)
    assert sidebars(w) == []                                 # and they stay closed

    w.ok("sidebars", "on")
    wait_for(lambda: len(sidebars(w)) >= 1, timeout=8, what="on again")
    out = w.ok("tmux", "uninstall")
    assert "prefix o" in out and "sidebar pane" in out
    assert sidebars(w) == []
    assert "opensessions" not in w.tmux("list-keys", "-N")
    assert "-T opensessions" not in w.tmux("list-keys")
    assert "5351" not in w.tmux("show-hooks", "-g")
    assert "@opensessions" not in w.tmux("show-options", "-g")
    assert "select-pane" in w.tmux("list-keys", "-T", "prefix", "o")   # tmux's own binding is back
    assert w.cli("status").returncode == 3
    assert "nothing was left to remove" in w.ok("tmux", "uninstall")


def test_uninstall_keeps_the_users_own_settings(world):
    world.new_session("s1")
    world.tmux("set-option", "-g", "@opensessions-width", "40")
    world.tmux("set-option", "-g", "@opensessions-sidebars", "off")
    source_plugin(world)
    assert "@opensessions-installed" in world.tmux("show-options", "-g")
    world.ok("tmux", "uninstall")
    options = world.tmux("show-options", "-g")
    assert "@opensessions-installed" not in options and "@opensessions-saved-prefix" not in options
    assert "@opensessions-width 40" in options and "@opensessions-sidebars off" in options
