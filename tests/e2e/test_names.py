"""Sessions with awkward names can be listed, switched to, reordered, hidden and killed (SCENARIO 5)."""
import pytest

from .conftest import wait_for

# what the user types → what tmux stores (tmux turns . and : into _ and escapes $ and \)
NAMES = {"my app": "my app", "a.b:c": "a_b_c", "-x": "-x", "$HOME": "\\$HOME", "日本語": "日本語",
         "it's": "it's", 'say "hi"': 'say "hi"', "semi;colon": "semi;colon", "#hash": "#hash"}


@pytest.fixture
def named(world):
    world.new_session("first")
    for typed in NAMES:
        world.tmux("new-session", "-d", "-s", typed.replace("#", "##"), "-c", world.home)
    world.ok("up")
    wait_for(lambda: len(world.names()) == len(NAMES) + 1, what="all sessions listed")
    return world


def test_listed_switched_reordered_hidden_killed(named):
    w = named
    assert w.names()[1:] == list(NAMES.values())
    c = w.attach("first")
    for typed, stored in NAMES.items():
        w.ok("switch", "--", typed)
        assert w.client_session(c.tty) == stored, typed
        w.ok("switch", "--", stored)                      # the name as tmux shows it works too
        assert w.client_session(c.tty) == stored
    w.ok("switch", "first")

    w.ok("reorder", "日本語", "up")
    names = w.names()
    assert names.index("日本語") < names.index("\\$HOME")
    w.ok("reorder", "--", "-x", "up")
    assert w.names()[2] == "-x"
    w.ok("reorder", "--", "-x", "up")
    assert w.names()[1] == "-x"

    for typed, stored in NAMES.items():
        w.ok("hide", "--", typed)
        assert stored not in w.names()
    assert w.names() == ["first"]
    w.ok("unhide", "--all")
    assert len(w.names()) == len(NAMES) + 1

    for typed, stored in NAMES.items():
        w.ok("kill", "--", typed)
        assert stored not in w.session_names(), typed
    assert w.names() == ["first"]
