"""Watch agents' JSONL transcripts and small status files incrementally.

A transcript found for the first time is history: of its lines only the last state and the best
name are reported. After that every new line is news. Files untouched for longer than `recent`
are not followed (an old thread is not resurrected), and a file that stops being readable is
dropped and counted.
"""
from __future__ import annotations

import os
import stat
from typing import Callable, Iterator

import orjson

from services.collector.watchers.tail import Tail, TailError, read_new_lines

MAX_FILES = 500
SKIP_DIRS = ("subagents",)     # a subagent's transcript is not a thread of its own


def under(path: str, roots: list[str], max_depth: int) -> bool:
    """Whether walk_files(root, …, max_depth) would reach a file at `path` for one of roots."""
    for root in roots:
        root = root.rstrip("/")
        if path.startswith(root + "/"):
            dirs = path[len(root) + 1:].split("/")[:-1]
            if len(dirs) <= max_depth and not any(d in SKIP_DIRS or d in ("", ".", "..") for d in dirs):
                return True
    return False


def walk_files(root: str, suffix: str, max_depth: int, prefix: str = "") -> Iterator[os.DirEntry]:
    """Files under root (to max_depth levels) ending in suffix; unreadable dirs are skipped."""
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if depth < max_depth and e.name not in SKIP_DIRS:
                        stack.append((e.path, depth + 1))
                elif e.name.endswith(suffix) and e.name.startswith(prefix) and e.is_file(follow_symlinks=False):
                    yield e
            except OSError:
                continue


def compress_history(events: list[dict]) -> list[dict]:
    """The state a file's history ends in: its last status and its best name, per thread."""
    by_thread: dict[str, dict] = {}
    for ev in events:
        tid = ev.get("thread_id")
        cur = by_thread.setdefault(tid, {k: v for k, v in ev.items() if k not in ("status", "thread_name", "name_rank")})
        cur.update({k: v for k, v in ev.items() if k in ("dir", "at", "thread_id")})
        if ev.get("status") is not None:
            cur["status"] = ev["status"]
        name, rank = ev.get("thread_name"), ev.get("name_rank", 1)
        if name:   # the highest rank wins; a later title replaces a title, the first prompt stays
            held = cur.get("name_rank", 0)
            if rank > held or (rank == held and rank >= 2):
                cur["thread_name"], cur["name_rank"] = name, rank
    return list(by_thread.values())


class JsonlWatcher:
    """One agent's transcripts: discover recent files under roots, follow each by offset, and
    turn lines into evidence with a per-file parser state (`make_state(path)` with `.feed`)."""

    def __init__(self, roots: Callable[[], list[str]], suffix: str, max_depth: int,
                 make_state: Callable[[str], object], recent: float = 1800.0, rescan_every: float = 10.0,
                 prefix: str = ""):
        self.roots, self.suffix, self.max_depth, self.prefix = roots, suffix, max_depth, prefix
        self.make_state = make_state
        self.recent, self.rescan_every = recent, rescan_every
        self.tails: dict[str, Tail] = {}
        self.states: dict[str, object] = {}
        self._next_rescan = 0.0
        self.bad_lines = 0
        self.dropped_files = 0
        self.lines = 0

    def discover(self, wall_now: float) -> None:
        found: dict[str, float] = {}
        for root in self.roots():
            for e in walk_files(root, self.suffix, self.max_depth, self.prefix):
                try:
                    mtime = e.stat(follow_symlinks=False).st_mtime
                except OSError:
                    continue
                if wall_now - mtime <= self.recent:
                    found[e.path] = mtime
        newest = sorted(found, key=found.get, reverse=True)[:MAX_FILES]
        for path in newest:
            if path not in self.tails:
                self.tails[path] = Tail(path)
                self.states[path] = self.make_state(path)
        for path in list(self.tails):
            if path not in found and wall_now - self.tails[path].mtime > self.recent:
                self._drop(path)

    def follow(self, path: str) -> None:
        """A file we know is live (an agent holds it open, or its status file names it): follow it
        now instead of waiting for the next discovery walk."""
        if path not in self.tails and os.path.isfile(path):
            self.tails[path] = Tail(path)
            self.states[path] = self.make_state(path)

    def _drop(self, path: str) -> None:
        self.tails.pop(path, None)
        self.states.pop(path, None)

    def trees(self) -> list[tuple[str, int]]:
        """Where this watcher's files appear, for filewatch: (root, depth)."""
        return [(root, self.max_depth) for root in self.roots()]

    def owns(self, path: str, roots: list[str] | None = None) -> bool:
        name = os.path.basename(path)
        return name.endswith(self.suffix) and name.startswith(self.prefix) and \
            under(path, self.roots() if roots is None else roots, self.max_depth)

    def scan(self, mono_now: float, wall_now: float) -> list[dict]:
        if mono_now >= self._next_rescan:
            self._next_rescan = mono_now + self.rescan_every
            self.discover(wall_now)
        out: list[dict] = []
        for path, tail in list(self.tails.items()):
            out.extend(self._read(path, tail))
        return out

    def scan_paths(self, paths: set[str], mono_now: float, wall_now: float) -> list[dict]:
        """Read only these files (told changed by inotify): the ones followed, and new ones of
        ours recent enough to follow. The others wait for scan()."""
        roots = self.roots()
        out: list[dict] = []
        for path in paths:
            tail = self.tails.get(path)
            if tail is None:
                if not self.owns(path, roots):
                    continue
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or wall_now - st.st_mtime > self.recent:
                    continue
                tail = self.tails[path] = Tail(path)
                self.states[path] = self.make_state(path)
            out.extend(self._read(path, tail))
        return out

    def _read(self, path: str, tail: Tail) -> list[dict]:
        """The evidence in a followed file's new lines (its history compressed, if it is new)."""
        try:
            lines = read_new_lines(tail)
        except TailError:
            self.dropped_files += 1
            self._drop(path)
            return []
        if not lines:
            tail.fresh = False
            return []
        state = self.states[path]
        events = []
        for raw in lines:
            self.lines += 1
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self.bad_lines += 1
                tail.lines_bad += 1
                continue
            try:
                ev = state.feed(obj, tail.mtime)
            except Exception:   # a parser bug on one odd line must not stop the others
                self.bad_lines += 1
                continue
            if ev is not None:
                ev["_path"] = path
                events.append(ev)
        out = compress_history(events) if tail.fresh else events
        tail.fresh = False
        return out

    def stats(self) -> dict:
        return {"files": len(self.tails), "lines": self.lines, "bad_lines": self.bad_lines,
                "dropped_files": self.dropped_files}


