"""The agent load for `python -m bench`: N Claude Code threads, each working in bursts — a turn
of a prompt, tool calls and a stop, 5 events per second on average — exactly as opensessions
sees a real one:

- every event appends a real-format line to the thread's transcript
  (~/.claude/projects/<encoded cwd>/<session id>.jsonl), and a turn's start and end rewrite its
  live status file (~/.claude/sessions/<pid>.json, naming the pid of the `claude` process in
  the thread's pane, so the collector ties the thread to that pane);
- every event fires the hook Claude would run, with Claude's hook payload: most go to state as
  the `event` command the hook command sends (mapped by the product's own
  `services.agents.hook_events.claude_event`, with the pane and pid the hook would add), over
  one DEALER socket; a steady part (`hook_procs` per second, turns' `Stop`) runs the real
  `opensessions hook claude-code` process with the payload on stdin and $TMUX/$TMUX_PANE set,
  as Claude does.

One process drives all threads (200 Python processes would measure Python's start-up, not
opensessions). It runs as `python -m bench.agent_load SPEC.json` in its own process group and
obeys lines on stdin: `run`, `pause`, `stats` (answers one JSON line), `quit`. It prints `ready`
once every thread has its transcript, status file and SessionStart.
"""
from __future__ import annotations

import heapq
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
import uuid

import zmq

from services import protocol as P
from services.agents.hook_events import claude_event

TOOLS_PER_TURN = 4         # a turn: prompt, 4 × (PreToolUse, PostToolUse), Stop = 10 events
BURST_GAP = 0.05           # s between the events of a burst
MAX_HOOK_PROCS = 6         # real hook processes in flight at once; more are sent over the socket


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def encode_dir(directory: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in directory)


class Agent:
    def __init__(self, spec: dict, home: str):
        self.tid, self.pane, self.pid, self.cwd = spec["tid"], spec["pane"], spec["pid"], spec["cwd"]
        self.transcript = os.path.join(home, ".claude", "projects", encode_dir(self.cwd), f"{self.tid}.jsonl")
        self.status_file = os.path.join(home, ".claude", "sessions", f"{self.pid}.json")
        os.makedirs(os.path.dirname(self.transcript), exist_ok=True)
        os.makedirs(os.path.dirname(self.status_file), exist_ok=True)
        self.fd = os.open(self.transcript, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.parent: str | None = None
        self.step = 0
        self.turns = 0
        self.started = int(time.time() * 1000)

    def line(self, obj: dict, now: float) -> None:
        u = str(uuid.uuid4())
        base = {"parentUuid": self.parent, "isSidechain": False, "userType": "external", "cwd": self.cwd,
                "sessionId": self.tid, "version": "2.1.197", "gitBranch": "", "uuid": u, "timestamp": iso(now)}
        self.parent = u
        os.write(self.fd, (json.dumps({**base, **obj}) + "\n").encode())

    def status(self, status: str, now: float) -> None:
        ms = int(now * 1000)
        doc = {"pid": self.pid, "sessionId": self.tid, "cwd": self.cwd, "startedAt": self.started,
               "version": "2.1.197", "kind": "interactive", "entrypoint": "cli", "name": "bench",
               "nameSource": "derived", "status": status, "updatedAt": ms, "statusUpdatedAt": ms}
        tmp = self.status_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.status_file)

    def payload(self, event: str, **fields) -> dict:
        return {"session_id": self.tid, "transcript_path": self.transcript, "cwd": self.cwd,
                "hook_event_name": event, **fields}


