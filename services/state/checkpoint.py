"""What state cannot re-observe after a restart — agent threads (status, unseen, names) and
session metadata — encoded to a file in the runtime dir and read back.

The order, hidden set and settings live in the config dir (store.py); this file lives as long as
the trio's runtime dir. A file that cannot be read is set aside; the service starts empty.
"""
from __future__ import annotations

import orjson

from services.state.metadata import Metadata
from services.state.model import Model
from services.protocol import AGENTS, STATUSES
from services.state.tracker import SOURCE_RANK, Thread

VERSION = 1
_THREAD_FIELDS = ("agent", "thread_id", "pane_id", "session_id", "pid", "thread_name", "status", "unseen",
                  "liveness", "since", "source", "status_at", "evidence_at", "name_rank", "placeholder", "dir",
                  "session_guessed", "ended", "ended_at")


_NUM = (int, float)
_OPT_STR = (str, type(None))
_TYPES = {"agent": (str,), "thread_id": (str,), "pane_id": _OPT_STR, "session_id": _OPT_STR,
          "pid": (int, type(None)), "thread_name": _OPT_STR, "status": (str,), "unseen": (bool,),
          "liveness": (str,), "since": _NUM, "source": (str,), "status_at": _NUM, "evidence_at": _NUM,
          "name_rank": (int,), "placeholder": (bool,), "dir": _OPT_STR, "session_guessed": (bool,),
          "ended": (bool,), "ended_at": _NUM}


def _valid_thread(item: dict) -> bool:
    for f, kinds in _TYPES.items():
        v = item.get(f)
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            return False
    return (item["status"] in STATUSES and item["source"] in SOURCE_RANK
            and item["liveness"] in ("alive", "exited", "unknown") and item["agent"] in AGENTS)


def encode(model: Model) -> bytes:
    threads = [{f: getattr(t, f) for f in _THREAD_FIELDS} for t in model.tracker.threads.values()
               if not t.placeholder]
    metadata = {name: m.to_dict() for name, m in model.metadata.items() if not m.empty}
    return orjson.dumps({"version": VERSION, "threads": threads, "metadata": metadata})


def restore(model: Model, data: bytes) -> int:
    """Load a checkpoint into a fresh model; returns the number of threads restored.
    Raises ValueError when the file is not a checkpoint."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise ValueError("not a checkpoint of this version")
    threads = doc.get("threads")
    metadata = doc.get("metadata")
    if not isinstance(threads, list) or not isinstance(metadata, dict):
        raise ValueError("checkpoint without threads and metadata")
    n = 0
    for item in threads:
        if not isinstance(item, dict) or not _valid_thread(item):
            continue
        t = Thread(**{f: item[f] for f in _THREAD_FIELDS})
        model.tracker.threads[model.tracker.key(t.agent, t.thread_id)] = t
        n += 1
    for name, m in metadata.items():
        if isinstance(name, str) and isinstance(m, dict):
            model.metadata[name] = Metadata.from_dict(m)
    return n
