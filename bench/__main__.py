"""`python -m bench`: every DESIGN §6 path, measured at scale, in one table.

One command builds a private world — a tmux server with 100 sessions and 500 panes, 200 Claude
Code agent threads (an agent process in 200 panes; bench/agent_load.py writes their transcripts and
status files and fires their hooks at 5 events/s each, in bursts, part of them through the real
`opensessions hook` process), 3 pty-attached clients and a sidebar in each client's window, the
real trio under supervisord — then measures, quiet and under that load:

- key press `prefix o N` → the client on session N (tmux's own report, a control client of the
  bench's), through opensessions' key table (or, on a checkout without one, a native
  `switch-client` binding the bench installs), and through a `run-shell` binding of the CLI;
- `opensessions switch N`, the whole process;
- the state command round trip (REQ→REP) while 500 observations/s flood state;
- agent event → visible in a sidebar pane (the sidebars' paint logs), by `event` command, by the
  real hook process and by a transcript line;
- no-op changes → snapshots published (the publisher's `stats`);
- the trio's CPU idle and under load, RSS per sidebar and per service (psutil);

and prints one table: median, p99, the budget, ok or MISS. Everything it starts is torn down,
on Ctrl-C or an error too. `--quick`: the same on a world a tenth the size, in under a minute.
Progress goes to stderr, the table to stdout.
"""
from __future__ import annotations

import argparse
import dataclasses
import signal
import statistics
import sys
import time

import zmq

from bench import measure as M
from bench.agents import trio_idle_cpu  # noqa: F401  (the per-area modules stay importable)
from bench.harness import wait_for
from bench.agent_load import Load
from bench.world import Scale, ScaleWorld
from services import protocol as P
from services.paths import Runtime


@dataclasses.dataclass
class Row:
    path: str
    condition: str
    values: list[float]
    unit: str = "ms"
    p50_budget: float | None = None
    p99_budget: float | None = None
    single: bool = False          # one number (a count, a %, MiB), not a distribution
    note: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p99(self) -> float:
        return M.pct(self.values, 99) if self.values else float("nan")

    def budget(self) -> str:
        if self.p50_budget is None:
            return "—"
        if self.single:
            return ("= 0" if self.p50_budget == 0 else f"≤ {self.p50_budget:g}") + f" {self.unit}".rstrip()
        text = f"p50 ≤ {self.p50_budget:g}"
        if self.p99_budget is not None:
            text += f", p99 ≤ {self.p99_budget:g}"
        return text

    def verdict(self) -> str:
        if self.p50_budget is None or not self.values:
            return "" if self.values else "no data"
        miss = self.p50 > self.p50_budget or (self.p99_budget is not None and self.p99 > self.p99_budget)
        return "MISS" if miss else "ok"