class SmallFiles:
    """Small JSON files rewritten whole (status files, Amp threads): reread when mtime changes."""

    def __init__(self, roots: Callable[[], list[str]], suffix: str, parse: Callable[[object, float, str], list[dict]],
                 prefix: str = "", recent: float = 1800.0, max_bytes: int = 8 << 20):
        self.roots, self.suffix, self.prefix, self.parse = roots, suffix, prefix, parse
        self.recent, self.max_bytes = recent, max_bytes
        self.seen: dict[str, tuple] = {}   # path → (mtime_ns, inode, size): a same-mtime rewrite still counts
        self.bad_files = 0

    def trees(self) -> list[tuple[str, int]]:
        return [(root, 0) for root in self.roots()]

    def owns(self, path: str, roots: list[str] | None = None) -> bool:
        name = os.path.basename(path)
        return name.endswith(self.suffix) and name.startswith(self.prefix) and \
            under(path, self.roots() if roots is None else roots, 0)

    def scan(self, wall_now: float) -> list[dict]:
        out: list[dict] = []
        present = set()
        for root in self.roots():
            for e in walk_files(root, self.suffix, 0, self.prefix):
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                present.add(e.path)
                self._check(e.path, st, wall_now, out)
        for path in list(self.seen):
            if path not in present:
                del self.seen[path]
        return out

    def scan_paths(self, paths: set[str], wall_now: float) -> list[dict]:
        """Read only these files (told changed by inotify), if they are ours."""
        roots = self.roots()
        out: list[dict] = []
        for path in paths:
            if not self.owns(path, roots):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                self.seen.pop(path, None)        # removed: a new file there is news
                continue
            if not stat.S_ISREG(st.st_mode):
                self.seen.pop(path, None)
                continue
            self._check(path, st, wall_now, out)
        return out

    def _check(self, path: str, st: os.stat_result, wall_now: float, out: list[dict]) -> None:
        key = (st.st_mtime_ns, st.st_ino, st.st_size)
        if self.seen.get(path) == key or wall_now - st.st_mtime > self.recent:
            return
        if st.st_size > self.max_bytes:
            self.bad_files += 1
            self.seen[path] = key
            return
        try:
            with open(path, "rb") as f:
                doc = orjson.loads(f.read())
        except (OSError, orjson.JSONDecodeError):
            self.bad_files += 1   # half-written or garbage: try again when it changes
            self.seen[path] = key
            return
        self.seen[path] = key
        try:
            out.extend(self.parse(doc, st.st_mtime, path))
        except Exception:
            self.bad_files += 1
