"""`opensessions sidebar`: the thin loop that wires the pure parts to the terminal and sockets.

One poll waits on the publisher feed, the state link, stdin and a wakeup pipe (signals), with
a timeout that is the next thing due: a missed heartbeat, a command's deadline, the spinner
(only while an agent runs), a footer message expiring. Nothing is drawn unless the snapshot or
the view changed.

Start-up is ordered for the first paint: importing pyzmq costs more than everything else the
sidebar does before it can paint, so the first snapshot is peeked at with the standard-library
ZMTP client the CLI uses, painted, and only then is pyzmq loaded and the feed set up (which
subscribes and asks for the snapshot again: the peek is never trusted past the first paint).
"""
from __future__ import annotations

import os
import signal
import sys
import time

ESC_WAIT = 0.03           # s: ESC alone is the Esc key if nothing follows within this
PEEK_TIMEOUT = 0.1        # s the pre-pyzmq snapshot peek may take; a stalled publisher costs no more
FIRST_PAINT_WAIT = 0.15   # s: the first paint waits this long for the snapshot, not longer
SPIN_EVERY = 0.1
REQUERY_EVERY = 3.0       # s between tmux questions about this pane's session and client
VERIFY_AFTER = 0.3        # s after start: ask tmux where this pane is, once the first paint is out
PAINT_LOG = "OPENSESSIONS_SIDEBAR_PAINT_LOG"


def close_sidebars(app: "App") -> bool:
    """`q`: close the sidebars — every one, and they stay closed: state turns them off and
    removes their panes (this one included). True ends this loop even if state is away."""
    if app.link is not None and app.link.sock is not None:
        try:
            app.link.send("sidebars", {"action": "off"}, time.monotonic())
            app.link.sock.poll(500)   # the answer, or this pane's end, comes within a moment
        except Exception:   # state away: this sidebar still closes
            pass
    return True


def _calling_pane(rt) -> tuple[str | None, str | None]:
    """(this pane, the session it was started in) when inside the tmux server this sidebar
    serves. $TMUX is `socket,server pid,session id`: the session costs no fork and no import of
    the tmux module at start; tmux is asked later, off the first paint's path, in case the pane
    was moved since."""
    tmux_env, pane = os.environ.get("TMUX"), os.environ.get("TMUX_PANE")
    if not (tmux_env and pane):
        return None, None
    parts = tmux_env.split(",")
    if parts[0] != rt.socket_path:
        return None, None
    session = "$" + parts[2] if len(parts) >= 3 and parts[2].isdigit() else None
    return pane, session


