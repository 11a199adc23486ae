"""What the collector reads from the system: the process table, listening ports, git info.

Each probe is one call the loop makes on its own timer; each is bounded (timeouts, caches) and
returns plain data, so the loop never blocks for long and the core stays pure.
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess

import psutil

from services.collector.identity import Proc
from services.collector.walkgate import parse_last_pid

GIT_TIMEOUT = 2.0


_HAS_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
_identity_cache: dict[tuple[int, str], Proc] = {}    # (pid, comm) → the Proc the last walk made


def read_proc_file(path: str) -> bytes:
    """A /proc file whole, by plain os.read: a Python file object costs more than the read
    itself, and the walk reads two files per process. Raises OSError like open()."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


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
            out.extend(map(int, read_proc_file(f"/proc/{pid}/task/{tid}/children").split()))
        except (OSError, ValueError):
            continue
    return out


def _read_proc(pid: int, ppid: int) -> tuple[Proc, int] | None:
    """The process and its number of threads; one read of /proc/<pid>/stat, plus argv and exe
    the first time this (pid, comm) is seen."""
    try:
        stat = parse_stat(read_proc_file(f"/proc/{pid}/stat"))
    except OSError:
        return None
    if stat is None:
        return None
    comm, _, threads = stat
    key = (pid, comm)   # exec changes comm, so a pid that exec'd another program is read again
    cached = _identity_cache.get(key)
    if cached is not None and cached.ppid == ppid:
        return cached, threads      # the same Proc as last walk: cheaper, and equal tables compare fast
    if cached is None:
        try:
            raw = read_proc_file(f"/proc/{pid}/cmdline")
            argv = tuple(a.decode("utf-8", "replace") for a in raw.split(b"\0") if a)
        except OSError:
            return None
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = ""
    else:
        exe, argv = cached.exe, cached.cmdline
    proc = _identity_cache[key] = Proc(pid, ppid, comm, exe, argv)
    return proc, threads


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
        return parse_last_pid(read_proc_file("/proc/loadavg"))
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


def below(pid: int, roots: set[int], known: dict[int, bool] | None = None, max_depth: int = 64) -> bool:
    """Whether a process descends from one of `roots` (pane pids), by its parents' stat files.
    A process that vanishes on the way, or was re-parented away, is not below them: a walk down
    from the roots would not find it either. A chain too long to follow counts as below.
    `known` remembers the answer for every pid on the chains followed (pass the same dict for
    the pids of one look: new processes mostly share their parents)."""
    known = {} if known is None else known
    chain: list[int] = []
    answer = True
    for _ in range(max_depth):
        if pid in known:
            answer = known[pid]
            break
        if pid in roots:
            answer = True
            break
        if pid <= 1:
            answer = False
            break
        chain.append(pid)
        try:
            stat = parse_stat(read_proc_file(f"/proc/{pid}/stat"))
        except OSError:
            stat = None
        if stat is None:
            answer = False
            break
        pid = stat[1]
    for p in chain:
        known[p] = answer
    return answer


TCP_LISTEN = "0A"


def parse_listening(text: bytes) -> dict[int, int]:
    """/proc/net/tcp or tcp6 → socket inode → port, for the sockets in LISTEN state."""
    out: dict[int, int] = {}
    for line in text.decode("ascii", "replace").splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != TCP_LISTEN:
            continue
        try:
            port, inode = int(parts[1].rsplit(":", 1)[1], 16), int(parts[9])
        except (IndexError, ValueError):
            continue
        if inode:
            out[inode] = port
    return out


# sock_diag (netlink): the kernel lists only the listening sockets when asked for LISTEN alone,
# where /proc/net/tcp walks every socket of the machine (~2 ms of kernel time even when idle)
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_LISTEN_STATE = 10
_NLMSG = struct.Struct("=IHHII")           # nlmsghdr: len, type, flags, seq, pid
_DIAG_PORT = struct.Struct(">H")           # inet_diag_msg.id.idiag_sport, at offset 4, big-endian
_DIAG_INODE = struct.Struct("=I")          # inet_diag_msg.idiag_inode, at offset 68


