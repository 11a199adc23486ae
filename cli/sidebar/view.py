"""The sidebar's view state and what each key does to it. Pure: no curses, no sockets, no clock.

`handle(view, event, ctx)` and `on_snapshot(view, …)` return (new view, commands). A command is
(type, fields): a state command to encode with services.protocol, or one of LOCAL, which the
app performs itself. Sessions are always named to state as `=NAME`: exact, even for a name that
is all digits or starts with `-`.
"""
from __future__ import annotations

from services.settings import FILTERS, THEMES, WIDTH_MAX, WIDTH_MIN

QUIT, CLOSE_SIDEBARS, RESYNC = "quit", "close_sidebars", "resync"
LOCAL = frozenset({QUIT, CLOSE_SIDEBARS, RESYNC})

LIST, HELP, THEME, WIDTH, CONFIRM, NEW = "list", "help", "theme", "width", "confirm", "new"

PENDING_HIGHLIGHT = 1.5     # s: a moved highlight wins over snapshots until state confirms it
MESSAGE_FOR = 3.0           # s a footer message stays
NAME_INPUT_MAX = 100


class View:
    __slots__ = ("highlight", "hl_index", "pending_hl", "pending_until", "scroll", "free_scroll",
                 "mode", "theme_cursor", "width_value", "text", "target", "message", "tone",
                 "message_until", "tick", "client", "current", "pane", "link", "state_ok", "home")

    def __init__(self, **kw):
        self.highlight: str | None = None
        self.hl_index = 0
        self.pending_hl: str | None = None
        self.pending_until = 0.0
        self.scroll = 0                 # first session shown, in sessions
        self.free_scroll = False        # the wheel moved the list: do not pull it back to the highlight
        self.mode = LIST
        self.theme_cursor = 0
        self.width_value = 32
        self.text = ""
        self.target: str | None = None  # the session a kill waits for `y` on
        self.message: str | None = None
        self.tone = "neutral"
        self.message_until = 0.0
        self.tick = 0
        self.client: str | None = None  # this pane's client (tty)
        self.current: str | None = None  # the session that client is on
        self.pane: str | None = None
        self.link = "connecting"        # the publisher feed: connecting | live | reconnecting
        self.state_ok = True            # state answers commands
        self.home = ""
        for k, v in kw.items():
            setattr(self, k, v)

    def replace(self, **kw) -> "View":
        new = View.__new__(View)
        for k in View.__slots__:
            setattr(new, k, kw[k] if k in kw else getattr(self, k))
        return new

    def __repr__(self) -> str:
        return "View(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in View.__slots__) + ")"


class Ctx:
    """What a key press needs to know besides the view: the snapshot's list and settings, the
    last frame's row → session map, how many sessions fit, and the time."""
    __slots__ = ("sessions", "settings", "hits", "page", "now")

    def __init__(self, sessions: list, settings: dict | None = None, hits: dict | None = None,
                 page: int = 10, now: float = 0.0):
        self.sessions, self.settings, self.hits = sessions, settings or {}, hits or {}
        self.page, self.now = page, now


def exact(name: str) -> str:
    return "=" + name


def names(sessions: list) -> list[str]:
    return [s["name"] for s in sessions]


def highlight_index(view: View, sessions: list) -> int:
    """Where the highlight is; a highlighted session that went away leaves it at its old place."""
    for i, s in enumerate(sessions):
        if s["name"] == view.highlight:
            return i
    return max(0, min(view.hl_index, len(sessions) - 1))


def say(view: View, text: str, now: float, tone: str = "neutral") -> View:
    return view.replace(message=text, tone=tone, message_until=now + MESSAGE_FOR)


# -- snapshots ---------------------------------------------------------------------------------

def on_snapshot(view: View, snapshot: dict, client: str | None, pane_session: str | None,
                now: float) -> tuple[View, list]:
    """Follow the snapshot: this client's session is current, its shared highlight is ours.

    Without a client looking at this pane's session the sidebar is seen by nobody until one
    comes, and whoever comes is then in this pane's session: so that one is current."""
    sessions = snapshot.get("sessions") or []
    record = next((c for c in snapshot.get("clients") or [] if c.get("tty") == client), None) if client else None
    if record is not None:
        current = record.get("session")
    else:
        current = next((s["name"] for s in sessions if s.get("id") == pane_session), None)
    cmds: list = []
    highlight, pending, until = view.highlight, view.pending_hl, view.pending_until
    shared = record.get("highlight") if record is not None else None
    if pending is not None and (shared == pending or now >= until):
        pending = None
    if pending is None and shared:
        highlight = shared
    if (view.current is not None and current is not None and current != view.current
            and pending is None and highlight != current):
        # the client moved (a CLI switch, a key binding): the cursor goes where you now are
        highlight = current
        if record is not None:
            cmds.append(("highlight", {"client": client, "session": current}))
    if highlight is None or highlight not in names(sessions):
        if highlight is None and current in names(sessions):
            highlight = current
        elif sessions:
            highlight = sessions[max(0, min(view.hl_index, len(sessions) - 1))]["name"]
    new = view.replace(client=client if record is not None else None, current=current,
                       highlight=highlight, pending_hl=pending, pending_until=until)
    new.hl_index = highlight_index(new, sessions)
    return new, cmds


