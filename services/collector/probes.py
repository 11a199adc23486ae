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


def process_table(roots: set[int], max_depth: int = 6) -> list[Proc]:
    """One pass over /proc for parent links, then names and argv only for the processes under
    the given roots (pane pids): the rest of the machine is never read in full."""
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
    procs = []
    for pid in wanted:
        try:
            info = psutil.Process(pid).as_dict(["name", "exe", "cmdline"])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        procs.append(Proc(pid, ppid_of[pid], info.get("name") or "", info.get("exe") or "",
                          tuple(info.get("cmdline") or ())))
    return procs


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

