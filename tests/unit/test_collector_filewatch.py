"""services/collector/inotify.py and filewatch.py: inotify events parsed and interpreted (pure),
then FileWatch against the real kernel and real dirs in a private HOME: roots that appear
later, Codex's new date dirs, deleted dirs, and an overflowed queue."""
from __future__ import annotations

import os
import struct

import pytest

from services.collector import inotify as N
from services.collector.agent_files import AgentFiles
from services.collector.filewatch import (ANCHOR_MASK, TREE_MASK, Changes, FileWatch, interpret, plan,
                                          wanted_dir)
from services.collector.watchers.files import JsonlWatcher, SmallFiles, under


def raw_event(wd: int, mask: int, name: bytes = b"", pad: int = 16) -> bytes:
    body = name + b"\0" * ((-len(name)) % pad or (pad if name else 0)) if name else b""
    return struct.pack("iIII", wd, mask, 0, len(body)) + body


# -- parsing ----------------------------------------------------------------------------------

def test_parse_events_reads_names_without_their_padding():
    buf = raw_event(1, N.IN_CREATE, b"a.jsonl") + raw_event(2, N.IN_MODIFY, b"x" * 16) + raw_event(3, N.IN_IGNORED)
    assert N.parse_events(buf) == [(1, N.IN_CREATE, b"a.jsonl"), (2, N.IN_MODIFY, b"x" * 16), (3, N.IN_IGNORED, b"")]


@pytest.mark.parametrize("cut", range(1, 40))
def test_parse_events_ignores_a_truncated_tail(cut):
    whole = raw_event(1, N.IN_CREATE, b"a.jsonl")
    buf = whole + raw_event(2, N.IN_MODIFY, b"b.jsonl")
    assert N.parse_events(buf[:len(whole) + cut])[:1] == [(1, N.IN_CREATE, b"a.jsonl")]
    assert len(N.parse_events(buf[:len(whole) + cut])) == (2 if cut >= len(buf) - len(whole) else 1)


def test_parse_events_of_nothing():
    assert N.parse_events(b"") == [] and N.parse_events(b"\0" * 15) == []


# -- which dirs -------------------------------------------------------------------------------

TREES = [("/h/.claude/projects", 1), ("/h/.claude/sessions", 0), ("/h/.codex/sessions", 4), ("/h/.codex", 0)]


@pytest.mark.parametrize("path,expected", [
    ("/h/.claude/projects", True), ("/h/.claude/projects/-home-u-proj", True),
    ("/h/.claude/projects/-home-u-proj/deeper", False), ("/h/.claude/projects/-p/subagents", False),
    ("/h/.claude", True), ("/h", True), ("/", True),                         # on the way to a root
    ("/h/.claude/sessions", True), ("/h/.claude/sessions/sub", False), ("/h/.claude/todos", False),
    ("/h/.codex/sessions/2026/11/30", True), ("/h/.codex/sessions/2026/11/30/x", True),
    ("/h/.codex/sessions/2026/11/30/x/y", False), ("/h/.codex/log", False), ("/other", False),
    ("/h/.claude/projects-old", False), ("/h/.cla", False),
])
def test_wanted_dir(path, expected):
    assert wanted_dir(path, TREES) is expected


@pytest.mark.parametrize("path,depth,expected", [
    ("/r/a.jsonl", 0, True), ("/r/p/a.jsonl", 0, False), ("/r/p/a.jsonl", 1, True), ("/r/p/q/a.jsonl", 1, False),
    ("/r/subagents/a.jsonl", 1, False), ("/r//a.jsonl", 1, False), ("/r/../a.jsonl", 1, False),
    ("/rr/a.jsonl", 1, False), ("/a.jsonl", 1, False), ("/r", 1, False),
])
def test_under(path, depth, expected):
    assert under(path, ["/r"], depth) is expected
    assert under(path, ["/r/"], depth) is expected


def test_owners_match_their_names_and_places():
    rollouts = JsonlWatcher(lambda: ["/c/sessions"], ".jsonl", 4, lambda p: None, prefix="rollout-")
    assert rollouts.owns("/c/sessions/2026/11/30/rollout-1-abc.jsonl")
    assert not rollouts.owns("/c/sessions/2026/11/30/other.jsonl")
    assert not rollouts.owns("/c/sessions/2026/11/30/rollout-1.json")
    status = SmallFiles(lambda: ["/h/.claude/sessions"], ".json", lambda d, m, p: [])
    assert status.owns("/h/.claude/sessions/123.json") and not status.owns("/h/.claude/sessions/x/123.json")
    assert status.trees() == [("/h/.claude/sessions", 0)] and rollouts.trees() == [("/c/sessions", 4)]


# -- what events mean -------------------------------------------------------------------------

WDS = {1: "/h/.claude/projects", 2: "/h/.claude/projects/-p", 3: "/h", 4: "/h/.codex/sessions/2026/11"}
ANCHORS = {"/h"}


