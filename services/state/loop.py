"""The state service's loop: commands on a ROUTER, observations on a PULL, tmux actions,
snapshots PUSHed to the publisher after every change. All decisions live in the model."""
from __future__ import annotations

import os
import time

import orjson  # noqa: F401  (loaded first, so the protocol encodes with it)
import zmq

from services import log
from services import protocol as P
from services.paths import Runtime, atomic_write, move_aside
from services.settings import validate as validate_setting
from services.sockets import Stopper, service_setup, socket, split_envelope
from services.state import checkpoint, store
from services.state.model import CommandError, Model
from services.state.order import merged_order
from services.state.pacing import Pacer
from services.state.sidebars import sidebar_panes
from services.state.snapshot import build_snapshot
from services.state.tmux_sync import TmuxSync
from services.state.tracker import Tracker
from services.tmux import Tmux, TmuxError, TmuxUnavailable

OBSERVATIONS_PER_TURN = 64     # commands come first; a flood of observations waits its turn
RECONNECT_EVERY = 2.0
# Per sender. Listings are full state and up to megabytes each: a deep queue of them is memory
# spent on what the newest one replaces. The collector counts what it could not send.
OBSERVATION_QUEUE = 50


class StateService:
    def __init__(self, rt: Runtime, exited_linger: float = 30.0, clock=time.time, stale_after: float = 180.0):
        self.rt = rt
        self.clock = clock
        persisted = store.load(rt.order_file)
        self.model = Model(user_order=persisted.order, hidden=persisted.hidden,
                           settings=persisted.settings, tracker=Tracker(exited_linger, stale_after))
        self.checkpoint_path = os.path.join(rt.dir, "checkpoint.json")
        self._restore_checkpoint()
        self.checkpoint_dirty = False
        self._next_checkpoint = 0.0
        self.tmux = Tmux(rt.socket_path)
        self.tmux_sync = TmuxSync(self.tmux)
        self.ctx = zmq.Context.instance()
        self.cmd = socket(self.ctx, zmq.ROUTER, max_msg=P.MAX_COMMAND_BYTES + 1024)
        self.cmd.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self.cmd.bind(rt.state_endpoint)
        self.obs = socket(self.ctx, zmq.PULL, max_msg=P.MAX_OBSERVATION_BYTES, rcvhwm=OBSERVATION_QUEUE)
        self.obs.bind(rt.observe_endpoint)
        self.out = socket(self.ctx, zmq.PUSH, sndhwm=4)   # full state: only the newest matters
        self.out.connect(rt.snapshot_in_endpoint)
        self.stats = {"commands": 0, "command_errors": 0, "bad_messages": 0, "observations": 0,
                      "bad_observations": 0, "bad_events": 0, "observations_unchanged": 0, "snapshots_pushed": 0,
                      "snapshots_unchanged": 0}
        self._last_observation: dict[str, bytes] = {}
        self.changed = True
        self._unsent = False
        self._last_body: bytes | None = None
        self._next_reconnect = 0.0
        self._next_expire = 0.0
        self.pacer = Pacer()

    def _restore_checkpoint(self) -> None:
        try:
            with open(self.checkpoint_path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as e:
            log.error("checkpoint_unreadable", path=self.checkpoint_path, error=e)
            return
        try:
            n = checkpoint.restore(self.model, data)
            log.info("checkpoint_restored", threads=n, sessions_with_metadata=len(self.model.metadata))
        except ValueError as e:
            try:
                aside = move_aside(self.checkpoint_path, time.time())
            except OSError:
                aside = "(left in place)"
            log.error("checkpoint_corrupt", path=self.checkpoint_path, error=e, kept_as=aside)

    def write_checkpoint(self) -> None:
        try:
            atomic_write(self.checkpoint_path, checkpoint.encode(self.model), durable=False)   # runtime dir
            self.checkpoint_dirty = False
        except OSError as e:
            log.error("checkpoint_write_failed", path=self.checkpoint_path, error=e)

    # -- commands -------------------------------------------------------------------------

    def handle_command(self, frame: bytes) -> bytes:
        self.stats["commands"] += 1
        try:
            msg = P.decode(frame, P.COMMANDS)
        except P.ProtocolError as e:
            self.stats["bad_messages"] += 1
            log.warn("bad_command", code=e.code, error=e.message)
            return P.error(e.code, e.message)
        try:
            return P.ok(self.execute(msg))
        except CommandError as e:
            self.stats["command_errors"] += 1
            return P.error(e.code, e.message)
        except TmuxUnavailable as e:
            self.stats["command_errors"] += 1
            return P.error(P.TMUX_ERROR, f"tmux is not reachable: {e}")
        except TmuxError as e:
            self.stats["command_errors"] += 1
            return P.error(P.TMUX_ERROR, f"tmux: {e}")
        except Exception as e:   # a bug must cost one reply, never the service
            self.stats["command_errors"] += 1
            log.error("command_failed", type=msg.get("type"), error=repr(e))
            return P.error(P.INTERNAL, f"internal error: {e!r}")

    def execute(self, msg: dict):
        m, kind, now = self.model, msg["type"], self.clock()
        if kind == "ping":
            return {"pong": True, "tmux": m.tmux_connected}
        if kind == "ls":
            return build_snapshot(m, now, self.rt.socket_path)
        if kind == "stats":
            return {**self.stats, "bad_items": m.bad_items, "threads": len(m.tracker.threads),
                    "tmux_connected": m.tmux_connected, "tmux_error": m.tmux_error,
                    "control_mode": self.tmux.connected}
        if kind == "switch":
            client = m.resolve_client(msg.get("client"), msg.get("pane"))
            target = m.switch_target(msg["target"], client)
            self.tmux.switch_client(client.tty, target.name)
            m.set_client_session(client.tty, target, now)
            self.changed = True
            return {"client": client.tty, "session": target.name}
        if kind == "reorder":
            m.reorder(msg["name"], msg["direction"])
            self.changed = True
            return {"order": [s.name for s in m.visible()]}
        if kind == "hide":
            session = m.find_session(msg["name"])
            m.hide(session.name)
            self.changed = True
            return {"hidden": session.name}
        if kind == "unhide_all":
            n = m.unhide_all()
            self.changed = True
            return {"unhidden": n}
        if kind == "set_setting":
            try:
                value = validate_setting(msg["key"], msg["value"])
            except ValueError as e:
                raise CommandError(P.BAD_MESSAGE, str(e)) from None
            if m.settings.get(msg["key"]) != value:
                m.settings[msg["key"]] = value
                m.order_dirty = self.changed = True
            return {msg["key"]: value}
        if kind == "highlight":
            if msg["client"] not in m.clients:
                raise CommandError(P.NOT_FOUND, f"no client on {msg['client']}")
            session = m.find_session(msg["session"])
            if m.highlights.get(msg["client"]) != session.name:
                m.highlights[msg["client"]] = session.name
                self.changed = True
            return {"client": msg["client"], "session": session.name}
        if kind == "event":
            if m.apply_event(msg, now):
                self.changed = True
            return {"accepted": True}
        if kind == "sidebars":
            return self._sidebars(msg)
        if kind == "screen_candidates":
            return {"panes": [{"pane": t.pane_id, "agent": t.agent, "status": t.status, "pid": t.pid}
                              for t in m.tracker.screen_candidates(now)]}
        if kind == "seen":
            session = m.find_session(msg["session"])
            if m.tracker.mark_seen_session(session.id):
                self.changed = True
            return {"session": session.name}
        if kind in ("set_status", "set_progress", "log", "clear_log", "notify"):
            return self._metadata(kind, msg, now)
        if kind == "kill":
            return self._kill(msg)
        if kind == "new":
            return self._new(msg)
        raise CommandError(P.UNKNOWN_TYPE, f"unknown command {kind!r}")

    def _sidebars(self, msg: dict) -> dict:
        m, action = self.model, msg["action"]
        was = m.settings.get("sidebars")
        on = {"on": True, "off": False, "toggle": was != "on", "focus": True}[action]
        m.settings["sidebars"] = "on" if on else "off"
        if m.settings["sidebars"] != was:
            m.order_dirty = True
        self.changed = True
        self.tmux_sync.sync(m, self.clock())          # at once: the user is looking
        result = {"sidebars": m.settings["sidebars"]}
        if action == "focus":
            client = m.resolve_client(msg.get("client"), msg.get("pane"))
            # the sync above may have just spawned it: tmux knows that pane before our listing does
            pane = (sidebar_panes(m).get(client.window_id) or [None])[0] \
                or self.tmux_sync.spawned.get(client.window_id)
            if pane is None:
                pane = self.tmux_sync.spawn(m, next((p.id for p in m.panes.values()
                                                     if p.window_id == client.window_id and p.active), ""))
            if pane:
                self.tmux.cmd("select-pane", "-t", pane)
                result["pane"] = pane
        return result

    def _metadata(self, kind: str, msg: dict, now: float) -> dict:
        m = self.model
        if kind == "set_status":
            name = m.set_status(msg["session"], msg.get("text"), msg.get("tone"), now)
        elif kind == "set_progress":
            name = m.set_progress(msg["session"], msg, now)
        elif kind == "log":
            name = m.add_log(msg["session"], msg["message"], msg.get("tone"), msg.get("source"), now)
        elif kind == "clear_log":
            name = m.clear_log(msg["session"])
        else:   # notify: into the log, and a message on every attached client's status line
            name = m.add_log(msg["session"], msg["message"], msg.get("tone") or "info", "notify", now)
            for tty in list(m.clients):
                try:
                    self.tmux.display_message(tty, f"opensessions · {name}: {msg['message']}")
                except (TmuxError, TmuxUnavailable):
                    pass
        self.changed = self.checkpoint_dirty = True
        return {"session": name}

    def _kill(self, msg: dict) -> dict:
        m = self.model
        session = m.find_session(msg["name"])
        moved = []
        inside = [c for c in m.clients.values() if c.session_id == session.id]
        if inside:
            neighbour = m.neighbour(session)
            if neighbour is not None:
                for c in inside:
                    self.tmux.switch_client(c.tty, neighbour.name)
                    m.set_client_session(c.tty, neighbour, self.clock())
                    moved.append({"client": c.tty, "session": neighbour.name})
        self.tmux.kill_session(session.name)
        m.forget_session(session)
        self.changed = True
        return {"killed": session.name, "moved": moved}

    def _new(self, msg: dict) -> dict:
        m = self.model
        client = m.resolve_client(msg.get("client"), msg.get("pane")) if msg.get("switch") else None
        row = self.tmux.new_session(msg.get("name"), msg.get("dir"))
        session = m.add_session(row)
        if client is not None:
            self.tmux.switch_client(client.tty, session.name)
            m.set_client_session(client.tty, session, self.clock())
        self.changed = True
        return {"name": session.name, "id": session.id}

    # -- observations ---------------------------------------------------------------------

    def drain_observations(self) -> None:
        """Observations are full state per kind, so of a burst only the last of each kind is
        decoded and applied (an older one only when the newest does not decode), and one
        identical to the last applied is skipped undecoded. The
        kind is read from the frame's head (`peek_type`); evidence batches and frames without a
        recognisable head are each decoded. Commands go in between."""
        batch: dict[str, list[bytes]] = {}
        for _ in range(OBSERVATIONS_PER_TURN):
            try:
                frame = self.obs.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            self.stats["observations"] += 1
            kind = P.peek_type(frame)
            if kind is None or kind == "obs.events":   # evidence, not state: every batch counts
                key = f"#{self.stats['observations']}"
            else:
                key = "obs.tmux" if kind == "obs.tmux_down" else kind
            batch.setdefault(key, []).append(frame)   # a kind keeps the place of its first frame:
            # evidence that came after the first listing is applied after the (newest) listing
            self.drain_commands()
        for key, frames in batch.items():
            for frame in reversed(frames):   # the newest that decodes; older ones only if it does not
                if self._last_observation.get(key) == frame:
                    self.stats["observations_unchanged"] += 1
                    break
                try:
                    msg = P.decode(frame, P.OBSERVATIONS, max_bytes=P.MAX_OBSERVATION_BYTES)
                except P.ProtocolError as e:
                    self.stats["bad_observations"] += 1
                    log.warn("bad_observation", code=e.code, error=e.message)
                    continue
                self.drain_commands()   # decoding a big listing took a while: answer who asked meanwhile
                self.apply_observation(msg)
                if msg["type"] != "obs.events":
                    self._last_observation["obs.tmux" if msg["type"] == "obs.tmux_down" else msg["type"]] = frame
                self.drain_commands()
                break

    def apply_observation(self, msg: dict) -> None:
        now, m, kind = self.clock(), self.model, msg["type"]
        applied = True
        if kind == "obs.tmux":
            applied = m.apply_tmux(msg["panes"], msg["clients"], now)
        elif kind == "obs.tmux_down":
            if m.tmux_connected or m.tmux_error != msg["reason"]:
                log.warn("tmux_down", reason=msg["reason"])
            m.apply_tmux_down(msg["reason"], now)
        elif kind == "obs.agents":
            applied = m.apply_agents(msg["panes"], now)
        elif kind == "obs.ports":
            applied = m.apply_ports(msg["sessions"])
        elif kind == "obs.git":
            applied = m.apply_git(msg["dirs"])
        elif kind == "obs.events":
            applied = self.apply_events(msg["events"], now)
        if applied:
            self.changed = True
        else:
            self.stats["bad_observations"] += 1
            log.warn("bad_observation", type=kind, error="malformed item; observation refused whole")

    def apply_events(self, events: list, now: float) -> bool:
        """Evidence read by the collector; a bad event is counted and skipped, the rest apply."""
        for item in events:
            try:
                e = P.validate_event(item)
                if self.model.apply_event(e, now):
                    self.changed = True
            except (P.ProtocolError, CommandError) as err:
                self.stats["bad_events"] += 1
                log.warn("bad_event", error=getattr(err, "message", str(err)))
        return True

    def handle_tmux_notifications(self) -> None:
        control = self.tmux.control
        if control is None:
            return
        control.read_available()
        while control.notifications:
            line = control.notifications.popleft()
            if line.startswith("%client-session-changed "):
                parts = line.split(" ", 3)
                if len(parts) == 4 and self.model.client_session_changed(parts[1], parts[2], parts[3]):
                    self.changed = True

    # -- snapshot -------------------------------------------------------------------------

    def publish_soon(self) -> None:
        """Publish now, or at the pacer's next slot when a snapshot went out moments ago."""
        if self.pacer.want(time.monotonic()):
            self.push_snapshot()

    def push_snapshot(self) -> None:
        try:
            if self.tmux_sync.sync(self.model, self.clock()):   # tmux follows the model first
                self.changed = True
        except Exception as e:   # tmux trouble never stops a snapshot
            log.error("tmux_sync_error", error=repr(e))
        snap = build_snapshot(self.model, self.clock(), self.rt.socket_path)
        body = P.snapshot_body(snap)
        if body == self._last_body:
            self.stats["snapshots_unchanged"] += 1
            self._unsent = False   # the publisher has this one already: nothing is owed
            return
        try:
            self.out.send(P.snapshot_in(snap, body), zmq.NOBLOCK)
            self._last_body = body
            self._unsent = False
            self.stats["snapshots_pushed"] += 1
            self.checkpoint_dirty = True
        except zmq.Again:
            self._unsent = True   # the publisher is stalled or away: sent again from the timer

    def persist(self) -> None:
        m = self.model
        if not m.order_dirty:
            return
        p = store.Persisted(merged_order(m.user_order, [s.name for s in m.ordered()]) if m.user_order else [],
                            set(m.hidden), dict(m.settings))
        try:
            store.save(self.rt.order_file, p)
            m.user_order = p.order
            m.order_dirty = False
        except OSError as e:
            log.error("order_file_write_failed", path=self.rt.order_file, error=e)

    # -- loop -----------------------------------------------------------------------------

    def timers(self) -> None:
        now = time.monotonic()
        if not self.tmux.connected and now >= self._next_reconnect:
            self._next_reconnect = now + RECONNECT_EVERY
            if self.tmux.connect():
                log.info("tmux_control_connected", socket=self.rt.socket_path)
        if now >= self._next_expire:
            self._next_expire = now + 1.0
            if self.model.tracker.expire(self.clock(), self.model.looking):
                self.changed = True
        if self.pacer.ready(now) or self._unsent:
            self.push_snapshot()   # a paced change, or the newest snapshot once the publisher takes it again
        if self.checkpoint_dirty and now >= self._next_checkpoint:
            self._next_checkpoint = now + 1.0   # at most once a second, off the command path
            self.write_checkpoint()

    def idle_wait(self) -> float:
        """How long the loop may sleep when nothing arrives: until the next timer, at most 1 s
        (the parent check), so an idle state wakes about once a second."""
        if self.changed:   # a timer changed the model: publish on this turn, not in a second
            return 0.0
        now = time.monotonic()
        due = [now + 1.0, self._next_expire]
        if self.checkpoint_dirty:
            due.append(self._next_checkpoint)
        if not self.tmux.connected:
            due.append(self._next_reconnect)
        if self._unsent:
            due.append(now + 0.1)
        return max(0.0, min(due) - now)

    def run(self) -> None:
        stopper = Stopper()
        log.info("started", socket=self.rt.socket_path, endpoint=self.rt.state_endpoint)
        while not stopper.stop and not stopper.orphaned():
            self.timers()
            poller = zmq.Poller()
            poller.register(self.cmd, zmq.POLLIN)
            poller.register(self.obs, zmq.POLLIN)
            poller.register(stopper.fileno(), zmq.POLLIN)
            if self.tmux.connected:
                poller.register(self.tmux.control.fileno(), zmq.POLLIN)
            try:
                events = dict(poller.poll(int(self.pacer.wait(time.monotonic(), self.idle_wait()) * 1000) + 1))
            except zmq.ZMQError:
                continue
            if self.tmux.connected and self.tmux.control.fileno() in events:
                self.handle_tmux_notifications()
            self.drain_commands()
            self.drain_observations()
            if self.changed:
                self.changed = False
                self.publish_soon()
            self.persist()
        log.info("stopping")
        self.close()

    def drain_commands(self, limit: int = 256) -> None:
        """Answer what is queued (at most `limit`, so observations get their turn under a steady
        stream), then publish once for the whole batch: one snapshot per burst, not per command."""
        changed = False
        for _ in range(limit):
            try:
                frames = self.cmd.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            envelope, body = split_envelope(frames)
            if body is None:
                self.stats["bad_messages"] += 1
                reply = P.error(P.BAD_MESSAGE, "a command is exactly one frame after the envelope")
            else:
                reply = self.handle_command(body)
            try:
                self.cmd.send_multipart(envelope + [reply], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass   # the asker went away
            if self.changed:
                self.changed, changed = False, True
        if changed:   # right after the answers: no asker waits for it
            self._last_observation.pop("obs.tmux", None)   # what we changed in tmux, the next listing confirms
            self.publish_soon()

    def close(self) -> None:
        self.persist()
        if self.checkpoint_dirty:
            self.write_checkpoint()
        self.tmux.close()
        for s in (self.cmd, self.obs, self.out):
            s.close(0)


def main(argv: list[str] | None = None) -> int:
    rt, config = service_setup("state", argv)
    StateService(rt, exited_linger=config.exited_linger, stale_after=config.stale_after).run()
    return 0
