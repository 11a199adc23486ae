"""`python -m bench`: measure the switch and command paths against DESIGN §6's budgets.

Builds a private tmux server with sessions and a pty-attached client, starts the real trio under
supervisord, and measures
- `opensessions switch N`, the whole CLI process, as a user runs it;
- the state command round trip (REQ→REP) for `ping` and `switch`, idle and while another
  process floods state with observations at a fixed rate;
then prints medians, p99 and the budget, and how many snapshots were published vs suppressed.
"""
from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import statistics
import subprocess
import sys
import time

import zmq

from bench.harness import BIN, World, wait_for
from services import protocol as P
from services.paths import Runtime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def flood(endpoint: str, panes: list, clients: list, rate: int, seconds: float, ready) -> None:
    """Push obs.tmux listings at `rate` per second; every other one changes a pane title, so each
    forces a real model update and snapshot build (the worst case, not no-ops)."""
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
    while time.monotonic() - start < seconds:
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


def round_trips(endpoint: str, messages: list[bytes], n: int) -> list[float]:
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        s.send(messages[i % len(messages)])
        if not s.poll(5000):
            raise RuntimeError("state did not answer")
        reply = P.decode_reply(s.recv())
        out.append((time.perf_counter() - t0) * 1000)
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
    s.close()
    return out


def cli_switch(world: World, tty: str, sessions: int, n: int) -> list[float]:
    out = []
    for i in range(n):
        target = str(i % sessions + 1)
        t0 = time.perf_counter()
        proc = subprocess.run([BIN, "-S", world.socket, "switch", target, "--client", tty], env=world.env,
                              capture_output=True, timeout=10)
        out.append((time.perf_counter() - t0) * 1000)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.decode())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--quick", action="store_true", help="fewer sessions and iterations")
    ap.add_argument("--sessions", type=int)
    ap.add_argument("--rate", type=int, default=500, help="observations per second in the flood")
    args = ap.parse_args(argv)
    sessions = args.sessions or (10 if args.quick else 50)
    cli_n, rt_n = (20, 300) if args.quick else (60, 2000)

    world = World()
    rows = []
    try:
        for i in range(sessions):
            world.new_session(f"s{i + 1}")
        client = world.attach("s1")
        world.ok("up")
        wait_for(lambda: len(world.names()) == sessions, what="sessions listed")
        rt = Runtime.for_socket(world.socket, world.env)

        cli = cli_switch(world, client.tty, sessions, cli_n)
        rows.append(("`opensessions switch N` CLI, whole process", cli, 60.0, None))

        ping = [P.encode("ping")]
        switches = [P.encode("switch", target=str(i + 1), client=client.tty) for i in range(sessions)]
        rows.append(("state round trip, ping, idle", round_trips(rt.state_endpoint, ping, rt_n), 1.0, 5.0))
        rows.append(("state round trip, switch (tmux action), idle",
                     round_trips(rt.state_endpoint, switches, rt_n // 2), 1.0, 5.0))

        from services.tmux import Tmux
        t = Tmux(world.socket)
        panes = [dataclasses.asdict(p) for p in t.list_panes()]
        clients = [dataclasses.asdict(c) for c in t.list_clients()]
        ready = multiprocessing.Event()
        seconds = max(5.0, rt_n * 1.5 / 1000 + 3)
        proc = multiprocessing.Process(target=flood, args=(rt.observe_endpoint, panes, clients, args.rate,
                                                           seconds, ready))
        proc.start()
        ready.wait(10)
        time.sleep(0.5)
        rows.append((f"state round trip, ping, {args.rate} obs/s flood",
                     round_trips(rt.state_endpoint, ping, rt_n), 1.0, 5.0))
        rows.append((f"state round trip, switch, {args.rate} obs/s flood",
                     round_trips(rt.state_endpoint, switches, rt_n // 2), 1.0, 5.0))
        proc.join(seconds + 10)

        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(rt.sync_endpoint)
        s.send(P.encode("stats"))
        pub = P.decode_reply(s.recv())["result"] if s.poll(3000) else {}
        s.close()
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(rt.state_endpoint)
        s.send(P.encode("stats"))
        st = P.decode_reply(s.recv())["result"] if s.poll(3000) else {}
        s.close()
    finally:
        world.close()

    print(f"\nopensessions bench — {sessions} sessions, 1 pty client, python {sys.version.split()[0]}\n")
    print(f"| {'path':<50} | {'n':>5} | {'p50 ms':>8} | {'p99 ms':>8} | {'budget':>16} | {'p50/budget':>10} |")
    print(f"|{'-' * 52}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 18}|{'-' * 12}|")
    for name, values, p50_budget, p99_budget in rows:
        p50, p99 = statistics.median(values), pct(values, 99)
        budget = f"p50 ≤ {p50_budget:g}" + (f", p99 ≤ {p99_budget:g}" if p99_budget else "")
        print(f"| {name:<50} | {len(values):>5} | {p50:>8.3f} | {p99:>8.3f} | {budget:>16} | {p50 / p50_budget:>10.2f} |")
    print()
    print(f"state: {st.get('observations', '?')} observations, {st.get('snapshots_pushed', '?')} snapshots pushed, "
          f"{st.get('snapshots_unchanged', '?')} unchanged not pushed")
    print(f"publisher: {pub.get('published', '?')} published, {pub.get('suppressed', '?')} suppressed as no-ops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
