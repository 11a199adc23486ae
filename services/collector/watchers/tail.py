"""Follow a growing file by byte offset: only new bytes are read, a partial last line waits for
its end, a truncated or replaced file (new inode) starts over, a vanished one is dropped."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

READ_LIMIT = 1 << 20          # per scan per file: a huge backlog is read over several scans
FIRST_READ_TAIL = 256 << 10   # a file seen for the first time: only its end tells the state now
MAX_PARTIAL = 4 << 20         # a "line" longer than this is garbage; drop it


@dataclass
class Tail:
    path: str
    inode: int = -1
    offset: int = 0
    partial: bytes = b""
    mtime: float = 0.0
    skipped_bytes: int = 0
    lines_bad: int = 0
    fresh: bool = True            # nothing read yet: the first lines are history, not news
    extra: dict = field(default_factory=dict)


class TailError(Exception):
    pass


def read_new_lines(tail: Tail) -> list[bytes]:
    """New complete lines since the last call. Raises TailError when the path is not a readable
    regular file any more (deleted, replaced by a directory, no permission)."""
    try:
        st = os.stat(tail.path)
    except OSError as e:
        raise TailError(str(e)) from None
    if not os.path.isfile(tail.path):
        raise TailError("not a regular file")
    if st.st_ino != tail.inode or st.st_size < tail.offset:
        tail.inode, tail.partial = st.st_ino, b""
        tail.offset = max(0, st.st_size - FIRST_READ_TAIL) if tail.fresh else 0
        if tail.offset:
            tail.partial = b"\0"   # we start mid-line: the first piece is not a whole line
    tail.mtime = st.st_mtime
    if st.st_size == tail.offset:
        return []
    try:
        with open(tail.path, "rb") as f:
            f.seek(tail.offset)
            data = f.read(min(READ_LIMIT, st.st_size - tail.offset))
    except OSError as e:
        raise TailError(str(e)) from None
    tail.offset += len(data)
    chunks = (tail.partial + data).split(b"\n")
    tail.partial = chunks.pop()
    if len(tail.partial) > MAX_PARTIAL:
        tail.skipped_bytes += len(tail.partial)
        tail.partial = b""
    if chunks and chunks[0].startswith(b"\0"):
        chunks.pop(0)
    return [c for c in chunks if c.strip()]