@pytest.mark.parametrize("events,expected", [
    ([(2, N.IN_MODIFY, b"t.jsonl")], Changes({"/h/.claude/projects/-p/t.jsonl"})),
    ([(2, N.IN_CREATE, b"t.jsonl"), (2, N.IN_MODIFY, b"t.jsonl"), (2, N.IN_CLOSE_WRITE, b"t.jsonl")],
     Changes({"/h/.claude/projects/-p/t.jsonl"})),
    ([(2, N.IN_MOVED_TO, b"t.jsonl"), (2, N.IN_DELETE, b"u.jsonl")],
     Changes({"/h/.claude/projects/-p/t.jsonl", "/h/.claude/projects/-p/u.jsonl"})),
    ([(1, N.IN_CREATE | N.IN_ISDIR, b"-new")], Changes(resync=True)),                 # a new project dir
    ([(1, N.IN_MOVED_TO | N.IN_ISDIR, b"-new")], Changes(resync=True)),
    ([(2, N.IN_CREATE | N.IN_ISDIR, b"too-deep")], Changes()),
    ([(2, N.IN_DELETE | N.IN_ISDIR, b"gone")], Changes()),                             # its own watch says so
    ([(4, N.IN_CREATE | N.IN_ISDIR, b"30")], Changes(resync=True)),                   # Codex's new day
    ([(3, N.IN_CREATE | N.IN_ISDIR, b".claude")], Changes(resync=True)),              # on the way to a root
    ([(3, N.IN_CREATE | N.IN_ISDIR, b"Downloads")], Changes()),
    ([(3, N.IN_CREATE, b".bash_history")], Changes()),                                # an anchor: dirs only
    ([(2, N.IN_IGNORED, b"")], Changes(resync=True)),
    ([(2, N.IN_DELETE_SELF, b""), (2, N.IN_IGNORED, b"")], Changes(resync=True)),
    ([(1, N.IN_MOVE_SELF, b"")], Changes(resync=True)),
    ([(9, N.IN_MODIFY, b"t.jsonl"), (9, N.IN_IGNORED, b"")], Changes()),              # a watch we removed
    ([(-1, N.IN_Q_OVERFLOW, b""), (2, N.IN_MODIFY, b"t.jsonl")],
     Changes({"/h/.claude/projects/-p/t.jsonl"}, resync=True, rescan=True)),
    ([(2, N.IN_MODIFY, "é.jsonl".encode())], Changes({"/h/.claude/projects/-p/é.jsonl"})),
    ([], Changes()),
])
def test_interpret(events, expected):
    trees = [("/h/.claude/projects", 1), ("/h/.codex/sessions", 4)]
    assert interpret(events, WDS, ANCHORS, trees) == expected


# -- the real thing: a private HOME --------------------------------------------------------------

@pytest.fixture
def watch(home):
    w = FileWatch(AgentFiles().watch_trees)
    w.sync()
    yield w
    w.close()


def settle(w: FileWatch) -> tuple[set[str], bool]:
    """Read until the kernel has nothing more queued, then take what was found."""
    while w.read():
        pass
    return w.take()


def write(path, text="{}\n", mode="a"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def test_an_empty_home_is_watched_for_the_roots_to_appear(home, watch):
    assert set(watch.path_wd) == {str(home)} and watch.anchors == {str(home)}
    write(home / "notes.txt")
    assert settle(watch) == (set(), False)                  # a file in an anchor is not news


def test_a_root_made_later_is_watched_and_its_first_file_is_changed(home, watch):
    transcript = home / ".claude" / "projects" / "-home-u-p" / "t1.jsonl"
    write(transcript)                                      # mkdir -p and write before we even look
    paths, rescan = settle(watch)
    assert str(transcript) in paths and not rescan
    assert {str(home / ".claude" / "projects"), str(transcript.parent)} <= set(watch.path_wd)
    write(transcript)
    assert settle(watch) == ({str(transcript)}, False)


def test_codex_date_dirs_made_later_are_watched(home, watch):
    os.makedirs(home / ".codex" / "sessions")
    settle(watch)
    rollout = home / ".codex" / "sessions" / "2026" / "11" / "30" / "rollout-2026-11-30T10-00-00-x.jsonl"
    write(rollout)
    assert str(rollout) in settle(watch)[0]
    index = home / ".codex" / "session_index.jsonl"
    write(index)
    assert settle(watch)[0] == {str(index)}
    write(rollout)
    assert settle(watch)[0] == {str(rollout)}


def test_a_deleted_dir_is_unwatched_and_watched_again_when_it_comes_back(home, watch):
    project = home / ".claude" / "projects" / "-p"
    write(project / "a.jsonl")
    settle(watch)
    assert str(project) in watch.path_wd
    (project / "a.jsonl").unlink()
    project.rmdir()
    settle(watch)
    assert str(project) not in watch.path_wd and str(project.parent) in watch.path_wd
    write(project / "b.jsonl")
    assert str(project / "b.jsonl") in settle(watch)[0]
    assert str(project) in watch.path_wd


def test_a_root_deleted_whole_falls_back_to_its_anchor(home, watch):
    write(home / ".claude" / "sessions" / "1.json")
    settle(watch)
    import shutil
    shutil.rmtree(home / ".claude")
    settle(watch)
    assert set(watch.path_wd) == {str(home)} and watch.anchors == {str(home)}


def test_plan_watches_every_dir_of_a_tree_to_its_depth(home):
    for d in ("a/b/c", "a/subagents", "x"):
        os.makedirs(home / "root" / d)
    want = plan([(str(home / "root"), 2), (str(home / "missing" / "deeper"), 1)])
    assert want == {str(home / "root"): TREE_MASK, str(home / "root" / "a"): TREE_MASK,
                    str(home / "root" / "x"): TREE_MASK, str(home / "root" / "a" / "b"): TREE_MASK,
                    str(home): ANCHOR_MASK}


def test_an_overflowed_queue_asks_for_a_full_scan(home, watch):
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        limit = int(f.read())
    if limit > 200000:
        pytest.skip("the queue is too long to overflow quickly here")
    project = home / ".claude" / "projects" / "-p"
    os.makedirs(project)
    settle(watch)
    a, b = open(project / "a.jsonl", "ab", buffering=0), open(project / "b.jsonl", "ab", buffering=0)
    try:
        for _ in range(limit // 2 + 10):       # alternating: identical events in a row are merged
            a.write(b"x")
            b.write(b"x")
    finally:
        a.close()
        b.close()
    paths, rescan = settle(watch)
    assert rescan