class DiagError(Exception):
    pass


def parse_diag(buf: bytes) -> tuple[dict[int, int], bool]:
    """One netlink read of a sock_diag dump → (inode → local port, whether the dump is done).
    Raises DiagError when the kernel answered with an error."""
    out: dict[int, int] = {}
    offset = 0
    while offset + _NLMSG.size <= len(buf):
        length, kind = _NLMSG.unpack_from(buf, offset)[:2]
        if length < _NLMSG.size or offset + length > len(buf):
            raise DiagError("truncated netlink message")
        body = offset + _NLMSG.size
        if kind == NLMSG_DONE:
            return out, True
        if kind == NLMSG_ERROR:
            code = struct.unpack_from("=i", buf, body)[0] if length >= _NLMSG.size + 4 else 0
            raise DiagError(f"sock_diag error {code}")
        if kind == SOCK_DIAG_BY_FAMILY and length >= _NLMSG.size + 72:
            inode = _DIAG_INODE.unpack_from(buf, body + 68)[0]
            if inode:
                out[inode] = _DIAG_PORT.unpack_from(buf, body + 4)[0]
        offset += (length + 3) & ~3
    return out, False


def _diag_listening(family: int) -> dict[int, int]:
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG) as s:
        s.settimeout(1.0)
        request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN_STATE) + bytes(48)
        s.sendto(_NLMSG.pack(_NLMSG.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
                 + request, (0, 0))
        out: dict[int, int] = {}
        while True:
            got, done = parse_diag(s.recv(1 << 16))
            out.update(got)
            if done:
                return out


_diag_works = [True]


def listening_sockets() -> dict[int, int] | None:
    """Every listening TCP socket of this network namespace (inode → port), or None when the
    kernel does not say. Cheap enough to tell, each time, whether anything started or stopped
    listening: sock_diag, else /proc/net/tcp and tcp6."""
    if _diag_works[0]:
        try:
            return {**_diag_listening(socket.AF_INET), **_diag_listening(socket.AF_INET6)}
        except (OSError, DiagError):
            _diag_works[0] = False       # no sock_diag here (old kernel, seccomp): read /proc
    return proc_net_listening()


def proc_net_listening() -> dict[int, int] | None:
    out: dict[int, int] = {}
    found = False
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, "rb") as f:
                out.update(parse_listening(f.read()))
            found = True
        except OSError:
            continue
    return out if found else None


def socket_inodes(pid: int) -> set[int]:
    """The socket inodes a process holds open (its fds that read `socket:[N]`)."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return set()
    out = set()
    for fd in fds:
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            try:
                out.add(int(target[8:-1]))
            except ValueError:
                continue
    return out


def listening_ports() -> dict[int, set[int]]:
    """pid → TCP ports it listens on, for every process of the machine (psutil reads every
    process's fds: the fallback where /proc/net/tcp is not readable)."""
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

    def __init__(self, ttl: float = 10.0, find_ttl: float = 30.0):
        self.ttl, self.find_ttl = ttl, find_ttl
        self._cache: dict[str, tuple[float, dict]] = {}
        # dir → (when looked, its git dir): looking walks up to / with two stats per level, for
        # every session's dir; a repo made (or removed) is seen within find_ttl
        self._found: dict[str, tuple[float, str | None]] = {}

    def _git_dir(self, directory: str, now: float) -> str | None:
        found = self._found.get(directory)
        if found is None or now - found[0] >= self.find_ttl:
            found = self._found[directory] = (now, find_git_dir(directory))
        return found[1]

    def info(self, directory: str, now: float) -> dict | None:
        hit = self._cache.get(directory)
        git_dir = self._git_dir(directory, now) if directory else None
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
        for cache in (self._cache, self._found):
            for d in [d for d in cache if d not in dirs]:
                del cache[d]

