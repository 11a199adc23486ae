"""`python -m bench.profile`: where the time goes, at scale (docs/performance.md).

Builds the same world as `python -m bench` (100 sessions, 500 panes, 200 agent threads, 3 pty
clients, 3 sidebars; `--quick` for a tenth) and samples the live processes with py-spy
(`pip install py-spy`; it reads their stacks from outside, nothing is changed in them):

1. idle: the collector and state, the world quiet;
2. switches: state while `switch` commands come every 20 ms;
3. load: state, publisher, collector and one sidebar while the agents run (5 events/s each);

and times what a CLI start imports (`-X importtime`). For each it prints the share of samples
per function, inclusive (the function and what it calls) and self, aggregated over lines.
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import zmq

from bench import measure as M
from bench.agent_load import Load
from bench.harness import BIN
from bench.world import Scale, ScaleWorld
from services import protocol as P
from services.paths import Runtime

PY_SPY = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")


def record(pid: int, seconds: float, out: str, rate: int = 200) -> subprocess.Popen:
    return subprocess.Popen([PY_SPY, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(rate), "-f", "raw",
                             "-o", out, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _func(frame: str) -> str:
    """`name (path/file.py:123)` → `name (file.py)`: lines of one function together."""
    name, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


def summarize(path: str, seconds: float, rate: int, top: int = 18) -> str:
    incl, self_ = collections.Counter(), collections.Counter()
    total = 0
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        return "  (no samples: py-spy could not attach)"
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_func(f) for f in stack.split(";")]
        self_[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return "  (no samples)"
    busy = 100.0 * total / (seconds * rate)
    out = [f"  {total} samples = busy {busy:.0f}% of the time (py-spy counts only non-idle stacks)"]
    out.append("  inclusive:")
    skip = ("<module>", "_run_module_as_main", "_run_code", "main (", "run (")
    shown = 0
    for f, v in incl.most_common():
        if f.startswith(skip):
            continue
        out.append(f"    {100.0 * v / total:5.1f}%  {f}")
        shown += 1
        if shown >= top:
            break
    out.append("  self:")
    for f, v in self_.most_common(top // 2):
        out.append(f"    {100.0 * v / total:5.1f}%  {f}")
    return "\n".join(out)


def profile(pids: dict[str, int], seconds: float, tmp: str, tag: str, rate: int = 200) -> dict[str, str]:
    procs = {name: (record(pid, seconds, os.path.join(tmp, f"{tag}-{name}.txt"), rate)) for name, pid in pids.items()}
    for p in procs.values():
        try:
            p.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return {name: summarize(os.path.join(tmp, f"{tag}-{name}.txt"), seconds, rate) for name in pids}


def import_times(env: dict) -> str:
    """The slowest imports of `opensessions switch` and `opensessions hook` (bytecode cached)."""
    out = []
    for argv in (["switch", "1"], ["hook", "claude-code"]):
        code = ("import sys; sys.argv=['opensessions', *sys.argv[1:]]; from cli.main import main; "
                "sys.exit(main())")
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *argv], env=env, capture_output=True,
                              text=True, input="{}", timeout=30)
        rows = []
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and line.count("|") == 2:
                head, cum_us, name = line.split("|")
                try:
                    rows.append((int(cum_us), int(head.split(":")[1]), name.strip()))
                except ValueError:
                    continue   # the header line
        total = sum(s for _, s, _ in rows)
        rows.sort(reverse=True)
        out.append(f"  opensessions {' '.join(argv)}: imports {total / 1000:.1f} ms in all; largest (cumulative):")
        for cum, self_us, name in rows[:10]:
            out.append(f"    {cum / 1000:6.1f} ms  {name}")
        t = []
        for _ in range(10):
            t0 = time.perf_counter()
            subprocess.run([BIN, *argv], env=env, capture_output=True, input=b"{}", timeout=30)
            t.append((time.perf_counter() - t0) * 1000)
        out.append(f"  whole process (no trio answering): median {sorted(t)[5]:.0f} ms")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args(argv)
    if not os.path.exists(PY_SPY):
        print("py-spy is needed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    scale = Scale.quick() if args.quick else Scale.full()
    secs = args.seconds
    world = ScaleWorld(scale, lambda t: print(t, file=sys.stderr, flush=True))
    load = None
    tmp = tempfile.mkdtemp(prefix="os-prof-")
    ctx = zmq.Context()
    report = []
    try:
        world.build()
        rt = Runtime.for_socket(world.w.socket, world.w.env)
        load = Load(world, scale.rate, scale.hook_procs)
        time.sleep(5.0)
        pids = world.service_pids()
        sidebar = world.sidebars[0].pid

        print("idle…", file=sys.stderr, flush=True)
        got = profile({"collector": pids["collector"], "state": pids["state"]}, secs, tmp, "idle")
        report.append(f"## idle, {scale.sessions} sessions / {scale.panes} panes / {scale.threads} agents\n")
        for name, text in got.items():
            report.append(f"### {name}\n{text}\n")

        print("switches…", file=sys.stderr, flush=True)
        mover = world.clients[-1]
        msgs = [P.encode("switch", target=str(i % scale.sessions + 1), client=mover.tty)
                for i in range(0, 7 * scale.sessions, 7)]
        result = {}
        t = threading.Thread(target=lambda: result.setdefault(
            "rt", M.round_trips(rt.state_endpoint, msgs, 100000, secs, gap=0.02)))
        t.start()
        got = profile({"state": pids["state"]}, secs, tmp, "switch")
        t.join()
        rt_ = result.get("rt") or []
        report.append(f"## state, `switch` every 20 ms (round trip p50 "
                      f"{sorted(rt_)[len(rt_) // 2] if rt_ else float('nan'):.1f} ms)\n")
        report.append(f"### state\n{got['state']}\n")
        M.home(world, mover, world.names[len(world.clients) - 1])

        print("load…", file=sys.stderr, flush=True)
        load.run()
        time.sleep(3.0)
        got = profile({"state": pids["state"], "publisher": pids["publisher"], "collector": pids["collector"],
                       "sidebar": sidebar}, secs, tmp, "load")
        load.pause()
        st = load.stats()
        report.append(f"## under load ({st['events'] / max(st['run_seconds'], 1e-9):.0f} agent events/s achieved)\n")
        for name, text in got.items():
            report.append(f"### {name}\n{text}\n")

        report.append("## CLI start\n")
        report.append(import_times(world.w.env))
    finally:
        if load is not None:
            load.close()
        world.close()
        ctx.destroy(0)
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
