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


def shape(snapshot) -> dict | None:
    if not isinstance(snapshot, dict):
        return None
    sessions = [s for s in map(_session, _dicts(snapshot.get("sessions"))) if s is not None]
    seen, unique = set(), []
    for s in sessions:   # one row per name: the highlight and clicks are by name
        if s["name"] not in seen:
            seen.add(s["name"])
            unique.append(s)
    settings = snapshot.get("settings") if isinstance(snapshot.get("settings"), dict) else {}
    tmux = snapshot.get("tmux") if isinstance(snapshot.get("tmux"), dict) else {}
    return {"sessions": unique,
            "clients": [c for c in map(_client, _dicts(snapshot.get("clients"))) if c is not None],
            "settings": {k: v for k, v in settings.items() if isinstance(v, (str, int)) and not isinstance(v, bool)},
            "tmux": {"connected": tmux.get("connected") is not False}}
