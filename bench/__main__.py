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
import os
import signal
import statistics
import sys
import time

import zmq

from bench import measure as M
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

    @property
    def lost(self) -> int:
        return getattr(self.values, "lost", 0)

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
        if not self.values:
            return "MISS" if self.p50_budget is not None else ""
        if self.p50_budget is None:
            return ""
        miss = self.p50 > self.p50_budget or (self.p99_budget is not None and self.p99 > self.p99_budget)
        return "MISS" if miss else "ok"


# samples per measurement (full, quick) and the most seconds each may take (full, quick)
SAMPLES = {
    "rt": (2000, 300), "rt_idle": (500, 100), "rt_switch": (300, 60), "rt_switch_idle": (100, 30),
    "key": (60, 20), "key_cli": (30, 10), "cli": (60, 20), "key_idle": (20, 10), "cli_idle": (20, 10),
    "emit": (60, 20), "emit_idle": (20, 10), "hook": (30, 10), "hook_idle": (10, 6), "transcript": (16, 6),
    "noop": (40, 10), "cpu_seconds": (10.0, 4.0),
}
SECONDS = {"idle": (15.0, 8.0), "load": (20.0, 6.0)}
SWITCH_GAP = 0.02   # s between switch commands: a fast typist, not a loop


def say(text: str, _t0=[time.monotonic()]) -> None:
    print(f"[{time.monotonic() - _t0[0]:6.1f} s] {text}", file=sys.stderr, flush=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def print_table(rows: list[Row], title: str) -> None:
    print(f"\n{title}\n")
    if not rows:
        print("(nothing was measured)")
        return
    w = max(len(r.path) for r in rows)
    c = max(len(r.condition) for r in rows)
    print(f"| {'path':<{w}} | {'condition':<{c}} | {'n':>5} | {'lost':>4} | {'p50':>9} | {'p99':>9} | "
          f"{'budget':<16} | verdict |")
    print(f"|{'-' * (w + 2)}|{'-' * (c + 2)}|{'-' * 7}|{'-' * 6}|{'-' * 11}|{'-' * 11}|{'-' * 18}|---------|")
    for r in rows:
        if r.single:
            p50 = f"{r.values[0]:.1f} {r.unit}".rstrip() if r.values else "—"
            p99, n, lost = "—", "—", ""
        else:
            p50 = f"{r.p50:.2f}" if r.values else "—"
            p99 = f"{r.p99:.2f}" if r.values else "—"
            n, lost = str(len(r.values)), (str(r.lost) if r.lost else "")
        print(f"| {r.path:<{w}} | {r.condition:<{c}} | {n:>5} | {lost:>4} | {p50:>9} | {p99:>9} | "
              f"{r.budget():<16} | {r.verdict():<7} |")
    print("\nms unless noted; p50 = median; lost = samples that got no answer in time (not in p50/p99); "
          "CPU in % of one core; MiB = 2^20 bytes.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description="DESIGN §6 budgets at scale, one table")
    ap.add_argument("--quick", action="store_true", help="a world a tenth the size, fewer samples (< 1 min)")
    ap.add_argument("--flood", type=int, default=500, help="observations per second in the flood")
    args = ap.parse_args(argv)
    quick = args.quick
    scale = Scale.quick() if quick else Scale.full()
    k = 1 if quick else 0
    n = {key: v[k] for key, v in SAMPLES.items()}
    secs = {key: v[k] for key, v in SECONDS.items()}
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):   # SIGINT too: a shell may start us with it ignored
        signal.signal(sig, _interrupt)

    rows: list[Row] = []
    notes: list[str] = []
    failed = ""
    world = ScaleWorld(scale, say)
    ctx = zmq.Context()
    load = watch = vis = probes = flood = None

    def add(row: Row) -> None:
        rows.append(row)
        errors = getattr(row.values, "errors", [])
        if errors:
            notes.append(f"{row.path} [{row.condition}]: {row.lost} lost, e.g. {errors[0]}")

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
        state = M.Req(ctx, rt.state_endpoint)
        pub = M.Req(ctx, rt.sync_endpoint)
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
        names = M.visible_names(world)
        pids = world.service_pids()
        time.sleep(2.0)

        # -- quiet ------------------------------------------------------------------------
        say("quiet world: idle CPU")
        procs = M.processes(world, pids=pids)
        idle = M.cpu_window(procs, n["cpu_seconds"])
        add(Row("trio CPU", "idle", [idle["state"] + idle["publisher"] + idle["collector"]], "%", 1.0, single=True))
        for name in ("state", "publisher", "collector"):
            add(Row(f"  {name} CPU", "idle", [idle[name]], "%", single=True))
        add(Row("sidebar CPU (the busiest of 3)", "idle",
                [max(v for k_, v in idle.items() if k_.startswith("sidebar"))], "%", single=True))
        notes.append("CPU idle, % of a core: " + ", ".join(f"{k_} {v:.2f}" for k_, v in idle.items()))

        say("quiet world: round trips, key presses, CLI, event → sidebar")
        ping = [P.encode("ping")]
        switches = [P.encode("switch", target=str(i % scale.sessions + 1), client=mover.tty)
                    for i in range(0, 7 * scale.sessions, 7)]
        quiet = secs["idle"]
        add(Row("state round trip (REQ→REP), ping", "idle",
                M.round_trips(rt.state_endpoint, ping, n["rt_idle"], quiet), p50_budget=1.0, p99_budget=5.0))
        add(Row("state round trip (REQ→REP), switch (a tmux action)", "idle",
                M.round_trips(rt.state_endpoint, switches, n["rt_switch_idle"], quiet, gap=SWITCH_GAP), p50_budget=1.0,
                p99_budget=5.0))
        add(Row("  tmux `switch-client` alone (the bench's control client)", "idle",
                M.tmux_switches(world, mover, n["rt_switch_idle"], quiet, gap=SWITCH_GAP)))
        M.home(world, mover, mover_home)
        add(Row(key_label, "idle", M.key_presses(world, mover, watch, key_how, n["key_idle"], quiet, names),
                p50_budget=10.0))
        M.home(world, mover, mover_home)
        add(Row("`opensessions switch N` CLI, whole process", "idle",
                M.cli_switches(world, mover, n["cli_idle"], quiet), p50_budget=60.0))
        M.home(world, mover, mover_home)
        time.sleep(0.5)
        add(Row("agent event → visible in a sidebar (`event` REQ)", "idle",
                M.event_to_visible(vis, probes, "emit", n["emit_idle"], seconds=quiet), p50_budget=50.0))
        add(Row("agent event → visible in a sidebar (`opensessions hook` process)", "idle",
                M.event_to_visible(vis, probes, "hook", n["hook_idle"], seconds=quiet), p50_budget=50.0))

        say("no-op changes")
        noop = M.noop_changes(world, ctx, probes, n["noop"])
        add(Row("no-op changes → snapshots published", f"{noop['sent']} no-op changes",
                [noop["published"]], "", 0.0, single=True))
        notes.append(f"no-op changes: {noop['sent']} sent; state pushed {noop['state_pushed']} snapshots and dropped "
                     f"{noop['state_unchanged']} unchanged ones; the publisher published {noop['published']} and "
                     f"suppressed {noop['suppressed']}")

        say(f"{args.flood} observations/s flood")
        flood = M.Flood(world, args.flood, 600)
        add(Row("state round trip (REQ→REP), ping", f"{args.flood} obs/s flood",
                M.round_trips(rt.state_endpoint, ping, n["rt"], secs["load"]), p50_budget=1.0, p99_budget=5.0))
        add(Row("state round trip (REQ→REP), switch (a tmux action)", f"{args.flood} obs/s flood",
                M.round_trips(rt.state_endpoint, switches, n["rt_switch"], secs["load"], gap=SWITCH_GAP),
                p50_budget=1.0,
                p99_budget=5.0))
        add(Row("  tmux `switch-client` alone (the bench's control client)", f"{args.flood} obs/s flood",
                M.tmux_switches(world, mover, n["rt_switch"], secs["load"], gap=SWITCH_GAP)))
        flood.close()
        flood = None
        M.home(world, mover, mover_home)

        # -- under load -------------------------------------------------------------------
        cond = f"{scale.threads} agents × {scale.rate:g} ev/s"
        say(f"agent load: {cond}")
        s0 = state.ask("stats")
        load.run()
        time.sleep(3.0)
        procs = M.processes(world, load, pids=pids)
        busy = M.cpu_window(procs, n["cpu_seconds"])
        add(Row("trio CPU", cond, [busy["state"] + busy["publisher"] + busy["collector"]], "%", single=True))
        for name in ("state", "publisher", "collector"):
            add(Row(f"  {name} CPU", cond, [busy[name]], "%", single=True))
        add(Row("sidebar CPU (the busiest of 3)", cond,
                [max(v for k_, v in busy.items() if k_.startswith("sidebar"))], "%", single=True))
        notes.append("CPU under load, % of a core: " + ", ".join(f"{k_} {v:.1f}" for k_, v in busy.items())
                     + f"; machine load average {os.getloadavg()[0]:.1f}")

        lim = secs["load"]
        say("under load: key presses, CLI switches")
        add(Row(key_label, cond, M.key_presses(world, mover, watch, key_how, n["key"], lim, names), p50_budget=10.0))
        M.home(world, mover, mover_home)
        add(Row("  for comparison: `prefix O N` → `run-shell opensessions switch`", cond,
                M.key_presses(world, mover, watch, "cli", n["key_cli"], lim * 0.75, names)))
        M.home(world, mover, mover_home)
        add(Row("`opensessions switch N` CLI, whole process", cond, M.cli_switches(world, mover, n["cli"], lim),
                p50_budget=60.0))
        M.home(world, mover, mover_home)
        time.sleep(0.5)

        say("under load: agent event → sidebar")
        emit = M.event_to_visible(vis, probes, "emit", n["emit"], seconds=lim)
        add(Row("agent event → visible in a sidebar (`event` REQ)", cond, emit, p50_budget=50.0))
        add(Row("agent event → visible in a sidebar (`opensessions hook` process)", cond,
                M.event_to_visible(vis, probes, "hook", n["hook"], seconds=lim * 0.75), p50_budget=50.0))
        add(Row("agent event → visible in a sidebar (transcript line)", cond,
                M.event_to_visible(vis, probes, "transcript", n["transcript"], gap=0.2, seconds=lim, jitter=1.0),
                p50_budget=50.0))
        if emit.published:
            notes.append(f"`event` REQ → snapshot published (before any sidebar), under load: p50 "
                         f"{statistics.median(emit.published):.1f} ms, p99 {M.pct(emit.published, 99):.1f} ms")

        say(f"under load: round trips with the {args.flood} obs/s flood")
        flood = M.Flood(world, args.flood, 600)
        add(Row("state round trip (REQ→REP), ping", f"{args.flood} obs/s + {cond}",
                M.round_trips(rt.state_endpoint, ping, n["rt"], lim * 0.75), p50_budget=1.0, p99_budget=5.0))
        add(Row("state round trip (REQ→REP), switch (a tmux action)", f"{args.flood} obs/s + {cond}",
                M.round_trips(rt.state_endpoint, switches, n["rt_switch"], lim * 0.75, gap=SWITCH_GAP), p50_budget=1.0,
                p99_budget=5.0))
        flood.close()
        flood = None
        M.home(world, mover, mover_home)

        mem = M.memory(M.processes(world, pids=pids))
        for name in ("state", "publisher", "collector"):
            add(Row(f"RSS {name}", "after load", [mem[name][0]], "MiB", 40.0, single=True))
        add(Row("RSS per sidebar (the largest of 3)", "after load",
                [max(v[0] for k_, v in mem.items() if k_.startswith("sidebar"))], "MiB", 25.0, single=True))
        notes.append("memory MiB (RSS / USS): " + ", ".join(f"{k_} {r:.1f}/{u:.1f}" for k_, (r, u) in mem.items()))

        load.pause()
        ls = load.stats()
        run_s = max(ls["run_seconds"], 1e-9)
        notes.append(f"load achieved: {ls['events'] / run_s:.0f} agent events/s of {scale.threads * scale.rate:g} "
                     f"asked ({ls['socket_events']} as `event` commands, {ls['hook_procs']} real hook processes = "
                     f"{ls['hook_procs'] / run_s:.1f}/s), {ls['lines'] / run_s:.0f} transcript lines/s, "
                     f"{ls['status_writes'] / run_s:.0f} status-file writes/s; the driver ran late by p50 "
                     f"{ls['late_p50_ms']:.0f} ms, p99 {ls['late_p99_ms']:.0f} ms; state had answered "
                     f"{ls['replies_ok'] + ls['replies_error']} of its {ls['socket_events']} event commands when the "
                     f"load stopped")
        try:
            s1 = state.ask("stats", timeout=30)
            notes.append(f"state during the load phase: {s1['commands'] - s0['commands']} commands, "
                         f"{s1['observations'] - s0['observations']} observations, "
                         f"{s1['snapshots_pushed'] - s0['snapshots_pushed']} snapshots pushed, "
                         f"{s1['snapshots_unchanged'] - s0['snapshots_unchanged']} unchanged not pushed")
            p1 = pub.ask("stats", timeout=30)
            notes.append(f"publisher over the whole run: {p1['published']} published, {p1['suppressed']} suppressed")
        except RuntimeError as e:
            notes.append(f"stats after the load: {e}")
        err = world.sidebar_errors()
        if err.strip():
            notes.append("sidebar stderr: " + err.strip().splitlines()[-1][:200])
        say("tearing down")
    except KeyboardInterrupt:
        say("interrupted: tearing down")
        raise
    except Exception as e:   # what was measured is still worth a table
        import traceback
        traceback.print_exc()
        failed = f"the bench stopped early: {e!r}"
        say(failed)
        notes.append(failed)
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
                      f"{sys.version.split()[0]}, {os.cpu_count()} cores")
    print()
    for note in notes:
        print(f"- {note}")
    print(f"- machine load average (1 min): {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
          f"(everything else on this machine competes for the same {os.cpu_count()} cores)")
    print(f"\nrun time {elapsed:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
