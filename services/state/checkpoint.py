"""What state cannot re-observe after a restart — agent threads (status, unseen, names) and
session metadata — encoded to a file in the runtime dir and read back.

The order, hidden set and settings live in the config dir (store.py); this file lives as long as
the trio's runtime dir. A file that cannot be read is set aside; the service starts empty.
"""
from __future__ import annotations

import orjson

from services.state.metadata import Metadata
from services.state.model import Model
from services.state.tracker import Thread

VERSION = 1
_THREAD_FIELDS = ("agent", "thread_id", "pane_id", "session_id", "pid", "thread_name", "status", "unseen",
                  "liveness", "since", "source", "status_at", "evidence_at", "name_rank", "placeholder", "dir",
                  "session_guessed")


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
        if not isinstance(item, dict) or not all(f in item for f in _THREAD_FIELDS):
            continue
        try:
            t = Thread(**{f: item[f] for f in _THREAD_FIELDS})
        except TypeError:
            continue
        if not isinstance(t.agent, str) or not isinstance(t.thread_id, str):
            continue
        model.tracker.threads[model.tracker.key(t.agent, t.thread_id)] = t
        n += 1
    for name, m in metadata.items():
        if isinstance(name, str) and isinstance(m, dict):
            model.metadata[name] = Metadata.from_dict(m)
    return n
