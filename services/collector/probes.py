"""What the collector reads from the system: the process table, listening ports, git info.

Each probe is one call the loop makes on its own timer; each is bounded (timeouts, caches) and
returns plain data, so the loop never blocks for long and the core stays pure.
"""
from __future__ import annotations

import os
import subprocess

import psutil

from services.collector.identity import Proc
from services.collector.walkgate import parse_last_pid

GIT_TIMEOUT = 2.0


_HAS_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
_identity_cache: dict[tuple[int, str], tuple[str, tuple[str, ...]]] = {}


def parse_stat(data: bytes) -> tuple[str, int, int] | None:
    """/proc/<pid>/stat → (comm, ppid, number of threads), or None. comm sits in parentheses
    and may itself hold spaces and parentheses: it ends at the last ')'."""
    left, right = data.find(b"("), data.rfind(b")")
    if left < 0 or right < left:
        return None
    rest = data[right + 2:].split()
    try:
        ppid, threads = int(rest[1]), int(rest[17])
    except (IndexError, ValueError):
        return None
    return data[left + 1:right].decode("utf-8", "replace"), ppid, threads


def _children(pid: int, threads: int) -> list[int]:
    """Children of a process from /proc/<pid>/task/<tid>/children (every thread can fork). A
    single-threaded process has one task, its own pid: no need to list the task dir."""
    if threads == 1:
        tasks = [pid]
    else:
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


def _read_proc(pid: int, ppid: int) -> tuple[Proc, int] | None:
    """The process and its number of threads; one read of /proc/<pid>/stat, plus argv and exe
    the first time this (pid, comm) is seen."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = parse_stat(f.read())
    except OSError:
        return None
    if stat is None:
        return None
    comm, _, threads = stat
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
    return Proc(pid, ppid, comm, cached[0], cached[1]), threads


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
            got = _read_proc(pid, ppid)
            if got is None:
                continue
            procs.append(got[0])
            if depth < max_depth:
                nxt.extend((child, pid) for child in _children(pid, got[1]))
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
    return [got[0] for got in (_read_proc(pid, ppid_of[pid]) for pid in wanted) if got is not None]


def last_pid() -> int | None:
    """The last pid allocated in this pid namespace, or None where /proc/loadavg says nothing."""
    try:
        with open("/proc/loadavg", "rb") as f:
            return parse_last_pid(f.read())
    except OSError:
        return None


_pid_max: list[int | None] = []


def pid_max() -> int | None:
    if not _pid_max:
        try:
            with open("/proc/sys/kernel/pid_max", "rb") as f:
                _pid_max.append(int(f.read()))
        except (OSError, ValueError):
            _pid_max.append(None)
    return _pid_max[0]


def alive(pid: int) -> bool:
    """Whether a process (or thread) with this pid exists; signal 0 checks without sending."""
    if pid <= 0:
        return False     # 0 and negatives name process groups, never one process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True      # someone else's process: it exists
    except OSError:
        return False
    return True


def below(pid: int, roots: set[int], max_depth: int = 64) -> bool:
    """Whether a process descends from one of `roots` (pane pids), by its parents' stat files.
    A process that vanishes on the way, or was re-parented away, is not below them: a walk down
    from the roots would not find it either. A chain too long to follow counts as below."""
    for _ in range(max_depth):
        if pid in roots:
            return True
        if pid <= 1:
            return False
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = parse_stat(f.read())
        except OSError:
            return False
        if stat is None:
            return False
        pid = stat[1]
    return True


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

