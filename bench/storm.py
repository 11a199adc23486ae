"""`python -m bench.storm`: opensessions under load — many subscribed sidebars, a storm of
commands and a flood of observations, against one real trio.

A private tmux server with sessions and a pty-attached client, the real trio under supervisord,
then for `--seconds`:
- a command storm: `--rate` commands per second (set-status, log, emit, set-progress, reorder,
  ping; every one valid, almost every one a real change) from a DEALER with a bounded number in
  flight, each one timed from send to reply;
- an observation flood: `--obs-rate` obs.events batches per second PUSHed to state;
- `--subscribers` sidebar-like subscribers (Clone pattern: SUB first, then the snapshot from the
  publisher's sync socket, gap or new epoch → ask again), spread over worker processes.
It prints command latency p50/p99, snapshot age on arrival at the subscribers, how long each
took to reach the final snapshot after the storm, gaps and resyncs, whether the publisher holds
state's model, and each service's CPU and RSS (after the warm-up, at the end of the storm, and
once everyone has caught up). Figures depend on the machine: run it on a quiet one.

The classes here (CloneSub, the storm and the flood) are also what tests/e2e/test_load.py uses.
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time

import orjson
import zmq

from bench.harness import pct
from services import protocol as P

def _header(frame: bytes) -> tuple[str, int, str]:
    """(type, seq, epoch) of a published message without decoding the snapshot in it; the full
    decode (and validation) is kept for the frames a subscriber actually uses."""
    head = P.published_header(frame)
    if head is not None:
        return head
    msg = P.decode(frame, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)
    return msg["type"], msg["seq"], msg["epoch"]


class CloneSub:
    """A sidebar-like subscriber, ZeroMQ Guide ch. 5 "Clone": subscribe first, then ask the sync
    socket for the snapshot and its seq; drop updates at or below it; a gap in seq (or a
    heartbeat ahead of us, or a new epoch) means ask again.

    `pump()` reads what has arrived. Only the newest snapshot of a batch is decoded (a sidebar
    draws the newest one), unless `decode_all`: then `on_snapshot(snapshot, now)` sees each."""

    def __init__(self, ctx: zmq.Context, rt, rcvhwm: int = 100_000, decode_all: bool = False,
                 on_snapshot=None, sync_timeout: float = 2.0):
        self.rt = rt
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sub.setsockopt(zmq.MAXMSGSIZE, P.MAX_SNAPSHOT_BYTES)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(rt.pub_endpoint)                 # subscribe first …
        self.sync = ctx.socket(zmq.DEALER)
        self.sync.setsockopt(zmq.LINGER, 0)
        self.sync.connect(rt.sync_endpoint)               # … then ask (in resync)
        self.decode_all, self.on_snapshot, self.sync_timeout = decode_all, on_snapshot, sync_timeout
        self.epoch: str | None = None
        self.seq = -1
        self.snapshot: dict | None = None
        self.gaps = self.resyncs = self.received = self.heartbeats = self.sync_timeouts = 0
        self.ages: list[float] = []        # s from state building a snapshot to this one having it
        self._counter = 0

    def close(self) -> None:
        self.sub.close(0)
        self.sync.close(0)

    def resync(self) -> None:
        self._counter += 1
        rid = b"r%d" % self._counter
        self.sync.send_multipart([rid, b"", P.encode("get_snapshot")])
        deadline = time.monotonic() + self.sync_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sync.poll(int(left * 1000) + 1):
                self.sync_timeouts += 1
                raise TimeoutError("the publisher did not answer a snapshot request")
            frames = self.sync.recv_multipart()
            if frames[0] == rid:
                break
        msg = P.decode(frames[-1], P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)
        self.resyncs += 1
        self.epoch, self.seq = msg["epoch"], msg["seq"]
        if msg.get("snapshot") is not None:
            self._use(msg["snapshot"], time.time())

    def _use(self, snapshot: dict, now: float) -> None:
        self.snapshot = snapshot
        if isinstance(snapshot.get("ts"), (int, float)):
            self.ages.append(now - snapshot["ts"])
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot, now)

    def _try_resync(self) -> None:
        try:
            self.resync()
        except TimeoutError:
            self.epoch = None        # whatever comes next makes us ask again

    def pump(self, limit: int = 100_000) -> int:
        pending = None
        n = 0
        for _ in range(limit):
            try:
                frame = self.sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            n += 1
            self.received += 1
            kind, seq, epoch = _header(frame)
            if epoch != self.epoch:
                pending = None
                self._try_resync()
                continue
            if kind == "heartbeat":
                self.heartbeats += 1
                if seq > self.seq:          # a snapshot went by unseen
                    self.gaps += 1
                    pending = None
                    self._try_resync()
                continue
            if seq <= self.seq:
                continue
            if seq != self.seq + 1:
                self.gaps += 1
                pending = None
                self._try_resync()
                continue
            self.seq = seq
            if self.decode_all:
                self._use(P.decode(frame, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)["snapshot"], time.time())
            else:
                pending = frame
        if pending is not None:
            self._use(P.decode(pending, P.PUBLISHED, max_bytes=P.MAX_SNAPSHOT_BYTES)["snapshot"], time.time())
        return n


def ask(ctx: zmq.Context, endpoint: str, message: bytes, timeout: float = 3.0) -> dict:
    """One REQ round trip; the decoded reply (or published snapshot for get_snapshot)."""
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    try:
        s.send(message)
        if not s.poll(int(timeout * 1000)):
            raise TimeoutError(f"no answer from {endpoint}")
        return orjson.loads(s.recv())
    finally:
        s.close(0)


def publisher_snapshot(ctx: zmq.Context, rt) -> dict:
    return ask(ctx, rt.sync_endpoint, P.encode("get_snapshot"))


# -- the storm ----------------------------------------------------------------------------------

STATUSES = ("running", "tool-running", "waiting", "running")


MIX = ("status", "log", "emit", "progress", "reorder", "ping")


def make_command(k: int, sessions: list[str], panes: list[str], mix: tuple[str, ...] = MIX) -> bytes:
    """The k-th command of a storm: valid, and (but for ping) a change a subscriber sees."""
    s = sessions[k % len(sessions)]
    kind = MIX.index(mix[k % len(mix)])
    if kind == 0:
        return P.encode("set_status", session=s, text=f"step {k}", tone=P.TONES[k % len(P.TONES)])
    if kind == 1:
        return P.encode("log", session=s, message=f"line {k}", source="load")
    if kind == 2:
        return P.encode("event", agent="claude-code", source="emit", status=STATUSES[(k // 6) % len(STATUSES)],
                        thread_id=f"load-{k % 5}", pane=panes[k % len(panes)], at=time.time())
    if kind == 3:
        return P.encode("set_progress", session=s, percent=k % 101, label=f"p{k % 7}")
    if kind == 4:
        return P.encode("reorder", name=s, direction="up" if (k // 6) % 2 else "down")
    return P.encode("ping")


def command_storm(state_endpoint: str, sessions: list[str], panes: list[str], rate: float, seconds: float,
                  mix: tuple[str, ...], conn, window: int = 64) -> None:
    """Send `rate` commands/s for `seconds` (at most `window` unanswered), time each to its reply,
    and report through `conn`. Runs in its own process."""
    ctx = zmq.Context()
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(state_endpoint)
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    ok = 0
    k = 0
    interval = 1.0 / rate
    conn.send("ready")
    start = time.monotonic()
    end = start + seconds
    while True:
        now = time.monotonic()
        if now >= end and not sent:
            break
        if now >= end + 5.0:
            break
        while now < end and start + k * interval <= now and len(sent) < window:
            rid = b"%d" % k
            d.send_multipart([rid, b"", make_command(k, sessions, panes, mix)])
            sent[rid] = time.perf_counter()
            k += 1
        next_due = start + k * interval if now < end else end + 5.0
        timeout = max(0.0, min(next_due - time.monotonic(), 0.05)) if len(sent) < window else 0.05
        if d.poll(int(timeout * 1000)):
            while True:
                try:
                    frames = d.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                t0 = sent.pop(frames[0], None)
                if t0 is None:
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                reply = orjson.loads(frames[-1])
                if reply.get("ok"):
                    ok += 1
                else:
                    code = reply.get("error", {}).get("code", "?")
                    errors[code] = errors.get(code, 0) + 1
    elapsed = time.monotonic() - start
    conn.send({"sent": k, "ok": ok, "errors": errors, "unanswered": len(sent), "latencies": latencies,
               "elapsed": elapsed, "finished_at": time.time()})
    d.close(0)
    ctx.term()


def observation_flood(observe_endpoint: str, panes: list[str], rate: float, seconds: float, conn) -> None:
    """PUSH `rate` obs.events batches/s (4 events each, a fixed set of threads, so the model stays
    the same size) to state's observation socket. Runs in its own process."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 10_000)
    s.connect(observe_endpoint)
    conn.send("ready")
    start = time.monotonic()
    n = dropped = 0
    while time.monotonic() - start < seconds:
        events = [{"agent": "codex", "source": "transcript", "thread_id": f"flood-{(n + i) % 6}",
                   "pane": panes[(n + i) % len(panes)], "status": STATUSES[(n // 3 + i) % len(STATUSES)],
                   "at": time.time()} for i in range(4)]
        try:
            s.send(P.encode("obs.events", events=events), zmq.NOBLOCK)
        except zmq.Again:
            dropped += 1
        n += 1
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    conn.send({"sent": n, "dropped": dropped})
    s.close(0)
    ctx.term()


def start_process(target, *args):
    """A spawned process running `target(*args, conn)`; returns (process, parent end of the pipe)
    once it says it is ready."""
    mp = multiprocessing.get_context("spawn")
    parent, child = mp.Pipe()
    proc = mp.Process(target=target, args=(*args, child), daemon=True)
    proc.start()
    deadline = time.monotonic() + 30
    while not parent.poll(0.1):
        if not proc.is_alive() or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{target.__name__} did not start")
    if parent.recv() != "ready":
        proc.kill()
        raise RuntimeError(f"{target.__name__} did not start")
    return proc, parent


def rss(pids: dict[str, int]) -> dict[str, int]:
    import psutil
    return {name: psutil.Process(pid).memory_info().rss for name, pid in pids.items()}


def body(snapshot: dict) -> bytes:
    """What makes two snapshots the same (everything but the clock)."""
    return P.snapshot_body(snapshot)


# -- subscriber workers (bench only: many subscribers need more than one process) ---------------

def subscriber_worker(socket_path: str, runtime_dir: str, config_dir: str, count: int, conn) -> None:
    from services.paths import Runtime
    rt = Runtime(socket_path, runtime_dir, config_dir)
    ctx = zmq.Context()
    subs = [CloneSub(ctx, rt) for _ in range(count)]
    for s in subs:
        s._try_resync()
    poller = zmq.Poller()
    for s in subs:
        poller.register(s.sub, zmq.POLLIN)
    by_socket = {s.sub: s for s in subs}
    conn.send("ready")
    target = None
    reached: dict[int, float] = {}
    deadline = None
    while True:
        for sock, _ in poller.poll(20):
            by_socket[sock].pump()
        if target is None and conn.poll():
            target = conn.recv()       # (epoch, seq, wall time the storm ended)
            deadline = time.monotonic() + 10.0
        if target is not None:
            epoch, seq, ended = target
            for i, s in enumerate(subs):
                if i not in reached and s.epoch == epoch and s.seq >= seq:
                    reached[i] = time.time() - ended
            if len(reached) == len(subs) or time.monotonic() > deadline:
                break
    conn.send({"reached": [reached.get(i) for i in range(len(subs))],
               "ages": [a for s in subs for a in s.ages],
               "gaps": sum(s.gaps for s in subs), "resyncs": sum(s.resyncs for s in subs),
               "sync_timeouts": sum(s.sync_timeouts for s in subs),
               "received": sum(s.received for s in subs)})
    for s in subs:
        s.close()
    ctx.term()


def _report(conn):
    """A worker's report, or None if it died without one."""
    try:
        return conn.recv() if conn.poll(30) else None
    except (EOFError, OSError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.storm")
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--workers", type=int, default=4, help="processes the subscribers are spread over")
    ap.add_argument("--rate", type=float, default=1000.0, help="commands per second")
    ap.add_argument("--obs-rate", type=float, default=500.0, help="observation batches per second")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0, help="s into the storm when RSS is first read")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--mix", default=",".join(MIX), help=f"the commands the storm cycles through ({', '.join(MIX)})")
    args = ap.parse_args(argv)

    import psutil

    from bench.harness import World, wait_for
    from services.paths import Runtime

    world = World()
    workers = []
    try:
        names = [f"s{i + 1}" for i in range(args.sessions)]
        for name in names:
            world.new_session(name)
        world.attach(names[0])
        world.ok("up")
        wait_for(lambda: world.names() == names, timeout=30, what="sessions listed")
        rt = Runtime.for_socket(world.socket, world.env)
        status = orjson.loads(world.ok("status", "--json"))
        pids = {n: i["pid"] for n, i in status["services"].items()}
        panes = world.tmux("list-panes", "-a", "-F", "#{pane_id}").split()

        per = [args.subscribers // args.workers + (1 if i < args.subscribers % args.workers else 0)
               for i in range(args.workers)]
        for count in per:
            if count:
                workers.append(start_process(subscriber_worker, rt.socket_path, rt.dir, rt.config_dir, count))
        flood, flood_conn = start_process(observation_flood, rt.observe_endpoint, panes, args.obs_rate,
                                          args.seconds)
        storm, storm_conn = start_process(command_storm, rt.state_endpoint, names, panes, args.rate, args.seconds,
                                          tuple(args.mix.split(",")))
        cpu0 = {n: psutil.Process(p).cpu_times() for n, p in pids.items()}
        t0 = time.monotonic()
        time.sleep(args.warmup)
        rss_warm = rss(pids)
        result = storm_conn.recv() if storm_conn.poll(args.seconds + 30) else None
        rss_end = rss(pids)
        cpu1 = {n: psutil.Process(p).cpu_times() for n, p in pids.items()}
        wall = time.monotonic() - t0
        flood_result = flood_conn.recv() if flood_conn.poll(30) else {}
        if result is None:
            raise RuntimeError("the command storm did not finish")
        ctx = zmq.Context()
        final = publisher_snapshot(ctx, rt)
        for proc, conn in workers:
            try:
                conn.send((final["epoch"], final["seq"], result["finished_at"]))
            except (BrokenPipeError, OSError):
                pass   # it died; its report is missing and counted as failed
        reports = [_report(conn) for _, conn in workers]
        rss_settled = rss(pids)           # everyone has caught up: queues drained
        snapshot_bytes = len(orjson.dumps(final))
        same = None                       # s until the publisher had state's model, after the workers' report
        t_cmp = time.monotonic()
        while time.monotonic() - t_cmp < 3.0:
            model = ask(ctx, rt.state_endpoint, P.encode("ls"))["result"]
            if body(model) == body(publisher_snapshot(ctx, rt)["snapshot"]):
                same = time.monotonic() - t_cmp
                break
            time.sleep(0.02)
        after = orjson.loads(world.ok("status", "--json"))
        restarted = [n for n, i in after["services"].items() if i["pid"] != pids[n]]
        ctx.term()
    finally:
        for proc, _ in workers:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        world.close()

    reached = [r for rep in reports if rep for r in rep["reached"]]
    converged = [r for r in reached if r is not None]
    ages = [a * 1000 for rep in reports if rep for a in rep["ages"]]
    lat = result["latencies"]
    mib = 1024 * 1024
    print(f"\nopensessions storm — {args.sessions} sessions, {args.subscribers} subscribers in {len(workers)} "
          f"processes, {args.rate:g} commands/s and {args.obs_rate:g} observation batches/s for "
          f"{args.seconds:g} s, python {sys.version.split()[0]}\n")
    print(f"| {'measure':<46} | {'value':>28} |")
    print(f"|{'-' * 48}|{'-' * 30}|")
    rows = [
        ("commands sent / answered ok", f"{result['sent']} / {result['ok']}"),
        ("commands achieved rate", f"{result['sent'] / result['elapsed']:.0f}/s"),
        ("command errors / unanswered", f"{sum(result['errors'].values())} / {result['unanswered']}"),
        ("command latency p50 / p99 / max", f"{statistics.median(lat):.2f} / {pct(lat, 99):.2f} / {max(lat):.1f} ms"),
        ("observation batches sent / dropped", f"{flood_result.get('sent', '?')} / {flood_result.get('dropped', '?')}"),
        ("snapshot age at subscriber p50 / p99", f"{pct(ages, 50):.1f} / {pct(ages, 99):.1f} ms"),
        ("subscribers at final seq after the storm", f"{len(converged)} / {len(reached)}"),
        ("time to final seq p50 / max", f"{pct(converged, 50) * 1000:.0f} / {max(converged or [float('nan')]) * 1000:.0f} ms"),
        ("gaps seen / resyncs (all subscribers)", f"{sum(r['gaps'] for r in reports if r)} / "
                                                  f"{sum(r['resyncs'] for r in reports if r)}"),
        ("snapshot requests unanswered after 2 s", f"{sum(r['sync_timeouts'] for r in reports if r)}"),
        ("subscriber processes that failed", f"{sum(1 for r in reports if r is None)} / {len(reports)}"),
        ("final snapshot size", f"{snapshot_bytes / 1024:.0f} KiB"),
        ("publisher holds state's model", "at once" if same == 0 or (same is not None and same < 0.02)
         else f"after {same * 1000:.0f} ms" if same is not None else "NO (not within 3 s)"),
        ("services restarted during the run", ", ".join(restarted) or "none"),
    ]
    for name in sorted(pids):
        rows.append((f"{name} RSS after warm-up → end → settled",
                     f"{rss_warm[name] / mib:.1f} → {rss_end[name] / mib:.1f} → {rss_settled[name] / mib:.1f} MiB"))
        busy = (cpu1[name].user + cpu1[name].system) - (cpu0[name].user + cpu0[name].system)
        rows.append((f"{name} CPU during the run", f"{busy / wall * 100:.0f} % of a core"))
    for name, value in rows:
        print(f"| {name:<46} | {value:>28} |")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