SAMPLES = {   # (full, quick)
    "rt": (2000, 300), "rt_switch": (300, 100), "key": (60, 20), "key_cli": (30, 10), "cli": (60, 20),
    "key_idle": (20, 10), "cli_idle": (20, 10), "emit": (60, 20), "emit_idle": (20, 10), "hook": (30, 10), "hook_idle": (10, 6),
    "transcript": (16, 6), "noop": (40, 10), "cpu_seconds": (10.0, 4.0),
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def print_table(rows: list[Row], title: str) -> None:
    print(f"\n{title}\n")
    w = max(len(r.path) for r in rows)
    c = max(len(r.condition) for r in rows)
    print(f"| {'path':<{w}} | {'condition':<{c}} | {'n':>5} | {'p50':>9} | {'p99':>9} | {'budget':<16} | verdict |")
    print(f"|{'-' * (w + 2)}|{'-' * (c + 2)}|{'-' * 7}|{'-' * 11}|{'-' * 11}|{'-' * 18}|---------|")
    for r in rows:
        if r.single:
            p50 = f"{r.values[0]:.1f} {r.unit}" if r.values else "—"
            p99 = "—"
            n = "—"
        else:
            p50 = f"{r.p50:.2f}" if r.values else "—"
            p99 = f"{r.p99:.2f}" if r.values else "—"
            n = str(len(r.values))
        print(f"| {r.path:<{w}} | {r.condition:<{c}} | {n:>5} | {p50:>9} | {p99:>9} | {r.budget():<16} | "
              f"{r.verdict():<7} |")
    print("\nms unless noted; p50 = median; CPU in % of one core; MiB = 2^20 bytes.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description="DESIGN §6 budgets at scale, one table")
    ap.add_argument("--quick", action="store_true", help="a world a tenth the size, fewer samples (< 1 min)")
    ap.add_argument("--flood", type=int, default=500, help="observations per second in the flood")
    args = ap.parse_args(argv)
    quick = args.quick
    scale = Scale.quick() if quick else Scale.full()
    n = {k: v[1 if quick else 0] for k, v in SAMPLES.items()}
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)

    rows: list[Row] = []
    notes: list[str] = []
    world = ScaleWorld(scale, say)
    ctx = zmq.Context()
    load = watch = vis = probes = flood = None
    try:
        say(f"building: {scale.sessions} sessions, {scale.panes} panes, {scale.threads} agent threads, "
            f"{scale.clients} clients")
        holder = {}

        def before_up():
            holder["probes"] = M.Probes(world, ctx)
            holder["probes"].setup()
        world.build(before_up)
        probes = holder["probes"]
        rt = Runtime.for_socket(world.w.socket, world.w.env)
        load = Load(world, scale.rate, scale.hook_procs)
        tids = {a.tid for a in world.agents}
        wait_for(lambda: sum(a["thread_id"] in tids for s in world.snapshot()["sessions"] for a in s["agents"])
                 == len(tids), timeout=30, interval=0.5, what="every agent thread tied to its pane")
        probes.start()
        watch = M.SessionWatch(world.w.socket, world.w.env)
        vis = M.Visibility(world, ctx)
        mover = world.clients[-1]            # the client the switch paths move around
        mover_home = world.names[len(world.clients) - 1]
        has_table = M.product_key_table(world)
        key_how = "product" if has_table else "native"
        key_label = ("key press `prefix o N` → client on N (opensessions key table)" if has_table else
                     "key press `prefix o N` → client on N (native binding, bench-installed)")
        if not has_table:
            notes.append("this checkout has no opensessions key table: `prefix o N` is a native "
                         "`switch-client -t '=NAME'` binding the bench installs")
        time.sleep(2.0)

        # -- quiet ------------------------------------------------------------------------
        say("quiet world: idle CPU, round trips, switches, event → sidebar")
        procs = M.processes(world)
        idle = M.cpu_window(procs, n["cpu_seconds"])
        trio_idle = idle["state"] + idle["publisher"] + idle["collector"]
        rows.append(Row("trio CPU", "idle (agents quiet)", [trio_idle], "%", 1.0, single=True))
        sidebar_idle = max(idle[k] for k in idle if k.startswith("sidebar"))
        rows.append(Row("sidebar CPU (the busiest of 3)", "idle", [sidebar_idle], "%", single=True))
        ping = [P.encode("ping")]
        switches = [P.encode("switch", target=str(i % scale.sessions + 1), client=mover.tty)
                    for i in range(0, 7 * scale.sessions, 7)]
        rows.append(Row("state round trip (REQ→REP), ping", "idle", M.round_trips(rt.state_endpoint, ping, n["rt"] // 4),
                        p50_budget=1.0, p99_budget=5.0))
        rows.append(Row("state round trip (REQ→REP), switch (a tmux action)", "idle",
                        M.round_trips(rt.state_endpoint, switches, n["rt_switch"] // 3), p50_budget=1.0, p99_budget=5.0))
        M.home(world, mover, mover_home)
        rows.append(Row(key_label, "idle", M.key_presses(world, mover, watch, key_how, n["key_idle"]), p50_budget=10.0))
        M.home(world, mover, mover_home)
        rows.append(Row("`opensessions switch N` CLI, whole process", "idle", M.cli_switches(world, mover, n["cli_idle"]),
                        p50_budget=60.0))
        M.home(world, mover, mover_home)
        time.sleep(0.5)
        rows.append(Row("agent event → visible in a sidebar (`event` REQ)", "idle",
                        M.event_to_visible(vis, probes, "emit", n["emit_idle"]), p50_budget=50.0))
        rows.append(Row("agent event → visible in a sidebar (`opensessions hook` process)", "idle",
                        M.event_to_visible(vis, probes, "hook", n["hook_idle"]), p50_budget=50.0))

        say("no-op changes")
        noop = M.noop_changes(world, ctx, probes, n["noop"])
        rows.append(Row("no-op changes → snapshots published", f"{noop['sent']} no-op changes",
                        [noop["published"]], "", 0.0, single=True))
        notes.append(f"no-op changes: {noop['sent']} sent; state pushed {noop['state_pushed']} snapshots and dropped "
                     f"{noop['state_unchanged']} unchanged ones; the publisher published {noop['published']} and "
                     f"suppressed {noop['suppressed']}")

        say(f"{args.flood} observations/s flood")
        flood = M.Flood(world, args.flood, 600)
        rows.append(Row("state round trip (REQ→REP), ping", f"{args.flood} obs/s flood",
                        M.round_trips(rt.state_endpoint, ping, n["rt"]), p50_budget=1.0, p99_budget=5.0))
        rows.append(Row("state round trip (REQ→REP), switch (a tmux action)", f"{args.flood} obs/s flood",
                        M.round_trips(rt.state_endpoint, switches, n["rt_switch"]), p50_budget=1.0, p99_budget=5.0))
        flood.close()
        flood = None
        M.home(world, mover, mover_home)

        # -- under load -------------------------------------------------------------------
        events_per_s = scale.threads * scale.rate
        cond = f"{scale.threads} agents, {events_per_s:g} ev/s"
        say(f"agent load: {cond}")
        s0 = M.Req(ctx, rt.state_endpoint).ask("stats")
        load.run()
        time.sleep(3.0)
        procs = M.processes(world, load)
        busy = M.cpu_window(procs, n["cpu_seconds"])
        rows.append(Row("trio CPU", cond, [busy["state"] + busy["publisher"] + busy["collector"]], "%", single=True))
        for name in ("state", "publisher", "collector"):
            rows.append(Row(f"  {name} CPU", cond, [busy[name]], "%", single=True))
        rows.append(Row("sidebar CPU (the busiest of 3)", cond,
                        [max(busy[k] for k in busy if k.startswith("sidebar"))], "%", single=True))
        notes.append("CPU under load, % of a core: " + ", ".join(f"{k} {v:.1f}" for k, v in busy.items()))

        say("under load: key presses, CLI switches")
        rows.append(Row(key_label, cond, M.key_presses(world, mover, watch, key_how, n["key"]), p50_budget=10.0))
        M.home(world, mover, mover_home)
        rows.append(Row("key press `prefix O N` → client on N (run-shell `opensessions switch`)", cond,
                        M.key_presses(world, mover, watch, "cli", n["key_cli"]), p50_budget=10.0))
        M.home(world, mover, mover_home)
        rows.append(Row("`opensessions switch N` CLI, whole process", cond, M.cli_switches(world, mover, n["cli"]),
                        p50_budget=60.0))
        M.home(world, mover, mover_home)
        time.sleep(0.5)

        say("under load: agent event → sidebar")
        vis.published.clear()
        rows.append(Row("agent event → visible in a sidebar (`event` REQ)", cond,
                        M.event_to_visible(vis, probes, "emit", n["emit"]), p50_budget=50.0))
        published_emit = list(vis.published)
        rows.append(Row("agent event → visible in a sidebar (`opensessions hook` process)", cond,
                        M.event_to_visible(vis, probes, "hook", n["hook"]), p50_budget=50.0))
        rows.append(Row("agent event → visible in a sidebar (transcript line)", cond,
                        M.event_to_visible(vis, probes, "transcript", n["transcript"], gap=0.3), p50_budget=50.0))
        if published_emit:
            notes.append(f"`event` REQ → snapshot published (before any sidebar), under load: p50 "
                         f"{statistics.median(published_emit):.1f} ms, p99 {M.pct(published_emit, 99):.1f} ms")
        if vis.timeouts:
            notes.append(f"{vis.timeouts} sidebar paints did not come within 5 s (not counted above)")

        say(f"under load: round trips with the {args.flood} obs/s flood")
        flood = M.Flood(world, args.flood, 600)
        rows.append(Row("state round trip (REQ→REP), ping", f"{args.flood} obs/s + {cond}",
                        M.round_trips(rt.state_endpoint, ping, n["rt"]), p50_budget=1.0, p99_budget=5.0))
        rows.append(Row("state round trip (REQ→REP), switch (a tmux action)", f"{args.flood} obs/s + {cond}",
                        M.round_trips(rt.state_endpoint, switches, n["rt_switch"]), p50_budget=1.0, p99_budget=5.0))
        flood.close()
        flood = None
        M.home(world, mover, mover_home)

        mem = M.memory(M.processes(world))
        for name in ("state", "publisher", "collector"):
            rows.append(Row(f"RSS {name}", "after load", [mem[name][0]], "MiB", 40.0, single=True))
        sidebar_rss = max(v[0] for k, v in mem.items() if k.startswith("sidebar"))
        rows.append(Row("RSS per sidebar (the largest of 3)", "after load", [sidebar_rss], "MiB", 25.0, single=True))
        notes.append("memory MiB (RSS / USS): " + ", ".join(f"{k} {r:.1f}/{u:.1f}" for k, (r, u) in mem.items()))

        load.pause()
        ls = load.stats()
        secs = max(ls["run_seconds"], 1e-9)
        notes.append(f"load achieved: {ls['events'] / secs:.0f} agent events/s ({ls['socket_events']} as `event` "
                     f"commands, {ls['hook_procs']} real hook processes = {ls['hook_procs'] / secs:.1f}/s, "
                     f"{ls['hook_busy']} fell back to the socket), {ls['lines'] / secs:.0f} transcript lines/s, "
                     f"{ls['status_writes'] / secs:.0f} status-file writes/s; schedule lateness p50 {ls['late_p50_ms']} "
                     f"ms, p99 {ls['late_p99_ms']} ms; state replied ok {ls['replies_ok']}, errors "
                     f"{ls['replies_error']}")
        s1 = M.Req(ctx, rt.state_endpoint).ask("stats")
        p1 = M.Req(ctx, rt.sync_endpoint).ask("stats")
        notes.append(f"state during the load phase: {s1['commands'] - s0['commands']} commands, "
                     f"{s1['observations'] - s0['observations']} observations, "
                     f"{s1['snapshots_pushed'] - s0['snapshots_pushed']} snapshots pushed, "
                     f"{s1['snapshots_unchanged'] - s0['snapshots_unchanged']} unchanged not pushed")
        notes.append(f"publisher over the whole run: {p1['published']} published, {p1['suppressed']} suppressed")
        err = world.sidebar_errors()
        if err.strip():
            notes.append("sidebar stderr: " + err.strip().splitlines()[-1][:200])
    except KeyboardInterrupt:
        say("interrupted: tearing down")
        raise
    finally:
        for part in (flood, vis, watch, probes, load):
            if part is not None:
                try:
                    part.close()
                except Exception as e:
                    say(f"teardown: {type(part).__name__}: {e!r}")
        world.close()
        ctx.destroy(0)

    elapsed = time.monotonic() - started
    print_table(rows, f"opensessions bench{' --quick' if quick else ''} — {scale.sessions} sessions, "
                      f"{scale.panes} panes, {scale.threads} agent threads at {scale.rate:g} events/s each, "
                      f"{scale.clients} pty clients, {len(world.sidebars)} sidebars; python "
                      f"{sys.version.split()[0]}, {_cores()} cores")
    print()
    for note in notes:
        print(f"- {note}")
    print(f"\nrun time {elapsed:.0f} s")
    return 0


def _cores() -> int:
    import os
    return os.cpu_count() or 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
