"""The collector's loop: watch tmux (control-mode notifications plus a slow safety poll), the
process table, ports and git, and PUSH full-state observations to state. It decides nothing;
state keeps the model. Observations are idempotent, so a dropped one costs nothing."""
from __future__ import annotations

import time
from collections import deque

import orjson  # noqa: F401  (loaded first, so the protocol encodes with it)
import zmq

from services import log
from services import protocol as P
from services.collector import identity
from services.collector.agent_files import AgentFiles, open_transcripts
from services.collector.filewatch import FileWatch
from services.collector.notify import relevant
from services.collector.screen import quiet_panes, screen_status, screens_to_read
from services.collector import probes
from services.collector.probes import GitCache, listening_ports, process_table
from services.collector.walkgate import WalkGate, allocated_since
from services.paths import Runtime
from services.sockets import Stopper, service_setup, socket
from services.tmux import (CLIENT_FORMAT, PANE_FORMAT, Tmux, TmuxError, TmuxUnavailable, parse_clients,
                           parse_panes)

DEBOUNCE = 0.01
SCREEN_EVERY = 2.0          # the least time between two looks at one pane's screen
SCREEN_MAX_PER_ROUND = 20
SCREEN_REREAD = 120.0       # a pane whose window printed nothing is read again this seldom (a safety net)
RESEND_EVERY = 5.0
UNSENT_EVENTS_MAX = 10_000  # evidence kept while state's queue is full
WATCHED_FILES_EVERY = 5.0   # the full file scan while inotify reports changes: only a fallback
WATCH_SYNC_EVERY = 30.0     # plan the watches again, in case a new dir's event was missed
CHANGED_DEBOUNCE = 0.005    # after a change is reported, wait this long for the rest of the write
OPEN_FILES_EVERY = 5.0      # the least time between two reads of the agents' open files
OPEN_FILES_AGAIN = 30.0     # and the most, while nothing suggests they changed
PORTS_OWNERS_EVERY = 60.0   # read the table's fds for listening sockets at least this often
NEW_PIDS_LIMIT = 256        # more pids than this since the last look: walk instead of checking each


