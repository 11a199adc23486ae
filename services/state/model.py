"""The state service's model and the decisions it makes: pure, no sockets, no tmux, no clock.

The loop feeds it observations and commands with the current time and carries out the tmux
actions it plans (switch this client to that session, kill that session…).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

from services import protocol as P
from services.settings import DEFAULTS
from services.state import order as O
from services.state.metadata import Metadata, progress_of
from services.state.tracker import Event, Thread, Tracker, representative_state
from services.tmux import display_name, stored_name


PIN_SECONDS = 1.0   # how long our own switch outranks a tmux listing that disagrees


class CommandError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Session:
    id: str
    name: str
    created: int
    dir: str
    windows: int
    panes: int = 0


@dataclass
class Pane:
    id: str
    session_id: str
    window_id: str
    pid: int
    active: bool
    window_active: bool
    command: str
    title: str


@dataclass
class Client:
    tty: str
    pid: int
    session_id: str
    session_name: str
    window_id: str
    pane_id: str
    activity: int


_PANE_KEYS = {"session_id": str, "session_name": str, "session_created": int, "session_path": str,
              "session_windows": int, "window_id": str, "pane_id": str, "pane_pid": int,
              "pane_active": bool, "window_active": bool, "current_command": str,
              "title": str}
_CLIENT_KEYS = {"tty": str, "pid": int, "control": bool, "activity": int, "session_id": str,
                "session_name": str, "window_id": str, "pane_id": str}


def _well_formed(item: object, keys: dict[str, type]) -> bool:
    """Every field there with exactly its JSON type (so a bool is not an int). Exact types,
    fetched and compared in C: a listing is 500 rows × 13 fields, checked every few seconds."""
    fetch, types = _CHECKS[id(keys)]
    try:
        return type(item) is dict and tuple(map(type, fetch(item))) == types
    except KeyError:
        return False


_CHECKS = {id(keys): (itemgetter(*keys), tuple(keys.values())) for keys in (_PANE_KEYS, _CLIENT_KEYS)}


@dataclass
class Model:
    sessions: dict[str, Session] = field(default_factory=dict)      # by id
    panes: dict[str, Pane] = field(default_factory=dict)            # by pane id
    clients: dict[str, Client] = field(default_factory=dict)        # by tty
    user_order: list[str] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    settings: dict = field(default_factory=lambda: dict(DEFAULTS))
    highlights: dict[str, str] = field(default_factory=dict)       # client tty → session name
    metadata: dict[str, Metadata] = field(default_factory=dict)     # by session name
    pins: dict[str, tuple[str, float]] = field(default_factory=dict)  # tty → (session id, until)
    tracker: Tracker = field(default_factory=Tracker)
    ports: dict[str, list[int]] = field(default_factory=dict)       # by session id
    git: dict[str, dict] = field(default_factory=dict)              # by dir
    tmux_connected: bool = False
    tmux_error: str | None = None
    bad_items: int = 0
    order_dirty: bool = False    # the persisted order/hidden set must be written
    _pane_session_of: tuple = field(default=(None, -1, {}), repr=False, compare=False)
    # pane id → (its row in the last listing applied, the Pane made of it): most rows of a
    # listing are the same as last time, and are neither checked nor built again
    _last_rows: dict = field(default_factory=dict, repr=False, compare=False)

    def pane_session(self) -> dict[str, str]:
        """pane id → session id, built once per pane table instead of once per agent event (at
        500 panes and 1,000 events/s that was a fifth of state's time). Panes are replaced by a
        new table or added; the table held here cannot be freed and its address reused."""
        table, size, mapping = self._pane_session_of
        if table is not self.panes or size != len(self.panes):
            mapping = {p.id: p.session_id for p in self.panes.values()}
            self._pane_session_of = (self.panes, len(self.panes), mapping)
        return mapping

    # -- observations ---------------------------------------------------------------------

    def apply_tmux(self, panes: list, clients: list, now: float) -> bool:
        """A full listing replaces the last one; a listing with a malformed row is refused whole,
        since applying the rest would drop sessions that still exist."""
        last = self._last_rows
        same: list[Pane | None] = []     # a row equal to the last listing's: checked then, same Pane
        bad = 0
        for r in panes:
            hit = last.get(r.get("pane_id")) if type(r) is dict else None
            if hit is not None and hit[0] == r:
                same.append(hit[1])
            else:
                same.append(None)
                bad += not _well_formed(r, _PANE_KEYS)
        bad += sum(not _well_formed(r, _CLIENT_KEYS) for r in clients)
        if bad:
            self.bad_items += bad
            return False
        sessions: dict[str, Session] = {}
        new_panes: dict[str, Pane] = {}
        rows: dict[str, tuple[dict, Pane]] = {}
        for row, pane in zip(panes, same):
            sid = row["session_id"]
            s = sessions.get(sid)
            if s is None:
                s = sessions[sid] = Session(sid, row["session_name"], row["session_created"],
                                            row["session_path"], row["session_windows"])
            s.panes += 1
            if pane is None:
                pane = Pane(row["pane_id"], sid, row["window_id"], row["pane_pid"], row["pane_active"],
                            row["window_active"], row["current_command"], row["title"])
            new_panes[row["pane_id"]] = pane
            rows[row["pane_id"]] = (row, pane)
        renames = {self.sessions[sid].name: s.name for sid, s in sessions.items()
                   if sid in self.sessions and self.sessions[sid].name != s.name}
        if renames:
            self.rename(renames)
        new_clients: dict[str, Client] = {}
        for row in clients:
            if row["control"]:
                continue
            client = Client(row["tty"], row["pid"], row["session_id"], row["session_name"],
                            row["window_id"], row["pane_id"], row["activity"])
            pin = self.pins.get(client.tty)
            if pin is not None:
                if client.session_id == pin[0] or now >= pin[1] or pin[0] not in sessions:
                    del self.pins[client.tty]        # confirmed, or too old to trust
                else:   # a listing taken before our switch landed: the switch stands
                    old = self.clients.get(client.tty)
                    if old is not None:
                        client = old
            new_clients[client.tty] = client
        self.sessions, self.panes, self.clients = sessions, new_panes, new_clients
        self._last_rows = rows
        self.pins = {t: p for t, p in self.pins.items() if t in new_clients}
        self.highlights = {t: h for t, h in self.highlights.items() if t in new_clients}
        self.ports = {k: v for k, v in self.ports.items() if k in sessions}
        self.tmux_connected, self.tmux_error = True, None
        self.tracker.forget_panes(set(new_panes), now, self.looking)
        for t in self.tracker.threads.values():
            if t.pane_id in new_panes:
                t.session_id, t.session_guessed = new_panes[t.pane_id].session_id, False
        self.tracker.mark_seen(self.looking)
        return True

    def apply_tmux_down(self, reason: str, now: float) -> None:
        self.tmux_connected, self.tmux_error = False, reason
        self.sessions, self.panes, self.clients = {}, {}, {}
        self.tracker.forget_panes(set(), now)

    def apply_agents(self, panes: dict, now: float) -> bool:
        found: dict[str, list[tuple[str, int]]] = {}
        for pane_id, agents in panes.items():
            if not isinstance(agents, list):
                self.bad_items += 1
                return False
            for a in agents:
                if not (isinstance(a, dict) and isinstance(a.get("agent"), str)
                        and isinstance(a.get("pid"), int) and not isinstance(a.get("pid"), bool)):
                    self.bad_items += 1
                    return False
                found.setdefault(pane_id, []).append((a["agent"], a["pid"]))
        pane_session = self.pane_session()
        self.tracker.apply_presence(found, pane_session, now, self.looking)
        return True

    def apply_ports(self, by_session: dict) -> bool:
        ports = {}
        for sid, plist in by_session.items():
            if not (isinstance(plist, list) and all(isinstance(p, int) and not isinstance(p, bool) for p in plist)):
                self.bad_items += 1
                return False
            ports[sid] = sorted(set(plist))
        self.ports = ports
        return True

    def apply_git(self, dirs: dict) -> bool:
        for info in dirs.values():
            if not (isinstance(info, dict) and isinstance(info.get("branch"), (str, type(None)))
                    and isinstance(info.get("dirty"), bool)):
                self.bad_items += 1
                return False
        self.git = {d: {"branch": i["branch"], "dirty": i["dirty"]} for d, i in dirs.items()}
        return True

    def rename(self, renames: dict[str, str]) -> None:
        """Sessions renamed in tmux keep their place, hidden flag and metadata, all at once."""
        moved = {new: self.metadata.pop(old) for old, new in renames.items() if old in self.metadata}
        self.metadata.update(moved)
        if any(n in renames for n in self.user_order):
            self.user_order = O.rename_all(self.user_order, renames)
            self.order_dirty = True
        if any(n in renames for n in self.hidden):
            self.hidden = {renames.get(n, n) for n in self.hidden}
            self.order_dirty = True

    # -- agents ---------------------------------------------------------------------------

    def looking(self, t: Thread) -> bool:
        """Is some client looking at this thread: at its pane, or at its session when the pane
        is unknown?"""
        if t.pane_id is not None:
            return any(c.pane_id == t.pane_id for c in self.clients.values())
        return t.session_id is not None and any(c.session_id == t.session_id for c in self.clients.values())

    def session_for_dir(self, directory: str) -> str | None:
        """A thread's working dir → a session: exact dir, else the deepest parent, else a child."""
        directory = directory.rstrip("/") or "/"
        best, best_len = None, -1
        for s in self.ordered():
            d = s.dir.rstrip("/") or "/"
            if d == directory:
                return s.id
            if directory.startswith(d + "/") or d == "/":
                if len(d) > best_len:
                    best, best_len = s.id, len(d)
        if best is not None:
            return best
        for s in self.ordered():
            if s.dir.startswith(directory.rstrip("/") + "/"):
                return s.id
        return None

    def apply_event(self, e: dict, now: float) -> bool:
        """One validated `event` (a hook, `emit`, or the collector's transcript/screen reading)."""
        session_id = None
        if e.get("session"):
            session_id = self.find_session(e["session"]).id
        ev = Event(agent=e["agent"], source=e["source"], status=e.get("status"), thread_id=e.get("thread_id"),
                   thread_name=e.get("thread_name"), name_rank=e.get("name_rank") or 1, pane=e.get("pane"),
                   session=session_id, dir=e.get("dir"), pid=e.get("pid"), at=e.get("at"),
                   keeps_waiting=bool(e.get("keeps_waiting")), ends=bool(e.get("ends")))
        if ev.at is not None and ev.at > now + 5:
            ev.at = now   # a clock ahead of ours must not freeze a thread against newer evidence
        pane_session = self.pane_session()
        return self.tracker.apply_event(ev, now, pane_session, self.session_for_dir, self.looking)

    # -- metadata -------------------------------------------------------------------------

    def meta(self, name: str) -> tuple[Session, Metadata]:
        session = self.find_session(name)
        return session, self.metadata.setdefault(session.name, Metadata())

    def set_status(self, name: str, text: str | None, tone: str | None, now: float) -> str:
        session, m = self.meta(name)
        m.status = None if text is None else {"text": text, "tone": tone or "neutral", "ts": now}
        return session.name

    def set_progress(self, name: str, msg: dict, now: float) -> str:
        session, m = self.meta(name)
        if msg.get("clear"):
            m.progress = None
            return session.name
        try:
            m.progress = progress_of(msg.get("current"), msg.get("total"), msg.get("percent"),
                                     msg.get("label"), now)
        except ValueError as e:
            raise CommandError(P.BAD_MESSAGE, str(e)) from None
        return session.name

    def add_log(self, name: str, message: str, tone: str | None, source: str | None, now: float) -> str:
        session, m = self.meta(name)
        m.logs.append({"message": message, "tone": tone or "neutral", "source": source, "ts": now})
        return session.name

    def clear_log(self, name: str) -> str:
        session, m = self.meta(name)
        m.logs.clear()
        return session.name

    # -- derived views --------------------------------------------------------------------

    def threads_of(self, session: Session) -> list[Thread]:
        return self.tracker.by_session().get(session.id, [])

    def current_names(self) -> set[str]:
        return {c.session_name for c in self.clients.values()}

    def ordered(self) -> list[Session]:
        return O.display_order(self.sessions.values(), self.user_order)

    def visible(self) -> list[Session]:
        by_session = self.tracker.by_session()
        return O.visible_order(
            self.ordered(), self.hidden, self.current_names(), self.settings.get("filter", "all"),
            agent_state=lambda s: representative_state(by_session.get(s.id, [])),
            has_agents=lambda s: bool(by_session.get(s.id)))

    def find_session(self, name: str) -> Session:
        """A session by its stored name, or by the name as the user typed it before tmux escaped it."""
        if name.startswith("=") and len(name) > 1:
            name = name[1:]
        for candidate in (name, stored_name(name)):
            for s in self.sessions.values():
                if s.name == candidate:
                    return s
        for s in self.sessions.values():
            if display_name(s.name) == name:
                return s
        raise CommandError(P.NOT_FOUND, f"no session named {name!r}")

    def resolve_client(self, tty: str | None, pane_id: str | None) -> Client:
        """The client a command acts for: named, else the one showing the calling pane, else the only one."""
        if tty:
            client = self.clients.get(tty)
            if client is None:
                known = ", ".join(sorted(self.clients)) or "none"
                raise CommandError(P.NOT_FOUND, f"no client on {tty} (attached clients: {known})")
            return client
        if pane_id and pane_id in self.panes:
            pane = self.panes[pane_id]
            same = [c for c in self.clients.values() if c.session_id == pane.session_id]
            if same:
                looking = [c for c in same if c.pane_id == pane_id]
                return max(looking or same, key=lambda c: (c.activity, c.tty))
        if len(self.clients) == 1:
            return next(iter(self.clients.values()))
        if not self.clients:
            raise CommandError(P.NO_CLIENT, "no tmux client is attached; attach one with `tmux attach`")
        raise CommandError(P.AMBIGUOUS_CLIENT, "several clients are attached (" + ", ".join(sorted(self.clients))
                           + "); pass --client TTY")

    # -- command decisions ----------------------------------------------------------------

    def switch_target(self, target: str, client: Client) -> Session:
        visible = self.visible()
        current = self.sessions.get(client.session_id)
        if target.isascii() and target.isdigit():
            n = int(target)
            if not 1 <= n <= len(visible):
                raise CommandError(P.NOT_FOUND, f"no session at index {n} (there are {len(visible)})")
            return visible[n - 1]
        if target in ("next", "prev"):
            if not visible:
                raise CommandError(P.NOT_FOUND, "there are no sessions")
            if current not in visible:
                return visible[0] if target == "next" else visible[-1]
            i = visible.index(current)
            return visible[(i + (1 if target == "next" else -1)) % len(visible)]
        if target == "waiting":
            return self._next_needing_user(visible, current)
        return self.find_session(target)

    def _next_needing_user(self, visible: list[Session], current: Session | None) -> Session:
        start = visible.index(current) + 1 if current in visible else 0
        ring = visible[start:] + visible[:start]
        by_session = self.tracker.by_session()
        for want in (lambda ts: any(t.status == "waiting" for t in ts),
                     lambda ts: any(t.unseen for t in ts)):
            for s in ring:
                if s is not current and want(by_session.get(s.id, [])):
                    return s
        raise CommandError(P.NOT_FOUND, "no other session has an agent waiting or an unseen result")

    def neighbour(self, session: Session) -> Session | None:
        """Where a client goes when its session is killed: the next one down, else the one above."""
        ordered = self.visible()
        if session not in ordered:
            ordered = self.ordered()
        i = ordered.index(session)
        for j in (i + 1, i - 1):
            if 0 <= j < len(ordered):
                return ordered[j]
        return None

    def reorder(self, name: str, direction: str) -> None:
        session = self.find_session(name)
        visible = [s.name for s in self.visible()]
        if session.name not in visible:
            raise CommandError(P.NOT_FOUND, f"session {session.name!r} is hidden or filtered out")
        full = O.merged_order(self.user_order, [s.name for s in self.ordered()])
        self.user_order = O.reorder(full, visible, session.name, direction)
        self.order_dirty = True

    def hide(self, name: str) -> None:
        session = self.find_session(name)
        if session.name not in self.hidden:
            self.hidden.add(session.name)
            self.order_dirty = True

    def unhide_all(self) -> int:
        n = len(self.hidden)
        if n:
            self.hidden.clear()
            self.order_dirty = True
        return n

    def forget_session(self, session: Session) -> None:
        """After a kill: drop it now rather than wait for the collector to notice."""
        self.sessions.pop(session.id, None)
        self.metadata.pop(session.name, None)
        self.panes = {k: p for k, p in self.panes.items() if p.session_id != session.id}
        if session.name in self.user_order:
            self.user_order.remove(session.name)
            self.order_dirty = True
        if session.name in self.hidden:
            self.hidden.discard(session.name)
            self.order_dirty = True

    def add_session(self, row) -> Session:
        """After `new`: show it now; the collector's next listing confirms it."""
        s = Session(row.session_id, row.session_name, row.session_created, row.session_path,
                    row.session_windows, 1)
        self.sessions[s.id] = s
        self.panes[row.pane_id] = Pane(row.pane_id, s.id, row.window_id, row.pane_pid, True, True,
                                       row.current_command, row.title)
        return s

    def set_client_session(self, tty: str, session: Session, now: float | None = None) -> None:
        """After our own switch: the client is there now, whatever a listing in flight says."""
        c = self.clients.get(tty)
        if c is not None:
            c.session_id, c.session_name = session.id, session.name
            if now is not None:
                self.pins[tty] = (session.id, now + PIN_SECONDS)
            self._client_moved(c)

    def _client_moved(self, c: Client) -> None:
        """Until the next listing tells its pane, a client that moved looks at the new session's
        active pane; threads there are seen now."""
        active = [p for p in self.panes.values() if p.session_id == c.session_id and p.active and p.window_active]
        c.pane_id = active[0].id if active else ""
        c.window_id = active[0].window_id if active else ""
        self.highlights[c.tty] = c.session_name   # the keyboard highlight follows the client
        self.tracker.mark_seen(self.looking)

    def client_session_changed(self, client_name: str, session_id: str, session_name: str) -> bool:
        """A control-mode %client-session-changed: the fastest news of a switch."""
        c = self.clients.get(client_name)
        if c is None or (c.session_id == session_id and c.session_name == session_name):
            return False
        c.session_id, c.session_name = session_id, session_name
        self.pins.pop(client_name, None)          # tmux's own word, in order with our commands
        self._client_moved(c)
        return True
