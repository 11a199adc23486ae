"""The measurements `python -m bench` makes on a ScaleWorld, one function per DESIGN §6 path.

Every function returns samples in ms (or a count, a percentage, MiB) and leaves the world as it
found it: clients back on their sessions, probes in a known state.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import re
import select
import subprocess
import time
import uuid

import orjson
import psutil
import zmq

from bench.harness import BIN, PtyClient, pct, wait_for  # noqa: F401  (pct: M.pct in bench/__main__)
from bench.world import PaintLog, ScaleWorld
from services import protocol as P
from services.paths import Runtime

PREFIX = b"\x02"   # C-b, tmux's default prefix


class Samples(list):
    """Latencies in ms, and what could not be measured: `lost` (no answer in time, or an error),
    `errors` (their messages), `published` (for event → sidebar: ms until the snapshot was
    published, before any sidebar)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.lost = 0
        self.errors: list[str] = []
        self.published: list[float] = []


# -- talking to the services ---------------------------------------------------------------------

class Req:
    """One REQ socket to a service, for the bench's own questions."""

    def __init__(self, ctx: zmq.Context, endpoint: str):
        self.ctx, self.endpoint = ctx, endpoint
        self.s = self._open()

    def _open(self) -> zmq.Socket:
        s = self.ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.endpoint)
        return s

    def ask(self, kind: str, timeout: float = 5.0, **fields) -> dict:
        self.s.send(P.encode(kind, **fields))
        if not self.s.poll(int(timeout * 1000)):
            self.s.close(0)
            self.s = self._open()
            raise RuntimeError(f"no answer to {kind} from {self.endpoint}")
        reply = P.decode_reply(self.s.recv())
        if not reply["ok"]:
            raise RuntimeError(f"{kind}: {reply['error']['message']}")
        return reply.get("result") or {}

    def close(self) -> None:
        self.s.close(0)


# -- key press and CLI switch --------------------------------------------------------------------

