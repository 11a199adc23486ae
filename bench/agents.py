"""Agent-state benchmarks (`python -m bench.agents`):

- event → snapshot published: an `event` command sent to state, until a subscriber of the
  publisher receives the snapshot that shows it — with 50 sessions and 200 agent threads;
- collector cost per file cycle with 10 transcripts growing between cycles (CPU time of one
  AgentFiles.scan, the collector's transcript/status-file work), and per process cycle;
- the trio's idle CPU, measured over a quiet period with psutil.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time

import orjson
import psutil
import zmq

from bench.harness import World, pct, wait_for
from services import protocol as P
from services.paths import Runtime


def event_latency(world: World, sessions: int, threads: int, n: int) -> list[float]:
    rt = Runtime.for_socket(world.socket, world.env)
    ctx = zmq.Context.instance()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(rt.state_endpoint)

    def ask(**fields) -> None:
        req.send(P.encode("event", **fields))
        if not req.poll(5000):
            raise RuntimeError("state did not answer")
        reply = P.decode_reply(req.recv())
        if not reply["ok"]:
            raise RuntimeError(reply["error"])

    names = [f"s{i + 1}" for i in range(sessions)]
    for t in range(threads):
        ask(agent="claude-code", source="emit", status="idle", thread_id=f"bench-{t}",
            thread_name=f"thread {t}", session=names[t % sessions])
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(rt.pub_endpoint)
    wait_for(lambda: sub.poll(200) and sub.recv(), what="the publisher's first message")
    statuses = ["running", "tool-running", "waiting", "done"]
    out = []
    rnd = random.Random(7)
    current = ["idle"] * threads
    for i in range(n):
        t = rnd.randrange(threads)
        status = next(s for s in statuses[i % len(statuses):] + statuses if s != current[t])   # a real change
        current[t] = status
        want = (f"bench-{t}", status)
        t0 = time.perf_counter()
        ask(agent="claude-code", source="emit", status=status, thread_id=f"bench-{t}", session=names[t % sessions])
        deadline = time.monotonic() + 5
        while True:
            if time.monotonic() > deadline or not sub.poll(5000):
                raise RuntimeError("no snapshot with the change arrived")
            msg = orjson.loads(sub.recv())
            if msg["type"] != "snapshot":
                continue
            if any((a["thread_id"], a["status"]) == want for s in msg["snapshot"]["sessions"] for a in s["agents"]):
                out.append((time.perf_counter() - t0) * 1000)
                break
    sub.close()
    req.close()
    return out


CLAUDE_LINES = [
    {"type": "user", "message": {"role": "user", "content": "keep going"}},
    {"type": "assistant", "message": {"role": "assistant", "stop_reason": "tool_use",
                                      "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]}},
    {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}},
    {"type": "assistant", "message": {"role": "assistant", "stop_reason": "end_turn",
                                      "content": [{"type": "text", "text": "x" * 400}]}},
    {"type": "system", "subtype": "turn_duration", "durationMs": 1000},
]


def collector_cycle(cycles: int, files: int = 10) -> tuple[list[float], list[float]]:
    """CPU ms of AgentFiles.scan with `files` transcripts each growing by 5 lines per cycle, and
    of the process-table pass the collector makes per cycle (for this machine's processes)."""
    from services.collector import identity
    from services.collector.agent_files import AgentFiles
    from services.collector.probes import process_table
    home = tempfile.mkdtemp(prefix="os-bench-")
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = home
    try:
        project = os.path.join(home, ".claude", "projects", "-home-dev-proj")
        os.makedirs(project)
        paths = [os.path.join(project, f"00000000-0000-4000-8000-{i:012d}.jsonl") for i in range(files)]
        for p in paths:
            with open(p, "w") as f:
                f.write(json.dumps({"type": "user", "sessionId": os.path.basename(p)[:-6], "cwd": "/home/dev/proj",
                                    "message": {"role": "user", "content": "start"}}) + "\n")
        watcher = AgentFiles()
        watcher.scan(time.monotonic(), time.time(), {}, {})
        scans, procs = [], []
        roots = {os.getppid()}
        for c in range(cycles):
            for p in paths:
                with open(p, "a") as f:
                    for line in CLAUDE_LINES:
                        f.write(json.dumps({**line, "timestamp": "2026-11-30T10:00:00.000Z"}) + "\n")
            t0 = time.process_time()
            events = watcher.scan(time.monotonic(), time.time(), {}, {})
            scans.append((time.process_time() - t0) * 1000)
            assert len(events) == files * 4, len(events)   # end_turn alone says nothing; the rest do
            t0 = time.process_time()
            table = process_table(roots)
            identity.pane_agents({"%0": os.getppid()}, table)
            procs.append((time.process_time() - t0) * 1000)
        return scans, procs
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home


def trio_idle_cpu(world: World, seconds: float) -> dict[str, float]:
    status = orjson.loads(world.ok("status", "--json"))
    procs = {n: psutil.Process(i["pid"]) for n, i in status["services"].items()}
    before = {n: p.cpu_times() for n, p in procs.items()}
    time.sleep(seconds)
    out = {}
    for n, p in procs.items():
        t = p.cpu_times()
        out[n] = 100.0 * ((t.user + t.system) - (before[n].user + before[n].system)) / seconds
    out["rss_mib"] = max(p.memory_info().rss for p in procs.values()) / (1 << 20)
    return out


def run(quick: bool = False) -> list[tuple]:
    sessions, threads = (10, 40) if quick else (50, 200)
    n = 100 if quick else 400
    rows: list[tuple] = []
    world = World()
    try:
        for i in range(sessions):
            world.new_session(f"s{i + 1}")
        world.attach("s1")
        world.ok("up")
        wait_for(lambda: len(world.names()) == sessions, what="sessions listed")
        lat = event_latency(world, sessions, threads, n)
        rows.append((f"agent event → snapshot published ({sessions} sessions, {threads} threads)", lat, 50.0, None))
        idle = trio_idle_cpu(world, 5.0 if quick else 15.0)
    finally:
        world.close()
    scans, procs = collector_cycle(20 if quick else 60)
    rows.append(("collector file cycle, 10 growing transcripts (CPU ms)", scans, None, None))
    rows.append(("collector process pass (CPU ms)", procs, None, None))
    rows.append(("trio idle CPU % of a core, the three together", [idle["state"] + idle["publisher"]
                                                                  + idle["collector"]], 1.0, None))
    for name in ("state", "publisher", "collector"):
        rows.append((f"  {name} idle CPU %", [idle[name]], None, None))
    rows.append(("largest service RSS MiB", [idle["rss_mib"]], 40.0, None))
    return rows


def print_rows(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}\n")
    print(f"| {'path':<68} | {'n':>5} | {'p50':>9} | {'p99':>9} | {'budget':>10} | {'p50/budget':>10} |")
    print(f"|{'-' * 70}|{'-' * 7}|{'-' * 11}|{'-' * 11}|{'-' * 12}|{'-' * 12}|")
    for name, values, budget, _ in rows:
        p50, p99 = statistics.median(values), pct(values, 99)
        b = f"{budget:g}" if budget is not None else "-"
        ratio = f"{p50 / budget:.2f}" if budget else "-"
        print(f"| {name:<68} | {len(values):>5} | {p50:>9.3f} | {p99:>9.3f} | {b:>10} | {ratio:>10} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.agents")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    print_rows("opensessions agent-state bench (ms unless noted)", run(args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
