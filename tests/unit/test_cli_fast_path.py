"""`switch` and `hook` skip argparse; whatever the fast path takes, it must read exactly as
argparse does, and whatever it is unsure of, it must leave to argparse."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from cli.main import UsageError, build_parser, fast_args

WORDS = ["switch", "hook", "ls", "--client", "-L", "-S", "claude-code", "codex", "gemini", "amp", "1", "next",
         "=a b", "-1", "--help", "-h", "/dev/pts/3", "{\"type\":\"x\"}", "", "--", "--client=/dev/pts/1", "-Lx"]


def _argparse(argv):
    try:
        return vars(build_parser().parse_args(argv))
    except (UsageError, SystemExit):
        return None


@pytest.mark.parametrize("argv,expected", [
    (["switch", "3"], {"command": "switch", "target": "3", "client": None}),
    (["switch", "=my session"], {"command": "switch", "target": "=my session", "client": None}),
    (["switch", "next", "--client", "/dev/pts/4"], {"command": "switch", "target": "next", "client": "/dev/pts/4"}),
    (["switch", "--client", "/dev/pts/4", "prev"], {"command": "switch", "target": "prev", "client": "/dev/pts/4"}),
    (["-L", "work", "switch", "2"], {"command": "switch", "target": "2", "socket_name": "work"}),
    (["-S", "/tmp/t s", "switch", "2"], {"command": "switch", "target": "2", "socket_path": "/tmp/t s"}),
    (["hook", "claude-code"], {"command": "hook", "agent": "claude-code", "payload": None}),
    (["hook", "codex", "{\"type\": \"agent-turn-complete\"}"], {"command": "hook", "agent": "codex",
                                                                  "payload": "{\"type\": \"agent-turn-complete\"}"}),
])
def test_the_fast_path_takes_the_hot_commands(argv, expected):
    fast = fast_args(argv)
    assert fast is not None
    assert {k: getattr(fast, k) for k in expected} == expected
    assert vars(fast) == _argparse(argv)


@pytest.mark.parametrize("argv", [
    [], ["switch"], ["switch", "1", "2"], ["switch", "-1"], ["switch", "--help"], ["switch", "1", "--client"],
    ["switch", "--client=/dev/pts/1", "1"], ["hook"], ["hook", "amp"], ["hook", "codex", "a", "b"],
    ["-L", "x", "hook", "codex"], ["ls"], ["-Lx", "switch", "1"], ["switch", "--", "1"],
    ["switch", "--client", "--client", "x"],
])
def test_anything_unusual_is_left_to_argparse(argv):
    assert fast_args(argv) is None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=6))
def test_the_fast_path_never_disagrees_with_argparse(argv):
    fast = fast_args(argv)
    if fast is not None:
        assert vars(fast) == _argparse(argv)
