"""What the collector reads from the system: the process table, listening ports, git info.

Each probe is one call the loop makes on its own timer; each is bounded (timeouts, caches) and
returns plain data, so the loop never blocks for long and the core stays pure.
"""
from __future__ import annotations

import os
import subprocess

import psutil

from services.collector.identity import Proc

GIT_TIMEOUT = 2.0


_HAS_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
_identity_cache: dict[tuple[int, str], tuple[str, tuple[str, ...]]] = {}


def _children(pid: int) -> list[int]:
    """Children of a process from /proc/<pid>/task/<tid>/children (every thread can fork)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return out


def _read_proc(pid: int, ppid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().decode("utf-8", "replace").rstrip("\n")
    except OSError:
        return None
    key = (pid, comm)   # exec changes comm, so a pid that exec'd another program is read again
    cached = _identity_cache.get(key)
    if cached is None:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = tuple(a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a)
        except OSError:
            return None
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = ""
        cached = _identity_cache[key] = (exe, argv)
    return Proc(pid, ppid, comm, cached[0], cached[1])


def process_table(roots: set[int], max_depth: int = 6) -> list[Proc]:
    """The processes under the given roots (pane pids), walked down from the roots: the rest of
    the machine is never read. Names and argv are read once per (pid, comm)."""
    if not _HAS_CHILDREN_FILES:
        return _process_table_full(roots, max_depth)
    procs: list[Proc] = []
    frontier = [(r, 0) for r in roots]
    seen: set[int] = set()
    for depth in range(max_depth + 1):
        nxt = []
        for pid, ppid in frontier:
            if pid in seen:
                continue
            seen.add(pid)
            proc = _read_proc(pid, ppid)
            if proc is None:
                continue
            procs.append(proc)
            if depth < max_depth:
                nxt.extend((child, pid) for child in _children(pid))
        frontier = nxt
        if not frontier:
            break
    live = {p.pid for p in procs}
    for key in [k for k in _identity_cache if k[0] not in live]:
        del _identity_cache[key]
    return procs


def _process_table_full(roots: set[int], max_depth: int) -> list[Proc]:
    """Without children files: one pass over /proc for parent links, then the subtrees."""
    ppid_of: dict[int, int] = {}
    for p in psutil.process_iter(["ppid"]):
        ppid_of[p.pid] = p.info["ppid"] or 0
    kids: dict[int, list[int]] = {}
    for pid, ppid in ppid_of.items():
        kids.setdefault(ppid, []).append(pid)
    wanted, frontier = set(), [r for r in roots if r in ppid_of]
    for _ in range(max_depth + 1):
        wanted.update(frontier)
        frontier = [k for pid in frontier for k in kids.get(pid, []) if k not in wanted]
        if not frontier:
            break
    return [p for p in (_read_proc(pid, ppid_of[pid]) for pid in wanted) if p is not None]


def listening_ports() -> dict[int, set[int]]:
    """pid → TCP ports it listens on."""
    out: dict[int, set[int]] = {}
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return out
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.pid and c.laddr:
            out.setdefault(c.pid, set()).add(c.laddr.port)
    return out


def _read_head(git_dir: str) -> str | None:
    try:
        with open(os.path.join(git_dir, "HEAD"), "r", encoding="utf-8", errors="replace") as f:
            head = f.read(4096).strip()
    except OSError:
        return None
    if head.startswith("ref: "):
        ref = head[5:]
        return ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
    return head[:8] or None   # detached


def find_git_dir(directory: str) -> str | None:
    d = os.path.abspath(directory)
    while True:
        candidate = os.path.join(d, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):   # worktree or submodule: "gitdir: <path>"
            try:
                with open(candidate, encoding="utf-8", errors="replace") as f:
                    line = f.read(4096).strip()
                if line.startswith("gitdir: "):
                    return os.path.normpath(os.path.join(d, line[8:]))
            except OSError:
                return None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


class GitCache:
    """Branch (read from HEAD, no fork) and dirty flag (`git status`, cached per dir)."""

    def __init__(self, ttl: float = 10.0):
        self.ttl = ttl
        self._cache: dict[str, tuple[float, dict]] = {}

    def info(self, directory: str, now: float) -> dict | None:
        hit = self._cache.get(directory)
        git_dir = find_git_dir(directory) if directory else None
        if git_dir is None:
            self._cache.pop(directory, None)
            return None
        branch = _read_head(git_dir)
        if hit is not None and now - hit[0] < self.ttl:
            return {"branch": branch, "dirty": hit[1]["dirty"]}
        result = {"branch": branch, "dirty": self._dirty(directory)}
        self._cache[directory] = (now, result)
        return result

    @staticmethod
    def _dirty(directory: str) -> bool:
        try:
            proc = subprocess.run(["git", "-C", directory, "status", "--porcelain", "--untracked-files=no"],
                                  capture_output=True, timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL,
                                  env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
        except (subprocess.TimeoutExpired, OSError):
            return False
        return proc.returncode == 0 and bool(proc.stdout.strip())

    def forget_except(self, dirs: set[str]) -> None:
        for d in list(self._cache):
            if d not in dirs:
                del self._cache[d]