class SessionWatch:
    """The bench's own control-mode client: `%client-session-changed` lines, each stamped with
    the moment it was read — when tmux has moved the client, without polling."""

    def __init__(self, socket: str, env: dict):
        self.proc = subprocess.Popen(["tmux", "-S", socket, "-C", "attach", "-f", "no-output,ignore-size"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf = b""
        self.changes: list[tuple[float, str, str]] = []   # (perf_counter, tty, session name)

    def _read(self, timeout: float) -> None:
        if not select.select([self.fd], [], [], timeout)[0]:
            return
        now = time.perf_counter()
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        if not data:
            raise RuntimeError("the bench's control client went away")
        *lines, self.buf = (self.buf + data).split(b"\n")
        for line in lines:
            if line.startswith(b"%client-session-changed "):
                parts = line.decode("utf-8", "replace").split(" ", 3)
                if len(parts) == 4:
                    self.changes.append((now, parts[1], parts[3]))

    def clear(self) -> None:
        self._read(0)
        self.changes.clear()

    def wait(self, tty: str, name: str, timeout: float = 5.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            for at, t, n in self.changes:
                if t == tty and n == name:
                    return at
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"client {tty} did not move to {name}")
            self._read(min(left, 0.5))

    def close(self) -> None:
        try:
            self.proc.stdin.close()   # ends a control client; never signal tmux
            self.proc.wait(timeout=3)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def visible_names(world: ScaleWorld) -> list[str]:
    return [s["name"] for s in world.snapshot()["sessions"]]


def product_key_table(world: ScaleWorld) -> bool:
    """`opensessions tmux install` (what opensessions.tmux runs), with sidebars left to the bench:
    `prefix o` → the `opensessions` key table, whose 1–9 state binds natively to the sessions in
    display order. False when this checkout has no key table yet."""
    import importlib.util
    try:
        from services.tmux import KEY_TABLE
    except ImportError:
        return False
    if importlib.util.find_spec("cli.tmux_plugin") is None:
        return False
    w = world.w
    w.tmux("set-option", "-g", "@opensessions-sidebars", "off")
    if w.cli("tmux", "install").returncode != 0:
        return False
    want = min(9, len(world.names))
    try:
        wait_for(lambda: sum("switch-client" in line for line in
                             w.tmux("list-keys", "-T", KEY_TABLE, check=False).splitlines()) >= want,
                 timeout=10, what="state to bind the index keys")
    except AssertionError:
        return False
    return True


def install_key_table(world: ScaleWorld, how: str, names: list[str]) -> tuple[str, dict[str, str]]:
    """The key that enters the table, and the table's 1–9 → session names (display order).
    how="product": the table state keeps (see product_key_table); how="native": `prefix o` →
    `switch-client -t '=NAME'` bindings the bench installs (no process forked); how="cli":
    `prefix O` → `run-shell` of `opensessions switch N --client #{client_tty}` (a CLI process
    per key). `names`: the sessions in display order (asked while the world is quiet: under
    load the CLI's `ls` may not get an answer in time)."""
    names = names[:9]
    w = world.w
    if how == "native":
        w.tmux("bind-key", "-T", "prefix", "o", "switch-client", "-T", "opensessions")
        for i, name in enumerate(names, start=1):
            w.tmux("bind-key", "-T", "opensessions", str(i), "switch-client", "-t", "=" + name)
    elif how == "cli":
        w.tmux("bind-key", "-T", "prefix", "O", "switch-client", "-T", "osbench-cli")
        for i in range(1, len(names) + 1):
            w.tmux("bind-key", "-T", "osbench-cli", str(i), "run-shell", "-b",
                   f"{BIN} -S {w.socket} switch {i} --client '#{{client_tty}}'")
    return ("O" if how == "cli" else "o"), {str(i): name for i, name in enumerate(names, start=1)}


def key_presses(world: ScaleWorld, client: PtyClient, watch: SessionWatch, how: str, n: int,
                seconds: float = 60.0, names: list[str] | None = None) -> Samples:
    """`C-b o N` typed into the client's terminal: from the last key, N, until tmux reports the
    client on the Nth session. At most n presses and `seconds`; a switch that does not come
    within 5 s is counted as lost."""
    table_key, targets = install_key_table(world, how, names or visible_names(world))
    table = "osbench-cli" if how == "cli" else "opensessions"
    current = world.w.client_session(client.tty)
    keys = list(targets)
    out = Samples()
    end = time.monotonic() + seconds
    for i in range(n):
        if time.monotonic() > end:
            break
        key = next(k for k in keys[i % len(keys):] + keys if targets[k] != current)
        # typed as a person types: tmux runs a binding's command after the rest of the input it
        # read with it, so `C-b o 1` in one write would look `1` up before the table switched
        client.write(PREFIX)
        time.sleep(0.015)
        client.write(table_key.encode())
        try:
            wait_for(lambda: world.w.tmux("display-message", "-p", "-c", client.tty, "#{client_key_table}").strip()
                     == table, timeout=5, interval=0.005, what=f"{client.tty} in key table {table}")
        except AssertionError:
            out.lost += 1
            continue
        watch.clear()
        t0 = time.perf_counter()
        client.write(key.encode())
        try:
            out.append((watch.wait(client.tty, targets[key]) - t0) * 1000)
        except RuntimeError:
            out.lost += 1
        current = world.w.client_session(client.tty)
        time.sleep(0.02)
    return out


def cli_switches(world: ScaleWorld, client: PtyClient, n: int, seconds: float = 60.0) -> Samples:
    """`opensessions switch N --client TTY`, the whole process, as a user's shell runs it."""
    sessions = len(world.names)
    out = Samples()
    end = time.monotonic() + seconds
    for i in range(n):
        if time.monotonic() > end:
            break
        target = str((i * 7) % sessions + 1)
        t0 = time.perf_counter()
        proc = subprocess.run([BIN, "-S", world.w.socket, "switch", target, "--client", client.tty],
                              env=world.w.env, capture_output=True, timeout=30)
        if proc.returncode != 0:
            out.lost += 1
            out.errors.append(proc.stderr.decode().strip()[:200])
            continue
        out.append((time.perf_counter() - t0) * 1000)
    return out


def home(world: ScaleWorld, client: PtyClient, session: str) -> None:
    world.w.tmux("switch-client", "-c", client.tty, "-t", "=" + session)


# -- the state command path under an observation flood ------------------------------------------

def flood(endpoint: str, panes: list, clients: list, rate: int, seconds: float, ready, stop) -> None:
    """PUSH obs.tmux listings at `rate` per second, as a collector gone wild would; each differs
    from the last (a pane title), so each is a real model update (the worst case, not no-ops)."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 10000)
    s.connect(endpoint)
    variants = []
    for k in range(2):
        changed = [dict(p, title=f"{p['title']}-{k}") for p in panes]
        variants.append(P.encode("obs.tmux", panes=changed, clients=clients))
    ready.set()
    interval = 1.0 / rate
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds and not stop.is_set():
        try:
            s.send(variants[n % 2], zmq.NOBLOCK)
        except zmq.Again:
            pass
        n += 1
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    s.close()
    ctx.term()


class Flood:
    """The flood in its own process (spawned: nothing of the bench's sockets is inherited)."""

    def __init__(self, world: ScaleWorld, rate: int, seconds: float):
        from services.tmux import Tmux
        t = Tmux(world.w.socket)
        panes = [dataclasses.asdict(p) for p in t.list_panes()]
        clients = [dataclasses.asdict(c) for c in t.list_clients()]
        t.close()
        mp = multiprocessing.get_context("spawn")
        self.ready, self.stop = mp.Event(), mp.Event()
        rt = Runtime.for_socket(world.w.socket, world.w.env)
        self.proc = mp.Process(target=flood, args=(rt.observe_endpoint, panes, clients, rate, seconds,
                                                   self.ready, self.stop), daemon=True)
        self.proc.start()
        if not self.ready.wait(20):
            self.close()
            raise RuntimeError("the flood did not start")
        time.sleep(0.5)

    def close(self) -> None:
        self.stop.set()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def timed(one, n: int, seconds: float, gap: float = 0.0) -> Samples:
    """Up to n samples of one() in ms, for at most `seconds`, with `gap` after each. one()
    returns None when it worked, else what went wrong (counted as lost, not timed); it may
    return "stop" to end the run (no answer at all)."""
    out = Samples()
    end = time.monotonic() + seconds
    for i in range(n):
        if time.monotonic() > end:
            break
        t0 = time.perf_counter()
        err = one(i)
        if err == "stop":
            out.lost += 1
            break
        if err is not None:
            out.lost += 1
            out.errors.append(err[:200])
            continue
        out.append((time.perf_counter() - t0) * 1000)
        if gap:
            time.sleep(gap)
    return out


def round_trips(endpoint: str, messages: list[bytes], n: int, seconds: float = 60.0, gap: float = 0.0) -> Samples:
    """REQ→REP with state, in-process: the command path alone, no process start. `gap`: a pause
    after each reply (a switch sets off work in every service; back to back, the next command
    would measure that work's queue rather than the command path)."""
    s = zmq.Context.instance().socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)

    def one(i: int) -> str | None:
        s.send(messages[i % len(messages)])
        if not s.poll(10000):
            return "stop"
        reply = P.decode_reply(s.recv())
        return None if reply["ok"] else reply["error"]["message"]
    try:
        return timed(one, n, seconds, gap)
    finally:
        s.close()


def tmux_switches(world: ScaleWorld, client: PtyClient, n: int, seconds: float = 60.0, gap: float = 0.0) -> Samples:
    """tmux's own `switch-client` over a control-mode connection of the bench's, with no
    opensessions in the way: the floor under state's `switch` round trip in the same world."""
    from services.tmux import Tmux
    tmux = Tmux(world.w.socket)
    if not tmux.connect():
        out = Samples()
        out.lost += 1
        return out
    names = world.names

    def one(i: int) -> str | None:
        try:
            tmux.cmd("switch-client", "-c", client.tty, "-t", "=" + names[(i * 7) % len(names)])
        except Exception as e:   # noqa: BLE001 — a failed sample is counted, not fatal
            return str(e)
        return None
    try:
        return timed(one, n, seconds, gap)
    finally:
        tmux.close()


# -- agent event → visible in a sidebar ----------------------------------------------------------

_SEQ = re.compile(rb'"seq":(\d+)')


def _status_of(raw: bytes, tid: str) -> str | None:
    """A thread's status in a published snapshot, without decoding ~100 KB of JSON."""
    i = raw.find(b'"thread_id":"' + tid.encode() + b'"')
    if i < 0:
        return None
    j = raw.find(b'"status":"', i)
    if j < 0:
        return None
    j += len(b'"status":"')
    return raw[j:raw.find(b'"', j)].decode()


class Visibility:
    """Change a probe thread's status; find the first published snapshot that shows it (a SUB of
    the bench's own), then the first paint of each sidebar of that snapshot or a later one (their
    paint logs name the sequence number they painted)."""

    def __init__(self, world: ScaleWorld, ctx: zmq.Context):
        self.world = world
        rt = Runtime.for_socket(world.w.socket, world.w.env)
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVHWM, 100000)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(rt.pub_endpoint)
        self.logs = [PaintLog(sb.log) for sb in world.sidebars]

    def _drain(self) -> None:
        while True:
            try:
                self.sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def _published(self, tid: str, status: str, timeout: float = 10.0) -> tuple[int, float] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.sub.poll(100):
                continue
            raw = self.sub.recv()
            if b'"type":"snapshot"' not in raw[:64]:
                continue
            if _status_of(raw, tid) == status:
                return int(_SEQ.search(raw).group(1)), time.time()
        return None

    def _painted(self, log: PaintLog, seq: int, t0: float, timeout: float = 5.0) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ts, s, has in log.read():
                if s >= seq and ts >= t0 and has:
                    return ts
            time.sleep(0.002)
        return None

    def sample(self, change, tid: str, status: str, out: "Samples") -> bool:
        """Run change(); add the ms until each sidebar painted it to `out`. False when no
        snapshot showed the change within 10 s."""
        self._drain()
        for log in self.logs:   # forget old paints
            log.read()
            log.lines.clear()
        t0 = time.time()
        try:
            change()
        except RuntimeError as e:
            out.lost += len(self.logs)
            out.errors.append(str(e)[:200])
            return False
        got = self._published(tid, status)
        if got is None:
            out.lost += len(self.logs)
            out.errors.append(f"no snapshot showed {status} within 10 s")
            return False
        seq, pub = got
        out.published.append((pub - t0) * 1000)
        for log in self.logs:
            ts = self._painted(log, seq, t0)
            if ts is None:
                out.lost += 1
                out.errors.append("no sidebar paint within 5 s of the snapshot")
            else:
                out.append((ts - t0) * 1000)
        return True

    def close(self) -> None:
        self.sub.close(0)


class Probes:
    """Three agent threads only the bench changes, one per way an event arrives, each in the
    session of one client (so on every sidebar's screen): `event` sent to state (REQ), the real
    hook command (a process, $TMUX_PANE set), and a transcript line the collector reads."""

    STATES = ("waiting", "done")

    def __init__(self, world: ScaleWorld, ctx: zmq.Context):
        self.world = world
        rt = Runtime.for_socket(world.w.socket, world.w.env)
        self.req = Req(ctx, rt.state_endpoint)
        s1, s2, s3 = world.names[:3]
        self.emit_tid, self.emit_session = "probe-emit", s1
        self.hook_tid, self.hook_pane = "probe-hook", world.plain_panes[s2][-1]
        self.file_tid = str(uuid.UUID(int=0xbe7c4 + 1))
        cwd = world.session_dirs[s3]
        enc = "".join(c if c.isalnum() else "-" for c in cwd)
        self.file_path = os.path.join(world.w.home, ".claude", "projects", enc, f"{self.file_tid}.jsonl")
        self.file_cwd = cwd
        self.k = 0

    def setup(self) -> None:
        """Before the trio starts watching: the transcript exists, so it is followed from the start."""
        os.makedirs(os.path.dirname(self.file_path), exist_ok=True)
        self._line({"type": "system", "subtype": "turn_duration", "durationMs": 10})

    def start(self) -> None:
        self.emit("done")
        self.hook("done", wait=True)

    def _line(self, obj: dict) -> None:
        from bench.agent_load import iso
        base = {"cwd": self.file_cwd, "sessionId": self.file_tid, "isSidechain": False, "timestamp": iso(time.time()),
                "uuid": str(uuid.uuid4())}
        with open(self.file_path, "a") as f:
            f.write(orjson.dumps({**base, **obj}).decode() + "\n")

    def emit(self, status: str) -> None:
        self.req.ask("event", agent="claude-code", source="hook", status=status, thread_id=self.emit_tid,
                     session=self.emit_session, at=time.time())

    def hook(self, status: str, wait: bool = False) -> None:
        payload = {"session_id": self.hook_tid, "transcript_path": "", "cwd": self.world.w.home,
                   "hook_event_name": "PermissionRequest" if status == "waiting" else "Stop"}
        if status == "waiting":
            payload.update(tool_name="Bash", tool_input={"command": "true"})
        else:
            payload.update(background_tasks=[], stop_hook_active=False)
        env = {**self.world.w.env, "TMUX": f"{self.world.w.socket},{self.world.server_pid},0",
               "TMUX_PANE": self.hook_pane}
        p = subprocess.Popen([BIN, "hook", "claude-code"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        p.stdin.write(orjson.dumps(payload))
        p.stdin.close()
        self._procs = [q for q in getattr(self, "_procs", []) if q.poll() is None] + [p]
        if wait:
            p.wait(10)

    def transcript(self, status: str) -> None:
        if status == "tool-running":
            self._line({"type": "assistant", "message": {"role": "assistant", "stop_reason": "tool_use", "content": [
                {"type": "tool_use", "id": f"toolu_probe{self.k}", "name": "Bash", "input": {}}]}})
        else:
            self._line({"type": "system", "subtype": "turn_duration", "durationMs": 10})
        self.k += 1

    def close(self) -> None:
        for p in getattr(self, "_procs", []):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        self.req.close()


def event_to_visible(vis: Visibility, probes: Probes, way: str, n: int, gap: float = 0.05,
                     seconds: float = 60.0, jitter: float = 0.0) -> Samples:
    """ms from an agent event to each sidebar's paint of it (3 samples per event). Stops after
    n events, `seconds`, or two events in a row that no snapshot showed. `jitter`: a random
    extra pause up to this long, so events land anywhere in a polling source's cycle (the
    transcript is read once a second: a fixed pause would always hit the same phase)."""
    import random
    rnd = random.Random(11)
    out = Samples()
    if way == "transcript":
        states, tid, change = ("tool-running", "done"), probes.file_tid, probes.transcript
    elif way == "hook":
        states, tid, change = Probes.STATES, probes.hook_tid, probes.hook
    else:
        states, tid, change = Probes.STATES, probes.emit_tid, probes.emit
    end = time.monotonic() + seconds
    misses = 0
    last = None
    for i in range(n):
        if time.monotonic() > end or misses >= 2:
            break
        last = states[i % 2]
        ok = vis.sample(lambda: change(last), tid, last, out)
        misses = 0 if ok else misses + 1
        time.sleep(gap + rnd.random() * jitter)
    if last is not None and last != states[1]:   # leave it in its resting state
        change(states[1])
    return out


# -- no-op changes ------------------------------------------------------------------------------

def noop_changes(world: ScaleWorld, ctx: zmq.Context, probes: Probes, n: int) -> dict:
    """Changes that change nothing a user sees: the same status again, a setting set to its
    value, a highlight where it is, `seen` with nothing unseen, tmux listings differing only in a
    pane title (not in the snapshot). Counts what state and the publisher did with them."""
    from services.tmux import Tmux
    rt = Runtime.for_socket(world.w.socket, world.w.env)
    state, pub = Req(ctx, rt.state_endpoint), Req(ctx, rt.sync_endpoint)
    t = Tmux(world.w.socket)
    panes = [dataclasses.asdict(p) for p in t.list_panes()]
    clients = [dataclasses.asdict(c) for c in t.list_clients()]
    t.close()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(rt.observe_endpoint)
    snap = world.snapshot()
    theme = snap["settings"].get("theme")
    client = world.clients[0].tty
    highlight = next(c["highlight"] for c in snap["clients"] if c["tty"] == client)
    probe_status = next(a["status"] for s in snap["sessions"] for a in s["agents"] if a["thread_id"] == probes.emit_tid)
    quiet = next(s["name"] for s in snap["sessions"] if not s["unseen"])
    try:
        time.sleep(1.0)
        s0, p0 = state.ask("stats"), pub.ask("stats")
        sent = 0
        for i in range(n):
            state.ask("event", agent="claude-code", source="hook", status=probe_status, thread_id=probes.emit_tid,
                      session=probes.emit_session, at=time.time())
            state.ask("set_setting", key="theme", value=theme)
            state.ask("highlight", client=client, session=highlight)
            state.ask("seen", session=quiet)
            push.send(P.encode("obs.tmux", panes=[dict(p, title=f"noop-{i}") for p in panes], clients=clients))
            sent += 5
            time.sleep(0.01)
        time.sleep(1.0)
        s1, p1 = state.ask("stats"), pub.ask("stats")
    finally:
        push.close(0)
        state.close()
        pub.close()
    return {"sent": sent, "published": p1["published"] - p0["published"],
            "suppressed": p1["suppressed"] - p0["suppressed"],
            "state_pushed": s1["snapshots_pushed"] - s0["snapshots_pushed"],
            "state_unchanged": s1["snapshots_unchanged"] - s0["snapshots_unchanged"]}


# -- CPU and memory -----------------------------------------------------------------------------

def processes(world: ScaleWorld, load=None, pids: dict[str, int] | None = None) -> dict[str, psutil.Process]:
    out = {name: psutil.Process(pid) for name, pid in (pids or world.service_pids()).items()}
    for i, sb in enumerate(world.sidebars, start=1):
        out[f"sidebar {i}"] = psutil.Process(sb.pid)
    out["tmux server"] = psutil.Process(world.server_pid)
    if load is not None:
        out["load driver"] = psutil.Process(load.proc.pid)
    return out


def cpu_window(procs: dict[str, psutil.Process], seconds: float) -> dict[str, float]:
    """% of one core each process used over the next `seconds` (children not included)."""
    def total(p):
        t = p.cpu_times()
        return t.user + t.system
    before = {n: total(p) for n, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    return {n: 100.0 * (total(p) - before[n]) / dt for n, p in procs.items()}


def memory(procs: dict[str, psutil.Process]) -> dict[str, tuple[float, float]]:
    """RSS and USS in MiB."""
    out = {}
    for n, p in procs.items():
        info = p.memory_full_info()
        out[n] = (info.rss / 2**20, info.uss / 2**20)
    return out