class App:
    def __init__(self, rt, explicit_client: str | None) -> None:
        from cli.sidebar.view import View
        self.rt = rt
        now = time.monotonic()
        self.started = now
        self.zmq = self.ctx = self.feed = self.link = None   # connect() sets them up
        self.peeked: dict | None = None
        self._shaped_from: dict | None = None
        self._shape_memo: dict = {}      # name → (raw, shaped): unchanged sessions are not shaped again
        self._shaped: dict | None = None
        self.explicit = explicit_client
        self.pane, self.pane_session = _calling_pane(rt)
        self.tmux_client: str | None = None
        self.next_query = now + VERIFY_AFTER
        self.verified = self.pane is None
        self.view = View(pane=self.pane, home=os.path.expanduser("~"))
        self.frame = None
        self.screen = None
        self.stop = False
        self.resized = False
        self.resized_since = False   # the screen was cleared: the next frame is drawn even if unchanged
        self.dirty = True
        self.painted = False
        self.in_buf = b""
        self.esc_deadline = 0.0
        self.next_spin = 0.0
        self.paint_log = os.environ.get(PAINT_LOG)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    # -- connecting ----------------------------------------------------------------------------

    def peek(self) -> None:
        """The publisher's current snapshot for the first paint, without pyzmq; nothing if it
        does not answer at once."""
        endpoint = self.rt.sync_endpoint
        if not endpoint.startswith("ipc://"):
            return
        from cli import zmtp
        from services import protocol as P
        try:
            frame = zmtp.request(endpoint[len("ipc://"):], P.encode("get_snapshot"), PEEK_TIMEOUT,
                                 max_bytes=P.MAX_SNAPSHOT_BYTES)
            msg = P.decode(frame, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)
        except (zmtp.ZmtpError, P.ProtocolError, OSError):
            return
        if msg["type"] == "snapshot" and isinstance(msg.get("snapshot"), dict):
            self.peeked = msg["snapshot"]

    def connect(self, now: float) -> None:
        import orjson  # noqa: F401  (after the first paint: every later snapshot decodes 2x faster)
        import zmq

        from cli.sidebar.feed import Feed
        from services.protocol import use_fast_codec
        use_fast_codec()
        from cli.sidebar.link import StateLink
        self.zmq = zmq
        self.ctx = zmq.Context(1)
        self.feed = Feed(self.rt, self.ctx)
        self.feed.start(now)
        self.link = StateLink(self.rt, self.ctx)

    @property
    def snapshot(self) -> dict | None:
        """What is drawn: the feed's snapshot (or the peeked one), checked into shape once."""
        raw = self.feed.snapshot if self.feed is not None and self.feed.snapshot is not None else self.peeked
        if raw is not self._shaped_from:
            from cli.sidebar.shape import shape
            self._shaped_from, self._shaped = raw, shape(raw, self._shape_memo)
        return self._shaped

    # -- who this sidebar is for ---------------------------------------------------------------

    def ask_tmux(self, now: float) -> None:
        if self.pane is None or now < self.next_query:
            return
        self.next_query = now + REQUERY_EVERY
        self.verified = True
        from services.tmux import pane_client
        answer = pane_client(self.rt.socket_path, self.pane)
        if answer is not None:
            self.pane_session, self.tmux_client = answer

    def follow_snapshot(self, now: float) -> None:
        from cli.sidebar.view import on_snapshot, pick_client
        snap = self.snapshot
        if snap is None:
            return
        if self.pane is not None and self.pane_session not in {s.get("id") for s in snap.get("sessions") or []}:
            self.ask_tmux(now)   # the pane moved to another session, or its session is hidden
        client, ambiguous = pick_client(snap, self.explicit, self.pane_session, self.tmux_client)
        if ambiguous:
            self.ask_tmux(now)
            client, _ = pick_client(snap, self.explicit, self.pane_session, self.tmux_client)
        self.view, cmds = on_snapshot(self.view, snap, client, self.pane_session, now)
        self.send(cmds, now)

    # -- commands ------------------------------------------------------------------------------

    def send(self, cmds: list, now: float) -> None:
        from cli.sidebar import view as V
        for kind, fields in cmds:
            if kind == V.QUIT:
                self.stop = True
            elif kind == V.CLOSE_SIDEBARS:
                self.stop = close_sidebars(self)
            elif kind == V.RESYNC:
                if self.feed is not None:
                    self.feed.resync(now)
            elif self.link is None:
                continue   # before connect(): nothing has been typed yet, so nothing is lost
            elif not self.link.send(kind, fields, now):
                self.view = V.say(self.view.replace(state_ok=False),
                                  "opensessions is not reachable (reconnecting…)", now, "error")
            self.dirty = True

    # -- input ---------------------------------------------------------------------------------

    def on_input(self, data: bytes, now: float, final: bool = False) -> None:
        from cli.sidebar import view as V
        from cli.sidebar.keys import parse
        events, self.in_buf = parse(self.in_buf + data, final=final)
        self.esc_deadline = now + ESC_WAIT if self.in_buf else 0.0
        if not events:
            return
        snap = self.snapshot or {}
        if self.explicit is None and self.pane is not None and self.view.client is not None:
            # a key came from the most recently active client; with several on this session,
            # make sure that is the one commands are for
            _, ambiguous = V.pick_client(snap, None, self.pane_session, self.tmux_client)
            if ambiguous:
                self.next_query = min(self.next_query, now)
                self.follow_snapshot(now)
        frame = self.frame
        ctx = V.Ctx(snap.get("sessions") or [], snap.get("settings") or {},
                    frame.hits if frame else {}, frame.page if frame else 10, now)
        for event in events:
            self.view, cmds = V.handle(self.view, event, ctx)
            self.send(cmds, now)
            if self.stop:
                return
        self.dirty = True

    # -- signals -------------------------------------------------------------------------------

    def _on_signal(self, signum, frame) -> None:
        if signum == signal.SIGWINCH:
            self.resized = True
        else:
            self.stop = True

    def install_signals(self) -> None:
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for sig in (signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    # -- drawing -------------------------------------------------------------------------------

    def paint(self, now: float) -> None:
        from cli.sidebar import view as V
        from cli.sidebar.render import render
        from cli.sidebar.themes import palette
        snap = self.snapshot
        theme = V.theme_under_cursor(self.view) if self.view.mode == V.THEME else \
            ((snap or {}).get("settings") or {}).get("theme")
        h, w = self.screen.size()
        previous, self.frame = self.frame, render(snap, self.view, w, h, theme)
        if self.frame.scroll != self.view.scroll:
            self.view = self.view.replace(scroll=self.frame.scroll)
        self.dirty = False
        if previous is not None and not self.resized_since and previous.lines == self.frame.lines:
            return   # a change that shows nothing (the feed's first snapshot after the peek…)
        self.resized_since = False
        self.screen.paint(self.frame, palette(theme)["bg"])
        self.painted = True
        if self.paint_log:
            try:
                with open(self.paint_log, "a") as f:
                    seq = self.feed.core.seq if self.feed is not None else -1
                    f.write(f"{time.time():.6f} {seq} {int(snap is not None)}\n")
            except OSError:
                self.paint_log = None

    # -- the loop ------------------------------------------------------------------------------

    def deadline(self, now: float) -> float:
        due = [self.feed.deadline(), self.link.deadline()]
        if self.esc_deadline:
            due.append(self.esc_deadline)
        if self.view.message and self.view.message_until:
            due.append(self.view.message_until)
        if self.view.pending_hl is not None:
            due.append(self.view.pending_until)
        if self.frame is not None and self.frame.animated:
            due.append(self.next_spin)
        if not self.painted:
            due.append(self.started + FIRST_PAINT_WAIT)
        if not self.verified:
            due.append(self.next_query)
        return min(due)

    def timers(self, now: float) -> None:
        from cli.sidebar import view as V
        if self.feed.tick(now):
            self.on_feed_change(now)
        lost = self.link.tick(now)
        for kind in lost:
            self.view = V.on_reply(self.view, kind, None, now)
            self.dirty = True
        if self.link.ok != self.view.state_ok:
            self.view = self.view.replace(state_ok=self.link.ok)
            self.dirty = True
        if self.esc_deadline and now >= self.esc_deadline:
            self.on_input(b"", now, final=True)
        if self.view.message and now >= self.view.message_until:
            self.view = self.view.replace(message=None)
            self.dirty = True
        if self.view.pending_hl is not None and now >= self.view.pending_until:
            self.follow_snapshot(now)
            self.dirty = True
        if not self.verified and self.painted and now >= self.next_query:
            self.ask_tmux(now)
            self.follow_snapshot(now)
            self.dirty = True
        if self.frame is not None and self.frame.animated and now >= self.next_spin:
            self.next_spin = now + SPIN_EVERY
            self.view = self.view.replace(tick=self.view.tick + 1)
            self.dirty = True

    def on_feed_change(self, now: float) -> None:
        if self.feed.link != self.view.link:
            self.view = self.view.replace(link=self.feed.link)
        self.follow_snapshot(now)
        self.dirty = True

    def run(self) -> int:
        from cli.sidebar.screen import Screen
        self.install_signals()
        self.peek()
        self.screen = Screen()
        if self.peeked is not None:
            self.follow_snapshot(time.monotonic())
            self.paint(time.monotonic())
        self.connect(time.monotonic())
        zmq = self.zmq
        while not self.stop:
            now = time.monotonic()
            if self.resized:
                self.resized = False
                self.screen.resize()
                self.dirty = self.resized_since = True
            ready = self.painted or self.snapshot is not None or now >= self.started + FIRST_PAINT_WAIT
            if self.dirty and ready:
                self.paint(now)
            poller = zmq.Poller()
            for s in (*self.feed.sockets(), self.link.sock):
                poller.register(s, zmq.POLLIN)
            poller.register(0, zmq.POLLIN)
            poller.register(self.wake_r, zmq.POLLIN)
            wait = max(0.0, self.deadline(now) - now)
            try:
                events = dict(poller.poll(int(wait * 1000) + 1))
            except zmq.ZMQError:
                continue   # EINTR: the signal's flag is handled at the top
            now = time.monotonic()
            if self.wake_r in events:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            if 0 in events:
                try:
                    data = os.read(0, 4096)
                except BlockingIOError:
                    data = None
                except OSError:
                    break   # the pane is gone
                if data == b"":
                    break
                if data:
                    self.on_input(data, now)
            feed_changed = False
            for s in self.feed.sockets():
                if s in events:
                    feed_changed = self.feed.read(s, now) or feed_changed
            if feed_changed:
                self.on_feed_change(now)
            if self.link.sock in events:
                from cli.sidebar.view import on_reply
                for kind, reply in self.link.read(now):
                    self.view = on_reply(self.view, kind, reply, now)
                    self.dirty = True
            self.timers(now)
        return 0

    def close(self) -> None:
        if self.screen is not None:
            self.screen.close()
        try:
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        for part in (self.feed, self.link):
            if part is not None:
                part.close()
        if self.ctx is not None:
            self.ctx.destroy(linger=0)


def run(rt, args) -> int:
    if not (os.isatty(0) and os.isatty(1)):
        print("opensessions sidebar: needs a terminal (run it in a tmux pane)", file=sys.stderr)
        return 2
    app = None
    try:
        app = App(rt, getattr(args, "client", None))
        return app.run()
    except KeyboardInterrupt:
        return 0
    except Exception as e:   # one line, never a traceback over the pane
        if app is not None and app.screen is not None:
            app.screen.close()
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"opensessions sidebar: {msg}", file=sys.stderr)
        return 1
    finally:
        if app is not None:
            try:
                app.close()
            except Exception:
                pass
