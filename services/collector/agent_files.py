"""All agents' own files, watched together, and their evidence tied to the panes that run them.

A thread is tied to a pane exactly, never by guess: Claude's status file names the pid that owns
each session id; for the others, the agent process holds its transcript open, so /proc/<pid>/fd
says which pane writes which file. Evidence nothing ties to a pane carries its working dir, and
state guesses the session from it.
"""
from __future__ import annotations

import os

from services.collector.watchers import claude, codex
from services.collector.watchers.amp import AmpWatcher
from services.collector.watchers.pi import pi_watcher
from services.collector.watchers.sqlite_agents import SqliteAgentWatcher, kilo_db_path, opencode_db_path
from services.collector.watchers.files import JsonlWatcher, SmallFiles
from services.collector.watchers.tail import Tail, TailError, read_new_lines

import orjson


def _home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def claude_dirs() -> list[str]:
    dirs = [os.path.join(_home(), ".claude")]
    if os.environ.get("CLAUDE_CONFIG_DIR"):
        dirs.insert(0, os.environ["CLAUDE_CONFIG_DIR"])
    return list(dict.fromkeys(dirs))


def codex_home() -> str:
    return os.environ.get("CODEX_HOME") or os.path.join(_home(), ".codex")


def open_transcripts(pids: list[int], children: dict[int, list[int]]) -> dict[str, int]:
    """path → the agent pid (from `pids`) whose process tree holds it open."""
    out: dict[str, int] = {}
    shared: set[str] = set()   # one file held by two agents (OpenCode's single DB) ties to neither
    for agent_pid in pids:
        stack, seen = [agent_pid], set()
        while stack and len(seen) < 32:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            stack.extend(children.get(pid, []))
            fd_dir = f"/proc/{pid}/fd"
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(f"{fd_dir}/{fd}")
                except OSError:
                    continue
                if target.endswith((".jsonl", ".json", ".db")):
                    if out.setdefault(target, agent_pid) != agent_pid:
                        shared.add(target)
    return {path: pid for path, pid in out.items() if path not in shared}


