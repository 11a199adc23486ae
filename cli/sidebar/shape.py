"""The snapshot as the sidebar draws it: every field it reads, with the type it expects.

The protocol only checks that a published snapshot is an object; what is inside comes from
state but crosses a socket, so it is checked here once, when it arrives: a session without a
name, an agent that is not an object, a port that is not a number is left out, never allowed
to crash the renderer. Pure.
"""
from __future__ import annotations


def _str(value, default: str | None = "") -> str | None:
    return value if isinstance(value, str) else default


def _num(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dicts(value) -> list[dict]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _agent(a: dict) -> dict:
    return {"agent": _str(a.get("agent"), "agent"), "thread_id": _str(a.get("thread_id")),
            "thread_name": _str(a.get("thread_name")), "status": _str(a.get("status"), "idle"),
            "unseen": a.get("unseen") is True, "liveness": _str(a.get("liveness"), "unknown")}


def _metadata(m) -> dict:
    m = m if isinstance(m, dict) else {}
    status = m.get("status")
    status = ({"text": _str(status.get("text")), "tone": _str(status.get("tone"), "neutral")}
              if isinstance(status, dict) and _str(status.get("text")) else None)
    progress = m.get("progress")
    if isinstance(progress, dict):
        progress = {"current": _num(progress.get("current")), "total": _num(progress.get("total")),
                    "percent": _num(progress.get("percent")), "label": _str(progress.get("label"), None)}
    else:
        progress = None
    logs = [{"message": _str(x.get("message")), "tone": _str(x.get("tone"), "neutral"),
             "source": _str(x.get("source")), "ts": _num(x.get("ts"))}
            for x in _dicts(m.get("logs")) if _str(x.get("message"))]
    return {"status": status, "progress": progress, "logs": logs}


def _session(s: dict) -> dict | None:
    name = _str(s.get("name"), None)
    if not name:
        return None
    return {"name": name, "label": _str(s.get("label"), None) or name, "id": _str(s.get("id")),
            "dir": _str(s.get("dir")), "branch": _str(s.get("branch"), None), "dirty": s.get("dirty") is True,
            "ports": [p for p in s.get("ports") or [] if isinstance(p, int) and not isinstance(p, bool)]
            if isinstance(s.get("ports"), list) else [],
            "agents": [_agent(a) for a in _dicts(s.get("agents"))],
            "unseen": s.get("unseen") is True, "metadata": _metadata(s.get("metadata"))}


def _client(c: dict) -> dict | None:
    tty = _str(c.get("tty"), None)
    if not tty:
        return None
    return {"tty": tty, "session": _str(c.get("session"), None), "session_id": _str(c.get("session_id"), None),
            "highlight": _str(c.get("highlight"), None)}


def shape(snapshot, memo: dict | None = None) -> dict | None:
    """The snapshot as drawn. `memo` (name → (raw session, shaped session)), when given, is
    read and then refilled: a session whose raw dict equals the last one's (compared in C) is
    not shaped again. Under a stream of agent events a snapshot changes a few sessions of a
    hundred, and shaping them all was the sidebar's largest cost. Python's equality takes
    true for 1: a session that changed only that way (state never sends a bool where a
    number belongs) keeps its last shape until it changes otherwise."""
    if not isinstance(snapshot, dict):
        return None
    last = memo.copy() if memo is not None else {}
    if memo is not None:
        memo.clear()
    seen, unique = set(), []
    for raw in _dicts(snapshot.get("sessions")):
        name = raw.get("name")
        hit = last.get(name) if type(name) is str else None
        s = hit[1] if hit is not None and hit[0] == raw else _session(raw)
        if s is None or s["name"] in seen:   # one row per name: the highlight and clicks are by name
            continue
        seen.add(s["name"])
        unique.append(s)
        if memo is not None:
            memo[s["name"]] = (raw, s)
    settings = snapshot.get("settings") if isinstance(snapshot.get("settings"), dict) else {}
    tmux = snapshot.get("tmux") if isinstance(snapshot.get("tmux"), dict) else {}
    return {"sessions": unique,
            "clients": [c for c in map(_client, _dicts(snapshot.get("clients"))) if c is not None],
            "settings": {k: v for k, v in settings.items() if isinstance(v, (str, int)) and not isinstance(v, bool)},
            "tmux": {"connected": tmux.get("connected") is not False}}
