"""Real parts for end-to-end tests: a private tmux server per test, clients attached on real
ptys, the real trio under a real supervisord (see bench/harness.py)."""
import pytest

from bench.harness import BIN, PtyClient, World, wait_for  # noqa: F401  (re-exported for tests)


@pytest.fixture
def world():
    w = World()
    yield w
    w.close()


@pytest.fixture
def trio(world):
    """Five sessions and the running trio."""
    for name in ("s1", "s2", "s3", "s4", "s5"):
        world.new_session(name)
    world.ok("up")
    wait_for(lambda: world.names() == ["s1", "s2", "s3", "s4", "s5"], what="five sessions listed")
    return world