# -- keys --------------------------------------------------------------------------------------

def handle(view: View, event, ctx: Ctx) -> tuple[View, list]:
    if event == "ctrl-c":
        return view, [(QUIT, {})]
    if view.message is not None and view.mode == LIST and event == "esc":
        return view.replace(message=None), []
    if isinstance(event, tuple):
        return _mouse(view, event, ctx)
    handler = {LIST: _list_key, HELP: _help_key, THEME: _theme_key, WIDTH: _width_key,
               CONFIRM: _confirm_key, NEW: _new_key}[view.mode]
    return handler(view, event, ctx)


def _client_fields(view: View) -> dict:
    return {"client": view.client, "pane": view.pane}


def move_to(view: View, index: int, ctx: Ctx) -> tuple[View, list]:
    if not ctx.sessions:
        return view, []
    index = max(0, min(index, len(ctx.sessions) - 1))
    name = ctx.sessions[index]["name"]
    new = view.replace(highlight=name, hl_index=index, free_scroll=False)
    if name == view.highlight:
        return new, []
    if view.client is None:
        return new, []   # nobody to share it with; it stays in this sidebar
    new.pending_hl, new.pending_until = name, ctx.now + PENDING_HIGHLIGHT
    return new, [("highlight", {"client": view.client, "session": name})]


def _switch(view: View, name: str) -> list:
    return [("switch", {"target": exact(name), **_client_fields(view)})]


def _list_key(view: View, key: str, ctx: Ctx) -> tuple[View, list]:
    sessions, now = ctx.sessions, ctx.now
    i = highlight_index(view, sessions)
    hl = sessions[i]["name"] if sessions else None
    if key in ("j", "down"):
        return move_to(view, i + 1, ctx)
    if key in ("k", "up"):
        return move_to(view, i - 1, ctx)
    if key in ("g", "home"):
        return move_to(view, 0, ctx)
    if key in ("G", "end"):
        return move_to(view, len(sessions) - 1, ctx)
    if key == "pgdn":
        return move_to(view, i + max(1, ctx.page), ctx)
    if key == "pgup":
        return move_to(view, i - max(1, ctx.page), ctx)
    if key == "enter":
        return (view, _switch(view, hl)) if hl else (view, [])
    if key in ("tab", "btab"):
        if not sessions:
            return view, []
        step = 1 if key == "tab" else -1
        listed = names(sessions)
        if view.current in listed:
            # the key was typed in this sidebar, so its client is in the session it marks current:
            # name the neighbour exactly rather than trust state's idea of where the client is,
            # which a tmux listing taken just before the last switch can still hold for a moment
            return view, _switch(view, listed[(listed.index(view.current) + step) % len(listed)])
        return view, [("switch", {"target": "next" if step > 0 else "prev", **_client_fields(view)})]
    if len(key) == 1 and "1" <= key <= "9":
        n = int(key)
        if n > len(sessions):
            return say(view, f"no session {n} (there are {len(sessions)})", now, "warn"), []
        return view, _switch(view, sessions[n - 1]["name"])
    if key in ("K", "alt-up", "J", "alt-down"):
        if hl is None:
            return view, []
        direction = "up" if key in ("K", "alt-up") else "down"
        return view, [("reorder", {"name": exact(hl), "direction": direction})]
    if key == "d":
        if hl is None:
            return view, []
        note = f"{sessions[i].get('label') or hl} stays listed while you are in it" if hl == view.current else None
        v = say(view, note, now) if note else view
        return v, [("hide", {"name": exact(hl), **_client_fields(view)})]
    if key == "u":
        return view, [("unhide_all", {})]
    if key == "n":
        return view.replace(mode=NEW, text="", message=None), []
    if key == "x":
        if hl is None:
            return view, []
        return view.replace(mode=CONFIRM, target=hl, message=None), []
    if key == "f":
        current = ctx.settings.get("filter", FILTERS[0])
        nxt = FILTERS[(FILTERS.index(current) + 1) % len(FILTERS)] if current in FILTERS else FILTERS[0]
        return say(view, f"filter: {nxt}", now), [("set_setting", {"key": "filter", "value": nxt})]
    if key == "t":
        theme = ctx.settings.get("theme")
        cursor = THEMES.index(theme) if theme in THEMES else 0
        return view.replace(mode=THEME, theme_cursor=cursor, message=None), []
    if key == "w":
        width = ctx.settings.get("width")
        width = width if isinstance(width, int) and WIDTH_MIN <= width <= WIDTH_MAX else 32
        return view.replace(mode=WIDTH, width_value=width, message=None), []
    if key == "r":
        return say(view, "refreshing…", now), [(RESYNC, {})]
    if key == "?":
        return view.replace(mode=HELP, message=None), []
    if key == "q":
        return view, [(CLOSE_SIDEBARS, {})]
    return view, []


