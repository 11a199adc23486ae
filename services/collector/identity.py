"""Which coding agent a process is, from its executable name and argv — and which agents run
under each tmux pane, from one pass over the process table. Pure: the table is given."""
from __future__ import annotations

import os
from collections import namedtuple

# executable basenames (without .exe/.js/.cjs/.mjs) → agent
AGENT_NAMES = {
    "claude": "claude-code",
    "claude-code": "claude-code",
    "codex": "codex",
    "opencode": "opencode",
    "amp": "amp",
    "pi": "pi",
    "kilo": "kilo",
    "kilocode": "kilo",
    "gemini": "gemini",
    "aider": "aider",
}
WRAPPERS = {"node", "nodejs", "bun", "deno", "sh", "bash", "dash", "zsh", "env", "npx", "bunx",
            "uv", "uvx", "pipx"}
_SUFFIXES = (".exe", ".js", ".cjs", ".mjs", ".ts", ".py")
# helper processes of an agent that are not an agent in the pane (Codex's app-server daemon)
NOT_AGENT_ARGS = {"app-server", "mcp", "mcp-server", "daemon"}
MAX_DEPTH = 6


# pid, ppid, name (comm), exe (/proc/<pid>/exe, "" when unreadable), cmdline (a tuple of str).
# A namedtuple, not a dataclass: `opensessions hook` imports this on every agent event, and
# dataclasses costs 10-30 ms of imports there.
Proc = namedtuple("Proc", "pid ppid name exe cmdline")


def _base(path: str) -> str:
    name = os.path.basename(path)
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_python(name: str) -> bool:
    return name == "python" or (name.startswith("python") and name[6:].replace(".", "").isdigit())


def _script_after_wrapper(argv: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """For `node /path/codex.js --x` or `python -m aider`: the script name and its arguments."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-m" and i + 1 < len(argv):
            return argv[i + 1], argv[i + 2:]
        if arg in ("-c", "-e", "--eval"):
            return None        # inline code, not a named program
        if arg.startswith("-") or "=" in arg and not arg.startswith("/"):
            i += 1
            continue
        return arg, argv[i + 1:]
    return None


def agent_of(proc: Proc) -> str | None:
    """The agent this process is, or None. Exact names only: `tail-claude` is not Claude."""
    argv = proc.cmdline
    candidates: list[tuple[str, tuple[str, ...]]] = []
    if argv:
        first = _base(argv[0])
        if first in WRAPPERS or _is_python(first):
            script = _script_after_wrapper(argv)
            if script is not None:
                candidates.append((_base(script[0]), script[1]))
        else:
            candidates.append((first, argv[1:]))
    for name in (_base(proc.exe), _base(proc.name)):
        if name and name not in WRAPPERS and not _is_python(name):
            candidates.append((name, argv[1:]))
    for name, rest in candidates:
        agent = AGENT_NAMES.get(name)
        if agent is None:
            continue
        if rest and rest[0] in NOT_AGENT_ARGS:
            return None
        return agent
    return None


def children_map(procs: list[Proc]) -> dict[int, list[Proc]]:
    kids: dict[int, list[Proc]] = {}
    for p in procs:
        kids.setdefault(p.ppid, []).append(p)
    for lst in kids.values():
        lst.sort(key=lambda p: p.pid)
    return kids


def agents_under(pane_pid: int, by_pid: dict[int, Proc], kids: dict[int, list[Proc]],
                 classify=agent_of) -> list[tuple[str, int]]:
    """Agents in one pane: the topmost process of each agent wins (a node wrapper over a native
    binary is one agent), and nothing below a found agent counts again."""
    found: list[tuple[str, int]] = []
    stack = [(pane_pid, 0)]
    while stack:
        pid, depth = stack.pop()
        proc = by_pid.get(pid)
        if proc is not None:
            agent = classify(proc)
            if agent is not None:
                found.append((agent, pid))
                continue
        if depth < MAX_DEPTH:
            stack.extend((k.pid, depth + 1) for k in reversed(kids.get(pid, [])))
    return found


def pane_agents(pane_pids: dict[str, int], procs: list[Proc],
                classify=agent_of) -> dict[str, list[tuple[str, int]]]:
    by_pid = {p.pid: p for p in procs}
    kids = children_map(procs)
    return {pane: agents_under(pid, by_pid, kids, classify) for pane, pid in pane_pids.items()}


class AgentCache:
    """agent_of, remembered per process: a Proc's name, exe and argv change only by exec, which
    makes a different Proc. Call it as agent_of; `keep` forgets the processes gone from a table."""

    def __init__(self) -> None:
        self.known: dict[Proc, str | None] = {}

    def __call__(self, proc: Proc) -> str | None:
        try:
            return self.known[proc]
        except KeyError:
            agent = self.known[proc] = agent_of(proc)
            return agent

    def keep(self, procs: list[Proc]) -> None:
        live = set(procs)
        self.known = {p: a for p, a in self.known.items() if p in live}


def lineage(pid: int, by_pid: dict[int, Proc], stop: set[int]) -> list[int]:
    """pid and its ancestors in the table, up to the first one in `stop` (a pane's process)."""
    out: list[int] = []
    while pid not in out:
        out.append(pid)
        proc = by_pid.get(pid)
        if pid in stop or proc is None:
            break
        pid = proc.ppid
    return out


def descendants(root: int, kids: dict[int, list[Proc]], limit: int = 10000) -> list[int]:
    out, stack = [], [root]
    while stack and len(out) < limit:
        pid = stack.pop()
        out.append(pid)
        stack.extend(k.pid for k in kids.get(pid, []))
    return out
