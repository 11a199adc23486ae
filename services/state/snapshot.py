"""Build the snapshot that sidebars and `opensessions ls --json` see, from the model."""
from __future__ import annotations

from services.state.model import Model
from services.state.tracker import representative_state
from services.tmux import display_name


def build_snapshot(model: Model, now: float, socket_path: str = "") -> dict:
    by_session = model.tracker.by_session()
    attached: dict[str, int] = {}
    for c in model.clients.values():
        attached[c.session_id] = attached.get(c.session_id, 0) + 1
    sessions = []
    for index, s in enumerate(model.visible(), start=1):
        threads = by_session.get(s.id, [])
        git = model.git.get(s.dir) or {}
        sessions.append({
            "index": index,
            "name": s.name,
            "label": display_name(s.name),
            "id": s.id,
            "dir": s.dir,
            "branch": git.get("branch"),
            "dirty": bool(git.get("dirty", False)),
            "windows": s.windows,
            "panes": s.panes,
            "attached": attached.get(s.id, 0),
            "created": s.created,
            "hidden": s.name in model.hidden,
            "ports": model.ports.get(s.id, []),
            "agents": [t.to_dict() for t in threads],
            "agent_state": representative_state(threads),
            "unseen": any(t.unseen for t in threads),
            "metadata": (model.metadata[s.name].to_dict() if s.name in model.metadata
                         else {"status": None, "progress": None, "logs": []}),
        })
    live_hidden = sorted(n for n in model.hidden if any(s.name == n for s in model.sessions.values()))
    clients = [{"tty": c.tty, "session": c.session_name, "session_id": c.session_id,
                "window": c.window_id, "pane": c.pane_id,
                "highlight": model.highlights.get(c.tty, c.session_name)}
               for c in sorted(model.clients.values(), key=lambda c: c.tty)]
    return {
        "ts": now,
        "tmux": {"socket": socket_path, "connected": model.tmux_connected, "error": model.tmux_error},
        "sessions": sessions,
        "hidden": live_hidden,
        "clients": clients,
        "settings": dict(model.settings),
    }