class CollectorService:
    def __init__(self, rt: Runtime, tmux_every: float = 2.0, procs_every: float = 1.0,
                 ports_every: float = 10.0, git_every: float = 5.0, files_every: float = 1.0):
        self.rt = rt
        self.tmux = Tmux(rt.socket_path)
        self.ctx = zmq.Context.instance()
        self.out = socket(self.ctx, zmq.PUSH, sndhwm=100)
        self.out.connect(rt.observe_endpoint)
        self.every = {"tmux": tmux_every, "procs": procs_every, "ports": ports_every, "git": git_every,
                      "files": files_every}
        self.due = {k: 0.0 for k in self.every}
        self.panes: list = []
        self._client_ttys: set[str] = set()                     # from the last listing
        self._window_panes: dict[str, frozenset[str]] = {}       # window id → its panes, same
        self.listings = 0
        self.listings_asked = 0      # notifications that made a listing due
        self.heard: deque[tuple[str, bool]] = deque(maxlen=64)   # the last notifications, and whether they did
        self.procs: list[identity.Proc] = []
        self.gate = WalkGate()
        self.walks = 0
        self.last_walk: str | None = None     # why the last scan walked, None when it did not
        self._pane_pids: dict[str, int] = {}
        self._agent_of = identity.AgentCache()
        self._agents: dict[str, list[dict]] | None = None   # the last obs.agents panes, None before a walk
        self._lineage: list[int] = []
        self._signed: tuple[list, frozenset] = (None, frozenset())   # (panes, their signature)
        self.table_version = 0        # bumped whenever the process table differs from the last
        self._ports_key: tuple | None = None
        self._ports_until = 0.0
        self._ports_by_pid: dict[int, set[int]] = {}
        self.port_owner_reads = 0
        self.git = GitCache()
        self.files = AgentFiles()
        self.files_every = files_every
        self.watch: FileWatch | None = None
        try:
            self.watch = FileWatch(self.files.watch_trees)
            self.watch.sync()
        except OSError as e:      # no inotify here, or the per-user instance limit: poll
            log.warn("inotify_unavailable", error=e)
            if self.watch is not None:
                self.watch.close()
            self.watch = None
        self.every["files"] = self.files_poll_every()
        self.every["dbs"] = files_every
        self.file_scans = 0
        self.every["watch"] = WATCH_SYNC_EVERY
        self.due["dbs"] = 0.0
        self.due["watch"] = time.monotonic() + WATCH_SYNC_EVERY     # synced just above
        self.changed_due: float | None = None     # when to read the files inotify reported
        self.changed_scans = 0
        self.pane_of_pid: dict[int, str] = {}
        self.open_files: dict[str, int] = {}
        self._next_open_files = self._open_files_until = 0.0
        self._open_files_key: tuple | None = None
        self.open_files_reads = 0
        self.state = socket(self.ctx, zmq.DEALER, max_msg=P.MAX_SNAPSHOT_BYTES)
        self.state.connect(rt.state_endpoint)
        self.every["screen"] = SCREEN_EVERY
        self.due["screen"] = 0.0
        self.captured: dict[str, float] = {}
        self.read_at: dict[str, float] = {}   # wall clock of each pane's last read, against tmux's activity
        self._last: dict[str, tuple[bytes, float]] = {}
        self._tmux_down: str | None = None
        self._listed: tuple[list[str], list[str]] | None = None   # the raw lines of the last listing
        self.dropped = 0
        self.unsent_events: list[dict] = []

    def push(self, kind: str, **fields) -> bool:
        """Send when different from the last one of its kind, or when it is time to resend.
        False when state's queue was full and nothing was sent."""
        message = P.encode(kind, **fields)
        same = P.encode(kind, **{**fields, "at": 0}) if "at" in fields else message   # the clock is not news
        key = kind if kind != "obs.tmux_down" else "obs.tmux"
        last = self._last.get(key)
        now = time.monotonic()
        if last is not None and last[0] == same and now - last[1] < RESEND_EVERY:
            return True
        try:
            self.out.send(message, zmq.NOBLOCK)
            self._last[key] = (same, now)
            return True
        except zmq.Again:
            self.dropped += 1   # state is away; the next cycle sends full state again
            return False

    def push_again(self, kind: str) -> None:
        """Resend the last message of a kind without a clock (obs.tmux) if a resend is due."""
        last = self._last.get(kind)
        now = time.monotonic()
        if last is None or now - last[1] < RESEND_EVERY:
            return
        try:
            self.out.send(last[0], zmq.NOBLOCK)
            self._last[kind] = (last[0], now)
        except zmq.Again:
            self.dropped += 1

    # -- tmux -----------------------------------------------------------------------------

    def refresh_tmux(self) -> None:
        self.listings += 1
        try:
            pane_lines = self.tmux.cmd("list-panes", "-a", "-F", PANE_FORMAT)
            client_lines = self.tmux.cmd("list-clients", "-F", CLIENT_FORMAT)
        except TmuxUnavailable as e:
            self.panes = []
            self._listed = None
            reason = str(e)
            if self._tmux_down != reason:
                log.warn("tmux_unavailable", socket=self.rt.socket_path, reason=reason)
            self._tmux_down = reason
            self.push("obs.tmux_down", reason=reason)
            return
        except TmuxError as e:
            log.warn("tmux_list_failed", error=e)
            return
        if self._tmux_down is not None:
            log.info("tmux_available", socket=self.rt.socket_path)
            self._tmux_down = None
        if (pane_lines, client_lines) == self._listed:
            # most safety polls find nothing new: no parsing, and state gets the same bytes again
            # only when a resend is due
            self.push_again("obs.tmux")
            return
        panes, clients = parse_panes(pane_lines), parse_clients(client_lines)
        self.panes = panes
        self._client_ttys = {c.tty for c in clients}
        window_panes: dict[str, set[str]] = {}
        for p in panes:
            window_panes.setdefault(p.window_id, set()).add(p.pane_id)
        self._window_panes = {w: frozenset(ids) for w, ids in window_panes.items()}
        sent = self.push("obs.tmux", panes=[dict(vars(p)) for p in panes],   # asdict deep-copies: 50x slower
                         clients=[dict(vars(c)) for c in clients])
        # only a listing state has is "the last one": a dropped one is parsed and sent again next
        # poll, never replaced by resending the one before it
        self._listed = (pane_lines, client_lines) if sent else None

    def handle_notifications(self) -> None:
        control = self.tmux.control
        if control is None:
            return
        alive = control.read_available()
        news = False
        while control.notifications:
            line = control.notifications.popleft()
            news_here = relevant(line, self._client_ttys, self._window_panes)
            self.heard.append((line[:200], news_here))
            if news_here:
                news = True
                self.listings_asked += 1
        if news or not alive:
            self.due["tmux"] = min(self.due["tmux"], time.monotonic() + DEBOUNCE)

    # -- processes, ports, git ------------------------------------------------------------

    def scan_processes(self) -> None:
        """Walk the processes under the panes when something may have changed (see walkgate),
        and work out the agents again only when the walk found a different table."""
        now = time.monotonic()
        if self._signed[0] is not self.panes:      # a listing that changed nothing keeps its list
            self._signed = (self.panes,
                            frozenset((p.pane_id, p.pane_pid, p.current_command) for p in self.panes))
        signature = self._signed[1]
        last, gate, new_in_panes = probes.last_pid(), self.gate, None
        if last is not None and gate.last_pid is not None and last != gate.last_pid:
            fresh = allocated_since(gate.last_pid, last, probes.pid_max(), NEW_PIDS_LIMIT)
            if fresh is not None:
                roots, known = {p.pane_pid for p in self.panes}, {}
                new_in_panes = any(probes.alive(pid) and probes.below(pid, roots, known) for pid in fresh)
        gone = not all(map(probes.alive, self._lineage))
        reason = self.last_walk = gate.reason(last, new_in_panes, signature, gone, now)
        gate.record(reason, last, signature, now)
        if reason is not None:
            self.walks += 1
            pane_pids = {p.pane_id: p.pane_pid for p in self.panes}
            procs = process_table(set(pane_pids.values()))
            if self._agents is None or procs != self.procs or pane_pids != self._pane_pids:
                self.identify(pane_pids, procs)
        if self._agents is not None and (reason is not None or self.resend_due("obs.agents", now)):
            self.push("obs.agents", at=time.time(), panes=self._agents)   # unchanged: dropped unless due
        # which agent holds which file open changes when agents come and go, or when a file
        # nobody was seen holding says something; else it is looked at again only now and then
        key = (self.table_version, self.files.untied)
        if self.pane_of_pid and now >= self._next_open_files and \
                (key != self._open_files_key or now >= self._open_files_until):
            self._next_open_files, self._open_files_until = now + OPEN_FILES_EVERY, now + OPEN_FILES_AGAIN
            self._open_files_key = key
            self.open_files_reads += 1
            kids = {ppid: [p.pid for p in procs] for ppid, procs in identity.children_map(self.procs).items()}
            self.open_files = open_transcripts(list(self.pane_of_pid), kids)

    def identify(self, pane_pids: dict[str, int], procs: list[identity.Proc]) -> None:
        self.procs, self._pane_pids = procs, pane_pids
        self.table_version += 1
        self._agent_of.keep(procs)
        found = identity.pane_agents(pane_pids, procs, self._agent_of)
        self._agents = {pane: [{"agent": a, "pid": pid} for a, pid in agents] for pane, agents in found.items()}
        self.pane_of_pid = {pid: pane for pane, agents in found.items() for _, pid in agents}
        by_pid, stop = {p.pid: p for p in procs}, set(pane_pids.values())
        # what must stay alive for the agents to stay where they are: if one goes, walk again
        self._lineage = sorted({q for pid in self.pane_of_pid for q in identity.lineage(pid, by_pid, stop)})

    def resend_due(self, kind: str, now: float) -> bool:
        last = self._last.get(kind)
        return last is None or now - last[1] >= RESEND_EVERY

    def watching(self) -> bool:
        """Whether inotify reports every agent file change (no watch was refused)."""
        return self.watch is not None and not self.watch.full

    def scan_files(self) -> None:
        self.file_scans += 1
        self.every["files"] = self.files_poll_every()
        self.send_events(self.files.scan(time.monotonic(), time.time(), self.pane_of_pid, self.open_files))

    def files_poll_every(self) -> float:
        return max(self.files_every, WATCHED_FILES_EVERY) if self.watching() else self.files_every

    def scan_dbs(self) -> None:
        if self.watching():     # otherwise scan_files asks them, as often
            self.send_events(self.files.scan_unwatched(time.monotonic(), time.time(), self.pane_of_pid,
                                                       self.open_files))

    def sync_watches(self) -> None:
        if self.watch is not None:
            self.watch.sync()

    def handle_file_events(self) -> None:
        if self.watch.read() and self.changed_due is None:
            self.changed_due = time.monotonic() + CHANGED_DEBOUNCE

    def scan_changed(self) -> None:
        self.changed_due = None
        paths, rescan = self.watch.take()
        if rescan:
            self.scan_files()
            return
        self.changed_scans += 1
        self.send_events(self.files.scan_changed(paths, time.monotonic(), time.time(), self.pane_of_pid,
                                                 self.open_files))

    def send_events(self, events: list[dict]) -> None:
        for i in range(0, len(events), 200):
            self.push_events(events[i:i + 200])

    def push_events(self, events: list[dict]) -> None:
        """Evidence is news, not state: never deduplicated against the last push, and not lost
        when state's queue is full: the file tails have moved past it, so it is kept (up to
        UNSENT_EVENTS_MAX, the oldest dropped first) and sent before anything newer."""
        self.unsent_events.extend(events)
        if len(self.unsent_events) > UNSENT_EVENTS_MAX:
            self.dropped += len(self.unsent_events) - UNSENT_EVENTS_MAX
            del self.unsent_events[:-UNSENT_EVENTS_MAX]
        self.flush_events()

    def flush_events(self) -> None:
        while self.unsent_events:
            batch = self.unsent_events[:200]
            try:
                self.out.send(P.encode("obs.events", events=batch), zmq.NOBLOCK)
            except zmq.Again:
                return   # the loop tries again on its next turn
            del self.unsent_events[:len(batch)]

    def scan_ports(self) -> None:
        kids = identity.children_map(self.procs)
        by_pid = self.listening_by_pid()
        sessions: dict[str, set[int]] = {}
        for p in self.panes:
            ports = sessions.setdefault(p.session_id, set())
            for pid in identity.descendants(p.pane_pid, kids):
                ports |= by_pid.get(pid, set())
        self.push("obs.ports", sessions={sid: sorted(ports) for sid, ports in sessions.items()})

    def listening_by_pid(self) -> dict[int, set[int]]:
        """pid → TCP ports it listens on, for the processes under the panes. Which process
        holds which socket is read from their fds only when the listening sockets or the process
        table changed (or a minute passed): most scans ask the kernel for the listening sockets
        and stop there."""
        listening = probes.listening_sockets()
        if listening is None:
            return listening_ports()
        now = time.monotonic()
        key = (frozenset(listening.items()), self.table_version)
        if key != self._ports_key or now >= self._ports_until:
            self._ports_key, self._ports_until = key, now + PORTS_OWNERS_EVERY
            self.port_owner_reads += 1
            by_pid: dict[int, set[int]] = {}
            if listening:
                for proc in self.procs:
                    ports = {listening[i] for i in probes.socket_inodes(proc.pid) if i in listening}
                    if ports:
                        by_pid[proc.pid] = ports
            self._ports_by_pid = by_pid
        return self._ports_by_pid

    def scan_git(self) -> None:
        dirs = {p.session_path for p in self.panes if p.session_path}
        now = time.monotonic()
        info = {}
        for d in sorted(dirs):
            got = self.git.info(d, now)
            info[d] = got if got is not None else {"branch": None, "dirty": False}
        self.git.forget_except(dirs)
        self.push("obs.git", dirs=info)

    # -- screens --------------------------------------------------------------------------

    def ask_screen_candidates(self) -> None:
        try:
            self.state.send_multipart([b"", P.encode("screen_candidates")], zmq.NOBLOCK)
        except zmq.Again:
            pass

    def handle_state_reply(self) -> None:
        while True:
            try:
                frames = self.state.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                reply = P.decode_reply(frames[-1])
            except P.ProtocolError:
                continue
            result = reply.get("result") if reply["ok"] else None
            if isinstance(result, dict) and isinstance(result.get("panes"), list):
                self.check_screens(result["panes"])

    def check_screens(self, candidates: list) -> None:
        """Read the bottom of each candidate's screen, at most once per SCREEN_EVERY per pane."""
        now, events = time.monotonic(), []
        live = {p.pane_id for p in self.panes}
        quiet: set[str] = set()
        if self.read_at and candidates:
            try:   # one small listing instead of a capture per quiet pane
                quiet = quiet_panes(self.read_at, {p.pane_id: p.window_id for p in self.panes},
                                    self.tmux.window_activity())
            except TmuxError:
                pass
        for c in screens_to_read(candidates, live, self.captured, now, SCREEN_EVERY, SCREEN_MAX_PER_ROUND,
                                 quiet, SCREEN_REREAD):
            self.captured[c["pane"]] = now
            self.read_at[c["pane"]] = time.time()
            try:
                text = self.tmux.capture_pane(c["pane"])
            except TmuxError:
                continue
            status = screen_status(c["agent"], text)
            if status is not None and status != c.get("status"):
                ev = {"agent": c["agent"], "source": "screen", "pane": c["pane"], "status": status, "at": time.time()}
                if isinstance(c.get("pid"), int):
                    ev["pid"] = c["pid"]
                events.append(ev)
        self.captured = {p: t for p, t in self.captured.items() if p in live}
        self.read_at = {p: t for p, t in self.read_at.items() if p in live}
        if events:
            self.push_events(events)

    # -- loop -----------------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        if not self.tmux.connected and now >= self.due.get("connect", 0.0):
            self.due["connect"] = now + 2.0
            if self.tmux.connect():
                log.info("tmux_control_connected", socket=self.rt.socket_path)
                self.due["tmux"] = now
        if self.changed_due is not None and now >= self.changed_due:
            try:
                self.scan_changed()
            except Exception as e:
                log.error("probe_failed", probe="changed", error=repr(e))
        for kind, action in (("tmux", self.refresh_tmux), ("procs", self.scan_processes),
                             ("files", self.scan_files), ("dbs", self.scan_dbs), ("watch", self.sync_watches),
                             ("screen", self.ask_screen_candidates), ("ports", self.scan_ports),
                             ("git", self.scan_git)):
            if now >= self.due[kind]:
                self.due[kind] = now + self.every[kind]
                try:
                    action()
                except Exception as e:   # one failed probe must not stop the others
                    log.error("probe_failed", probe=kind, error=repr(e))

    def step(self, timeout: float = 1.0, stop_fd: int | None = None) -> None:
        """One turn: do what is due, then wait (at most `timeout`, less when something is due
        sooner) for tmux, state or a stop request, and read what came."""
        self.tick()
        if self.unsent_events:
            self.flush_events()
        next_due = min(v for k, v in self.due.items() if k != "connect")
        if self.unsent_events:
            next_due = min(next_due, time.monotonic() + 0.05)
        if self.changed_due is not None:
            next_due = min(next_due, self.changed_due)
        wait = max(0.0, next_due - time.monotonic())
        poller = zmq.Poller()
        if stop_fd is not None:
            poller.register(stop_fd, zmq.POLLIN)
        poller.register(self.state, zmq.POLLIN)
        if self.tmux.connected:
            poller.register(self.tmux.control.fileno(), zmq.POLLIN)
        if self.watch is not None:
            poller.register(self.watch.fileno(), zmq.POLLIN)
        events = dict(poller.poll(int(min(wait, timeout) * 1000) + 1))
        if self.tmux.connected and self.tmux.control.fileno() in events:
            self.handle_notifications()
        if self.watch is not None and self.watch.fileno() in events:
            try:
                self.handle_file_events()
            except OSError as e:   # the inotify fd failed: poll from now on
                log.error("inotify_failed", error=repr(e))
                self.watch.close()
                self.watch = None
                self.every["files"] = self.files_poll_every()
        if self.state in events:
            self.handle_state_reply()

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        self.tmux.close()
        self.out.close(0)
        self.state.close(0)

    def run(self) -> None:
        stopper = Stopper()
        log.info("started", socket=self.rt.socket_path)
        while not stopper.stop and not stopper.orphaned():
            self.step(1.0, stopper.fileno())
        log.info("stopping")
        self.close()


def main(argv: list[str] | None = None) -> int:
    rt, c = service_setup("collector", argv)
    CollectorService(rt, tmux_every=c.tmux_poll, procs_every=c.process_scan, ports_every=c.ports_scan,
                     git_every=c.git_scan).run()
    return 0
