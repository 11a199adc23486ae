"""Linux inotify through ctypes (the standard library has no binding): one non-blocking fd to
poll next to the sockets, watches added and removed by path, events parsed from its reads.

Only the kernel interface lives here; which dirs to watch and what events mean is filewatch.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_HEADER = struct.Struct("iIII")      # struct inotify_event: wd, mask, cookie, len; then name[len]
READ_SIZE = 64 << 10


def parse_events(buf: bytes) -> list[tuple[int, int, bytes]]:
    """(wd, mask, name) for each whole struct inotify_event in buf; the name is NUL-padded by
    the kernel and comes back without the padding (b"" for events on the watched dir itself).
    A truncated tail (never produced by a read of the inotify fd) is ignored."""
    out = []
    offset, size = 0, len(buf)
    while offset + _HEADER.size <= size:
        wd, mask, _cookie, length = _HEADER.unpack_from(buf, offset)
        end = offset + _HEADER.size + length
        if end > size:
            break
        out.append((wd, mask, buf[offset + _HEADER.size:end].split(b"\0", 1)[0]))
        offset = end
    return out


_libc = None


def _lib():
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        for name in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
            if not hasattr(lib, name):
                raise OSError(errno.ENOSYS, f"libc has no {name}")
        lib.inotify_init1.argtypes = [ctypes.c_int]
        lib.inotify_init1.restype = ctypes.c_int
        lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        lib.inotify_add_watch.restype = ctypes.c_int
        lib.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.inotify_rm_watch.restype = ctypes.c_int
        _libc = lib
    return _libc


def _fail(what: str, path: str | None = None) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}", path)


class Inotify:
    """One inotify instance. Raises OSError when the kernel or libc has none, or the per-user
    instance limit is reached (EMFILE); add_watch raises OSError with ENOSPC at the watch limit."""

    def __init__(self) -> None:
        lib = _lib()
        fd = lib.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise _fail("inotify_init1")
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def add_watch(self, path: str, mask: int) -> int:
        wd = _lib().inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise _fail("inotify_add_watch", path)
        return wd

    def rm_watch(self, wd: int) -> None:
        if _lib().inotify_rm_watch(self.fd, wd) < 0:
            code = ctypes.get_errno()
            if code != errno.EINVAL:        # already gone with its dir: the kernel dropped it
                raise OSError(code, os.strerror(code))

    def read(self, max_reads: int = 16) -> list[tuple[int, int, bytes]]:
        """Every event queued now (at most max_reads reads, so a flood cannot hold the loop)."""
        events: list[tuple[int, int, bytes]] = []
        for _ in range(max_reads):
            try:
                buf = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                break
            if not buf:
                break
            events += parse_events(buf)
        return events

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
