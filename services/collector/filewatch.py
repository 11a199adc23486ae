"""Agent files watched with inotify, so a transcript line is read within milliseconds of being
written instead of at the next poll. Polling stays as the fallback (slower while this works):
the watch limit, an overflowed queue, a dir we could not watch in time.

A tree is (root, depth): the dirs a watcher looks in for its files, to `depth` levels below
root (`~/.claude/projects` 1: project dirs; `~/.codex/sessions` 4: YYYY/MM/DD). Every dir of a
tree is watched for file changes. A root that does not exist yet is waited for: its nearest
existing ancestor is watched for new dirs only. A new dir on the way to a root or inside a
tree makes the watches be planned again, and the files already in a newly watched dir count
as changed (they may have been written before the watch existed).
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import Callable

from services import log
from services.collector.inotify import (IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_EXCL_UNLINK,
                                        IN_IGNORED, IN_ISDIR, IN_MODIFY, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO,
                                        IN_ONLYDIR, IN_Q_OVERFLOW, Inotify)

TREE_MASK = (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
             | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
ANCHOR_MASK = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
SKIP_DIRS = {"subagents"}       # as walk_files: a subagent's transcript is not a thread of its own

Trees = list[tuple[str, int]]


# -- pure ------------------------------------------------------------------------------------

def wanted_dir(path: str, trees: Trees) -> bool:
    """Whether a dir at `path` is one to watch: inside a tree within its depth, or on the way
    to a tree's root (an ancestor that may be followed by the root itself)."""
    for root, depth in trees:
        if path == root or root.startswith(path.rstrip("/") + "/"):
            return True
        if path.startswith(root.rstrip("/") + "/"):
            parts = path[len(root.rstrip("/")) + 1:].split("/")
            if len(parts) <= depth and not SKIP_DIRS.intersection(parts):
                return True
    return False


@dataclass
class Changes:
    paths: set[str] = field(default_factory=set)   # files created, written, moved or deleted
    resync: bool = False                             # the dirs to watch changed: plan the watches again
    rescan: bool = False                             # events were lost: scan everything


def interpret(events: list[tuple[int, int, bytes]], wd_paths: dict[int, str], anchors: set[str],
              trees: Trees) -> Changes:
    """What a batch of inotify events means. wd_paths: watch → its dir; anchors: dirs watched
    only for a root to appear in them."""
    out = Changes()
    for wd, mask, raw in events:
        if mask & IN_Q_OVERFLOW:
            out.rescan = out.resync = True
            continue
        d = wd_paths.get(wd)
        if d is None:
            continue                       # a watch we already removed
        if mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF):
            out.resync = True              # the dir itself went away or moved
            continue
        name = os.fsdecode(raw)
        path = os.path.join(d, name) if name else d
        if mask & IN_ISDIR:
            if mask & (IN_CREATE | IN_MOVED_TO) and wanted_dir(path, trees):
                out.resync = True
            continue                       # a dir deleted or moved away reports on its own watch
        if d not in anchors:
            out.paths.add(path)
    return out


# -- the filesystem --------------------------------------------------------------------------

def nearest_existing(path: str) -> str | None:
    d = os.path.dirname(path.rstrip("/"))
    while d and not os.path.isdir(d):
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
    return d or None


def plan(trees: Trees) -> dict[str, int]:
    """dir → watch mask, for the trees as they are on disk now."""
    want: dict[str, int] = {}
    for root, depth in trees:
        if not os.path.isdir(root):
            anchor = nearest_existing(root)
            if anchor is not None:
                want[anchor] = want.get(anchor, 0) | ANCHOR_MASK
            continue
        stack = [(root, 0)]
        while stack:
            d, level = stack.pop()
            want[d] = want.get(d, 0) | TREE_MASK
            if level >= depth:
                continue
            try:
                with os.scandir(d) as it:
                    subdirs = [e.path for e in it if e.name not in SKIP_DIRS and e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            stack.extend((s, level + 1) for s in subdirs)
    return want


def files_in(d: str) -> list[str]:
    try:
        with os.scandir(d) as it:
            return [e.path for e in it if e.is_file(follow_symlinks=False)]
    except OSError:
        return []


class FileWatch:
    """The watches for a set of trees, and the changes they reported. Raises OSError when
    inotify is not available at all (the caller polls instead)."""

    def __init__(self, trees: Callable[[], Trees]):
        self.trees_of = trees
        self.ino = Inotify()
        self.trees: Trees = []
        self.wd_path: dict[int, str] = {}
        self.path_wd: dict[str, tuple[int, int]] = {}      # dir → (watch, mask)
        self.anchors: set[str] = set()
        self.full = False          # a watch could not be added: polling must cover what it misses
        self.pending: set[str] = set()
        self.rescan = False
        self.events = 0
        self.syncs = 0

    def fileno(self) -> int:
        return self.ino.fileno()

    def sync(self) -> None:
        """Add and remove watches to match the trees on disk; the files of each dir newly
        watched (after the first sync) are changed: they may predate the watch."""
        first = self.syncs == 0
        self.syncs += 1
        self.trees = self.trees_of()
        want = plan(self.trees)
        for path in [p for p in self.path_wd if p not in want]:
            wd, _ = self.path_wd.pop(path)
            if self.wd_path.get(wd) == path:
                del self.wd_path[wd]
                try:
                    self.ino.rm_watch(wd)
                except OSError:
                    pass
        full = False
        for path, mask in want.items():
            have = self.path_wd.get(path)
            if have is not None and have[1] == mask:
                continue
            try:
                wd = self.ino.add_watch(path, mask)
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    full = True
                    break
                continue           # gone meanwhile, or not ours to read: the poll covers it
            self.wd_path[wd] = path
            self.path_wd[path] = (wd, mask)
            if not first and have is None and mask & IN_MODIFY:
                self.pending.update(files_in(path))
        if full and not self.full:
            log.warn("inotify_watch_limit", watched=len(self.path_wd),
                     hint="raise fs.inotify.max_user_watches; agent files are polled meanwhile")
        self.full = full
        self.anchors = {p for p, (_, mask) in self.path_wd.items() if not mask & IN_MODIFY}

    def read(self) -> bool:
        """Take the queued events; True when some file may have changed or a scan is due."""
        events = self.ino.read()
        if not events:
            return False
        self.events += len(events)
        changes = interpret(events, self.wd_path, self.anchors, self.trees)
        for wd, mask, _ in events:
            if mask & IN_IGNORED and wd in self.wd_path:     # the kernel dropped it with its dir
                self.path_wd.pop(self.wd_path.pop(wd), None)
        self.pending |= changes.paths
        self.rescan = self.rescan or changes.rescan
        if changes.resync:
            self.sync()
        return bool(self.pending) or self.rescan

    def take(self) -> tuple[set[str], bool]:
        """The files changed since the last take, and whether everything must be scanned."""
        paths, rescan = self.pending, self.rescan
        self.pending, self.rescan = set(), False
        return paths, rescan

    def close(self) -> None:
        self.ino.close()