class Driver:
    def __init__(self, spec: dict):
        self.spec = spec
        self.rate = float(spec["rate"])
        self.hook_every = 1.0 / spec["hook_procs"] if spec.get("hook_procs") else None
        self.agents = [Agent(a, spec["home"]) for a in spec["agents"]]
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 100000)
        self.sock.connect(spec["state_endpoint"])
        self.hook_env = {**spec["env"], "TMUX": f"{spec['socket']},{spec['server_pid']},0"}
        self.procs: list[subprocess.Popen] = []
        self.running = False
        self.heap: list[tuple[float, int]] = []
        self.next_hook = 0.0
        self.run_started = 0.0
        self.run_time = 0.0
        self.stats = {"events": 0, "socket_events": 0, "hook_procs": 0, "hook_procs_failed": 0,
                      "hook_busy": 0, "lines": 0, "status_writes": 0, "replies_ok": 0, "replies_error": 0,
                      "late_max_ms": 0.0, "turns": 0}
        self.late: list[float] = []

    # -- what a thread does ----------------------------------------------------------------

    def start_threads(self) -> None:
        now = time.time()
        for a in self.agents:
            a.line({"type": "user", "message": {"role": "user", "content": "start the bench"}}, now)
            a.line({"type": "system", "subtype": "turn_duration", "durationMs": 10}, now)
            a.status("idle", now)
            self.send_event(a, a.payload("SessionStart", source="startup"), now)
        self.drain()

    def act(self, a: Agent, now: float) -> float:
        """One event of the thread's turn; returns the delay to its next one."""
        k = a.step
        last = 1 + 2 * TOOLS_PER_TURN
        if k == 0:
            a.turns += 1
            self.stats["turns"] += 1
            text = f"bench turn {a.turns}: keep going"
            a.status("busy", now)
            self.stats["status_writes"] += 1
            a.line({"type": "user", "message": {"role": "user", "content": text}}, now)
            self.stats["lines"] += 1
            self.send_event(a, a.payload("UserPromptSubmit", prompt=text, permission_mode="default"), now)
        elif k < last:
            tool_id = f"toolu_{a.turns:06d}{k:02d}"
            tool_input = {"command": "true", "description": "bench"}
            if k % 2 == 1:
                a.line({"type": "assistant", "message": {"role": "assistant", "stop_reason": "tool_use",
                                                         "content": [{"type": "tool_use", "id": tool_id,
                                                                      "name": "Bash", "input": tool_input}]}}, now)
                payload = a.payload("PreToolUse", tool_name="Bash", tool_input=tool_input, tool_use_id=tool_id)
            else:
                a.line({"type": "user", "message": {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": tool_id, "content": "", "is_error": False}]}}, now)
                payload = a.payload("PostToolUse", tool_name="Bash", tool_input=tool_input, tool_use_id=tool_id,
                                    tool_response={"stdout": "", "stderr": ""})
            self.stats["lines"] += 1
            self.send_event(a, payload, now)
        else:
            a.line({"type": "assistant", "message": {"role": "assistant", "stop_reason": "end_turn",
                                                     "content": [{"type": "text", "text": "Done."}]}}, now)
            a.line({"type": "system", "subtype": "turn_duration", "durationMs": 500}, now)
            self.stats["lines"] += 2
            payload = a.payload("Stop", last_assistant_message="Done.", background_tasks=[], stop_hook_active=False)
            if self.hook_every is not None and now >= self.next_hook:
                self.next_hook = max(self.next_hook + self.hook_every, now - 1.0)
                self.run_hook(a, payload)
            else:
                self.send_event(a, payload, now)
            a.status("idle", now)
            self.stats["status_writes"] += 1
        self.stats["events"] += 1
        a.step = (k + 1) % (last + 1)
        if a.step == 0:   # the rest of the cycle: `last + 1` events per cycle at `rate` per second
            return max(BURST_GAP, (last + 1) / self.rate - last * BURST_GAP)
        return BURST_GAP

    def send_event(self, a: Agent, payload: dict, now: float) -> None:
        ev = claude_event(payload)
        if ev is None:
            return
        ev.update(pane=a.pane, pid=a.pid, at=now)
        try:
            self.sock.send_multipart([b"", P.encode("event", **ev)], zmq.NOBLOCK)
            self.stats["socket_events"] += 1
        except zmq.Again:
            pass

    def reap(self) -> None:
        running = []
        for p in self.procs:
            if p.poll() is None:
                running.append(p)
            elif p.returncode != 0:
                self.stats["hook_procs_failed"] += 1
        self.procs = running

    def run_hook(self, a: Agent, payload: dict) -> None:
        self.reap()
        if len(self.procs) >= MAX_HOOK_PROCS:
            self.stats["hook_busy"] += 1
            self.send_event(a, payload, time.time())
            return
        env = {**self.hook_env, "TMUX_PANE": a.pane}
        try:
            p = subprocess.Popen([self.spec["bin"], "hook", "claude-code"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            p.stdin.write(json.dumps(payload).encode())
            p.stdin.close()
            self.procs.append(p)
            self.stats["hook_procs"] += 1
        except OSError:
            self.stats["hook_procs_failed"] += 1

    # -- the loop --------------------------------------------------------------------------

    def drain(self) -> None:
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                ok = P.decode_reply(frames[-1])["ok"]
            except P.ProtocolError:
                ok = False
            self.stats["replies_ok" if ok else "replies_error"] += 1

    def resume(self, now: float) -> None:
        cycle = (2 + 2 * TOOLS_PER_TURN) / self.rate
        self.heap = [(now + random.random() * cycle, i) for i in range(len(self.agents))]
        heapq.heapify(self.heap)
        for a in self.agents:
            a.step = 0
        self.running, self.run_started = True, now
        self.next_hook = now

    def pause(self, now: float) -> None:
        if self.running:
            self.run_time += now - self.run_started
        self.running = False

    def report(self, now: float) -> dict:
        run_time = self.run_time + (now - self.run_started if self.running else 0.0)
        late = sorted(self.late)
        return {**self.stats, "run_seconds": round(run_time, 2),
                "late_p50_ms": round(late[len(late) // 2], 2) if late else 0.0,
                "late_p99_ms": round(late[int(len(late) * 0.99)], 2) if late else 0.0}

    def command(self, line: str) -> bool:
        now = time.time()
        cmd = line.strip()
        if cmd == "run":
            self.resume(now)
        elif cmd == "pause":
            self.pause(now)
        elif cmd == "stats":
            print(json.dumps(self.report(now)), flush=True)
        elif cmd in ("quit", ""):
            return False
        return True

    def loop(self) -> None:
        stdin = sys.stdin.fileno()
        buf = b""
        while True:
            now = time.time()
            wait = 0.2
            if self.running and self.heap:
                wait = max(0.0, min(wait, self.heap[0][0] - now))
            if select.select([stdin], [], [], wait)[0]:
                data = os.read(stdin, 4096)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not self.command(line.decode()):
                        return
            now = time.time()
            n = 0
            while self.running and self.heap and self.heap[0][0] <= now and n < 2000:
                due, i = heapq.heappop(self.heap)
                late = (now - due) * 1000
                self.late.append(late)
                if len(self.late) > 200000:
                    del self.late[:100000]
                self.stats["late_max_ms"] = max(self.stats["late_max_ms"], late)
                delay = self.act(self.agents[i], now)
                heapq.heappush(self.heap, (due + delay, i))
                n += 1
            self.drain()
            if self.procs:
                self.reap()

    def close(self) -> None:
        deadline = time.monotonic() + 3
        for p in self.procs:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for a in self.agents:
            os.close(a.fd)
        self.sock.close(0)
        self.ctx.term()


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        spec = json.load(f)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    random.seed(spec.get("seed", 7))
    d = Driver(spec)
    try:
        d.start_threads()
        print("ready", flush=True)
        d.loop()
    finally:
        d.close()
    return 0


# -- the bench's handle on it ------------------------------------------------------------------

class Load:
    """Start the driver for a ScaleWorld; `run()`, `pause()`, `stats()`, and always `close()`."""

    def __init__(self, world, rate: float, hook_procs: float):
        from bench.harness import BIN
        from services.paths import Runtime
        rt = Runtime.for_socket(world.w.socket, world.w.env)
        spec = {"home": world.w.home, "socket": world.w.socket, "server_pid": world.server_pid,
                "state_endpoint": rt.state_endpoint, "bin": BIN, "env": world.w.env, "rate": rate,
                "hook_procs": hook_procs,
                "agents": [{"tid": a.tid, "pane": a.pane, "pid": a.pid, "cwd": a.cwd} for a in world.agents]}
        path = os.path.join(world.w.root, "load.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.agent_load", path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env={**world.w.env, "PYTHONPATH": _repo()},
                                     start_new_session=True, cwd=_repo())
        line = self._readline(30)
        if line != "ready":
            self.close()
            raise RuntimeError(f"the load driver did not start: {line!r}")

    def _readline(self, timeout: float) -> str:
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            raise RuntimeError("the load driver did not answer")
        return self.proc.stdout.readline().decode().strip()

    def _say(self, cmd: str) -> None:
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()

    def run(self) -> None:
        self._say("run")

    def pause(self) -> None:
        self._say("pause")

    def stats(self) -> dict:
        self._say("stats")
        return json.loads(self._readline(10))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._say("quit")
                self.proc.wait(timeout=8)
            except Exception:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)   # its own group: the driver and its hooks
            except OSError:
                pass
            self.proc.wait()


def _repo() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