class AgentFiles:
    def __init__(self, recent: float = 1800.0):
        self.claude_transcripts = JsonlWatcher(
            lambda: [os.path.join(d, "projects") for d in claude_dirs()], ".jsonl", 1,
            claude.TranscriptState, recent=recent)
        self.claude_status = SmallFiles(lambda: [os.path.join(d, "sessions") for d in claude_dirs()], ".json",
                                        self._claude_status, recent=recent)
        self.codex_rollouts = JsonlWatcher(lambda: [os.path.join(codex_home(), "sessions")], ".jsonl", 4,
                                           codex.RolloutState, recent=recent, prefix="rollout-")
        self.codex_index = Tail(os.path.join(codex_home(), "session_index.jsonl"), fresh=False)
        self.claude_pid_of: dict[str, int] = {}    # Claude session id → pid, from status files
        self.extra: list = [                       # watchers of other agents: .scan(mono, wall)
            SqliteAgentWatcher("opencode", opencode_db_path, recent=recent),
            SqliteAgentWatcher("kilo", kilo_db_path, recent=recent),
            pi_watcher(recent=recent),
            AmpWatcher(recent=recent),
        ]
        self.bad_lines = 0
        self.untied = 0       # events from a file no agent process was seen holding open

    def _claude_status(self, doc: object, mtime: float, path: str) -> list[dict]:
        ev = claude.status_file_event(doc, mtime)
        if ev is None:
            return []
        self.claude_pid_of[ev["thread_id"]] = ev["pid"]
        if ev.get("dir"):
            root = os.path.dirname(os.path.dirname(path))   # …/.claude/sessions/<pid>.json → …/.claude
            self.claude_transcripts.follow(os.path.join(root, "projects", claude.encode_dir(ev["dir"]),
                                                        ev["thread_id"] + ".jsonl"))
        return [ev]

    def _codex_names(self) -> list[dict]:
        try:
            lines = read_new_lines(self.codex_index)
        except TailError:
            self.codex_index = Tail(self.codex_index.path, fresh=False)
            return []
        out = []
        for raw in lines:
            try:
                entry = codex.index_entry(orjson.loads(raw))
            except orjson.JSONDecodeError:
                self.bad_lines += 1
                continue
            if entry is not None:
                out.append({"agent": "codex", "source": "transcript", "thread_id": entry[0][:256],
                            "thread_name": entry[1][:500], "name_rank": 2})
        return out

    def scan(self, mono_now: float, wall_now: float, pane_of_pid: dict[int, str],
             open_files: dict[str, int]) -> list[dict]:
        """Everything: discover new files, read every followed one, ask every database."""
        for path in open_files:
            if path.endswith(".jsonl") and os.path.basename(path).startswith("rollout-"):
                self.codex_rollouts.follow(path)
        events = self.claude_status.scan(wall_now)
        events += self.claude_transcripts.scan(mono_now, wall_now)
        events += self.codex_rollouts.scan(mono_now, wall_now)
        events += self._codex_names()
        for watcher in self.extra:
            try:
                events += watcher.scan(mono_now, wall_now)
            except Exception:
                self.bad_lines += 1
        return self._tie(events, pane_of_pid, open_files)

    def watch_trees(self) -> list[tuple[str, int]]:
        """Where the files scan_changed can read appear: (root, depth) for filewatch."""
        trees = self.claude_status.trees() + self.claude_transcripts.trees() + self.codex_rollouts.trees()
        trees.append((os.path.dirname(self.codex_index.path), 0))
        for watcher in self.extra:
            if hasattr(watcher, "scan_paths"):
                trees += watcher.trees()
        return trees

    def scan_changed(self, paths: set[str], mono_now: float, wall_now: float, pane_of_pid: dict[int, str],
                     open_files: dict[str, int]) -> list[dict]:
        """Only the files inotify says changed. A status file that names a transcript not
        followed yet has it read now, as scan() would."""
        followed = set(self.claude_transcripts.tails)
        events = self.claude_status.scan_paths(paths, wall_now)
        new = set(self.claude_transcripts.tails) - followed
        events += self.claude_transcripts.scan_paths(paths | new if new else paths, mono_now, wall_now)
        events += self.codex_rollouts.scan_paths(paths, mono_now, wall_now)
        if self.codex_index.path in paths:
            events += self._codex_names()
        for watcher in self.extra:
            if hasattr(watcher, "scan_paths"):
                try:
                    events += watcher.scan_paths(paths, mono_now, wall_now)
                except Exception:
                    self.bad_lines += 1
        return self._tie(events, pane_of_pid, open_files)

    def scan_unwatched(self, mono_now: float, wall_now: float, pane_of_pid: dict[int, str],
                       open_files: dict[str, int]) -> list[dict]:
        """The sources inotify does not serve (databases): polled while the files are watched."""
        events: list[dict] = []
        for watcher in self.extra:
            if not hasattr(watcher, "scan_paths"):
                try:
                    events += watcher.scan(mono_now, wall_now)
                except Exception:
                    self.bad_lines += 1
        return self._tie(events, pane_of_pid, open_files)

    def _tie(self, events: list[dict], pane_of_pid: dict[int, str], open_files: dict[str, int]) -> list[dict]:
        """Each event's agent pid and pane, where something ties it to one."""
        for ev in events:
            path = ev.pop("_path", None)
            pid = ev.get("pid")
            if pid is None and ev["agent"] == "claude-code":
                pid = self.claude_pid_of.get(ev.get("thread_id"))
            if pid is None and path is not None:
                pid = open_files.get(path)
                if pid is None:
                    self.untied += 1      # the collector looks again at which process holds what
            if pid is not None:
                ev["pid"] = pid
                if pid in pane_of_pid:
                    ev["pane"] = pane_of_pid[pid]
        return events

    def stats(self) -> dict:
        extra = {type(w).__name__: w.stats() for w in self.extra if hasattr(w, "stats")}
        return {"claude": self.claude_transcripts.stats(), "codex": self.codex_rollouts.stats(),
                "status_files_bad": self.claude_status.bad_files, "bad_lines": self.bad_lines, **extra}