def _mouse(view: View, event: tuple, ctx: Ctx) -> tuple[View, list]:
    if event[0] == "wheel":
        return view.replace(scroll=max(0, view.scroll + event[1]), free_scroll=True), []
    if event[0] != "click":
        return view, []
    if view.mode != LIST:
        return view.replace(mode=LIST), []
    name = ctx.hits.get(event[2])
    if name is None:
        return view, []
    index = names(ctx.sessions).index(name) if name in names(ctx.sessions) else view.hl_index
    new, cmds = move_to(view, index, ctx)
    return new, cmds + _switch(view, name)


def _help_key(view: View, key: str, ctx: Ctx) -> tuple[View, list]:
    return view.replace(mode=LIST), []


def theme_under_cursor(view: View) -> str:
    return THEMES[view.theme_cursor % len(THEMES)]


def _theme_key(view: View, key: str, ctx: Ctx) -> tuple[View, list]:
    if key in ("j", "down", "tab"):
        return view.replace(theme_cursor=(view.theme_cursor + 1) % len(THEMES)), []
    if key in ("k", "up", "btab"):
        return view.replace(theme_cursor=(view.theme_cursor - 1) % len(THEMES)), []
    if key == "enter":
        theme = theme_under_cursor(view)
        return (say(view.replace(mode=LIST), f"theme: {theme}", ctx.now),
                [("set_setting", {"key": "theme", "value": theme})])
    if key in ("esc", "q", "t"):
        return view.replace(mode=LIST), []
    return view, []


def _width_key(view: View, key: str, ctx: Ctx) -> tuple[View, list]:
    step = {"h": -1, "left": -1, "l": 1, "right": 1, "H": -5, "L": 5, "k": 1, "j": -1,
            "up": 1, "down": -1}.get(key)
    if step is not None:
        return view.replace(width_value=max(WIDTH_MIN, min(WIDTH_MAX, view.width_value + step))), []
    if key == "enter":
        return (say(view.replace(mode=LIST), f"width: {view.width_value}", ctx.now),
                [("set_setting", {"key": "width", "value": view.width_value})])
    if key in ("esc", "q", "w"):
        return view.replace(mode=LIST), []
    return view, []


def _confirm_key(view: View, key: str, ctx: Ctx) -> tuple[View, list]:
    back = view.replace(mode=LIST, target=None)
    if key in ("y", "Y") and view.target:
        return back, [("kill", {"name": exact(view.target), **_client_fields(view)})]
    return say(back, "kill cancelled", ctx.now), []


def _new_key(view: View, key: str, ctx: Ctx) -> tuple[View, list]:
    if key == "esc":
        return view.replace(mode=LIST, text=""), []
    if key == "enter":
        name = view.text.strip() or None
        return (view.replace(mode=LIST, text=""),
                [("new", {"name": name, "switch": True, **_client_fields(view)})])
    if key == "backspace":
        return view.replace(text=view.text[:-1]), []
    if key == "ctrl-u":
        return view.replace(text=""), []
    if len(key) == 1 and key.isprintable() and len(view.text) < NAME_INPUT_MAX:
        return view.replace(text=view.text + key), []
    return view, []


# -- replies -----------------------------------------------------------------------------------

def on_reply(view: View, kind: str, reply: dict | None, now: float) -> View:
    """A command's answer (None: no answer in time) as a footer message; quiet when it worked
    and the next snapshot will show it."""
    if reply is None:
        return say(view.replace(state_ok=False), "opensessions did not answer (reconnecting…)", now, "error")
    view = view if view.state_ok else view.replace(state_ok=True)
    if not reply.get("ok"):
        err = reply.get("error") or {}
        return say(view, str(err.get("message") or "failed")[:200], now, "error")
    result = reply.get("result") or {}
    if kind == "kill" and isinstance(result, dict) and result.get("killed"):
        return say(view, f"killed {result['killed']}", now, "success")
    if kind == "new" and isinstance(result, dict) and result.get("name"):
        return say(view, f"created {result['name']}", now, "success")
    if kind == "unhide_all" and isinstance(result, dict):
        n = result.get("unhidden", 0)
        return say(view, f"{n} session{'s' if n != 1 else ''} shown again" if n else "nothing was hidden", now)
    return view


# -- whose sidebar -----------------------------------------------------------------------------

def pick_client(snapshot: dict, explicit: str | None, pane_session: str | None,
                preferred: str | None) -> tuple[str | None, bool]:
    """(the client this sidebar is for, whether several clients could be it).

    --client wins. Otherwise a client looking at this pane's session; of several, the one tmux
    last named as the most recently active (`preferred`), which the caller re-asks tmux about
    now and then since the snapshot has no activity times."""
    if explicit:
        return explicit, False
    candidates = [c.get("tty") for c in snapshot.get("clients") or [] if c.get("session_id") == pane_session]
    if not candidates:
        return None, False
    if preferred in candidates:
        return preferred, len(candidates) > 1
    return sorted(candidates)[0], len(candidates) > 1
