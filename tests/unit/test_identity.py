"""services/collector/identity.py: which agent a process is, and which agents run under a pane.

The real process trees come from shared/fixtures (captured from the real Claude Code 2.1.197 and
Codex 0.171.0 running in a tmux pane)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from services.collector import identity as I
from services.collector.identity import Proc

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"   # shared/ sits beside the checkout
CLAUDE_TREES = FIXTURES / "claude-code" / "process_trees.txt"
CODEX_TREES = FIXTURES / "codex" / "process_trees.txt"

_SECTION = re.compile(r"^===== (\S+)")
_PROC = re.compile(r"^(?P<indent> *)(?P<pid>\d+) comm=")
_CLAUDE_PANE = re.compile(r"^\S+:\d+\.\d+ (%\d+) (\d+) ")      # "agent:0.0 %0 6763 bash ..."
_CODEX_PANE = re.compile(r"^pane: pid=(\d+) id=(%\d+)")


def parse_trees(path: Path) -> dict[str, dict]:
    """Phases of a process_trees.txt: {phase: {"pane_id", "pane_pid", "procs": [Proc]}}.

    Process lines are `PID comm='…' exe=… … args='…'`; two spaces of indentation per level give
    the parent. A top-level process's parent is unknown (ppid 1). argv is `args` split on spaces
    (ps joins argv with spaces), which is exact for every agent line in the fixtures."""
    phases: dict[str, dict] = {}
    current = None
    stack: list[tuple[int, int]] = []          # (depth, pid)
    for line in path.read_text().splitlines():
        m = _SECTION.match(line)
        if m:
            current = phases.setdefault(m.group(1), {"pane_id": None, "pane_pid": None, "procs": []})
            stack = []
            continue
        if current is None:
            continue
        if (m := _CLAUDE_PANE.match(line)):
            current["pane_id"], current["pane_pid"] = m.group(1), int(m.group(2))
            continue
        if (m := _CODEX_PANE.match(line)):
            current["pane_pid"], current["pane_id"] = int(m.group(1)), m.group(2)
            continue
        m = _PROC.match(line)
        if not m:
            continue
        depth = len(m.group("indent")) // 2
        fields = dict(tok.split("=", 1) for tok in shlex.split(line.strip())[1:] if "=" in tok)
        pid = int(m.group("pid"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        ppid = stack[-1][1] if stack else 1
        stack.append((depth, pid))
        current["procs"].append(Proc(pid, ppid, fields["comm"], fields.get("exe", ""),
                                     tuple(fields.get("args", "").split())))
    return phases


CLAUDE = parse_trees(CLAUDE_TREES)
CODEX = parse_trees(CODEX_TREES)


# -- the parser itself (so the tests below cannot pass on an empty parse) -----------------------

def test_fixture_parser_reads_every_phase():
    assert list(CLAUDE) == ["00_shell_before_claude", "02_idle_after_start", "10_A_running", "11_A_done",
                            "20_B_running_before_tool", "21_B_waiting_permission",
                            "21b_B_waiting_permission_after_7s", "22_B_tool_running", "23_B_done",
                            "24_B_idle_after_6s", "30_after_exit"]
    assert list(CODEX)[:6] == ["01_idle", "02_running", "03_waiting_approval", "04_tool_running", "05_done",
                               "06_after_quit"]
    tool = {p.pid: p for p in CLAUDE["22_B_tool_running"]["procs"]}
    assert set(tool) == {6763, 6775, 7352, 7354}
    assert (tool[6775].ppid, tool[7352].ppid, tool[7354].ppid) == (6763, 6775, 7352)
    assert tool[6775].exe.endswith("/claude.exe") and tool[6775].cmdline == ("claude",)
    codex = {p.pid: p for p in CODEX["04_tool_running"]["procs"]}
    assert (codex[7985].ppid, codex[8036].ppid, codex[8292].ppid, codex[8118].ppid) == (7973, 7985, 8036, 7985)
    assert codex[7973].cmdline == ("node", "/usr/local/lib/node_modules/.bin/codex")
    assert CODEX["04_tool_running"]["pane_pid"] == 7967 and CLAUDE["10_A_running"]["pane_pid"] == 6763


# -- real trees -------------------------------------------------------------------------------

CLAUDE_RUNNING = [n for n in CLAUDE if n not in ("00_shell_before_claude", "30_after_exit")]
CODEX_RUNNING = ["01_idle", "02_running", "03_waiting_approval", "04_tool_running", "05_done"]


@pytest.mark.parametrize("phase", CLAUDE_RUNNING)
def test_claude_code_is_one_agent_in_every_phase(phase):
    ph = CLAUDE[phase]
    assert I.pane_agents({ph["pane_id"]: ph["pane_pid"]}, ph["procs"]) == {"%0": [("claude-code", 6775)]}


@pytest.mark.parametrize("phase", ["00_shell_before_claude", "30_after_exit"])
def test_no_claude_before_start_and_after_exit(phase):
    ph = CLAUDE[phase]
    assert I.pane_agents({"%0": ph["pane_pid"]}, ph["procs"]) == {"%0": []}


@pytest.mark.parametrize("phase", CODEX_RUNNING)
def test_codex_is_one_agent_the_node_wrapper(phase):
    ph = CODEX[phase]
    assert I.pane_agents({ph["pane_id"]: ph["pane_pid"]}, ph["procs"]) == {"%0": [("codex", 7973)]}


def test_no_codex_after_quit_even_though_its_daemons_live_on():
    daemons = CODEX["06_after_quit"]["procs"] + CODEX["daemons"]["procs"]
    assert {p.pid for p in daemons} == {8036, 8118}
    assert I.pane_agents({"%0": 7967}, daemons) == {"%0": []}


def test_codex_daemons_are_not_agents_even_under_the_pane():
    # the same daemons re-parented under the pane's shell (e.g. the wrapper died first)
    shell = next(p for p in CODEX["05_done"]["procs"] if p.pid == 7967)
    daemons = [Proc(p.pid, 7967, p.name, p.exe, p.cmdline) for p in CODEX["daemons"]["procs"]]
    assert I.pane_agents({"%0": 7967}, [shell] + daemons) == {"%0": []}


def test_native_codex_without_its_wrapper_is_codex():
    procs = [p for p in CODEX["02_running"]["procs"] if p.pid != 7973]
    procs = [Proc(p.pid, 7967 if p.pid == 7985 else p.ppid, p.name, p.exe, p.cmdline) for p in procs]
    assert I.pane_agents({"%0": 7967}, procs) == {"%0": [("codex", 7985)]}


@pytest.mark.parametrize("trees,pid,agent", [
    (CLAUDE, 6775, "claude-code"), (CLAUDE, 6763, None), (CLAUDE, 7352, None), (CLAUDE, 7354, None),
    (CODEX, 7967, None), (CODEX, 7973, "codex"), (CODEX, 7985, "codex"), (CODEX, 8036, None),
    (CODEX, 8118, None), (CODEX, 8292, None), (CODEX, 8293, None),
])
def test_agent_of_each_real_process(trees, pid, agent):
    procs = {p.pid: p for ph in trees.values() for p in ph["procs"]}
    assert I.agent_of(procs[pid]) == agent


def _hook_chains():
    for line in (FIXTURES / "claude-code" / "hooks.jsonl").read_text().splitlines():
        rec = json.loads(line)
        chain = rec["proc_chain"]                 # hook process first, up to the tmux server
        procs = [Proc(c["pid"], chain[i + 1]["pid"] if i + 1 < len(chain) else 1, c["comm"], "",
                      tuple(c["args"].split())) for i, c in enumerate(chain)]
        yield rec["hook_event_name"], rec["TMUX_PANE"], procs


HOOK_CHAINS = list(_hook_chains())


def test_hook_fixture_is_read():
    assert len(HOOK_CHAINS) >= 5
    assert {e for e, _, _ in HOOK_CHAINS} >= {"SessionStart", "UserPromptSubmit", "Stop"}


@pytest.mark.parametrize("event,pane,procs", HOOK_CHAINS, ids=[f"{i}-{e}" for i, (e, _, _) in enumerate(HOOK_CHAINS)])
def test_hook_processes_under_claude_are_not_extra_agents(event, pane, procs):
    # the real chain: tmux server → bash (pane) → claude → sh -c <hook> → python3 hook-logger
    pane_pid = next(p.pid for p in procs if p.name == "bash")
    assert I.pane_agents({pane: pane_pid}, procs) == {pane: [("claude-code", 6775)]}
    assert [p.pid for p in procs if I.agent_of(p)] == [6775]


def test_timeseries_processes():
    """Every process seen under the pane while Claude ran: only claude itself (and its own forks,
    named claude.exe) are Claude; tools, hooks and git are not."""
    seen = {}
    for line in (FIXTURES / "claude-code" / "timeseries.jsonl").read_text().splitlines():
        for p in json.loads(line)["procs"]:
            seen[p["pid"]] = Proc(p["pid"], 6763 if p["pid"] == 6775 else 6775, p["comm"], p["exe"] or "",
                                  tuple(p["args"].split()))
    assert 6775 in seen and len(seen) > 3
    for pid, proc in seen.items():
        if pid == 6775 or proc.name == "claude.exe":
            assert I.agent_of(proc) == "claude-code", proc
        else:
            assert I.agent_of(proc) is None, proc
    bash = Proc(6763, 1, "bash", "/usr/bin/bash", ("bash", "--norc", "--noprofile"))
    assert I.pane_agents({"%0": 6763}, [bash, *seen.values()]) == {"%0": [("claude-code", 6775)]}


# -- synthetic processes ----------------------------------------------------------------------

def proc(cmdline: str, comm: str | None = None, exe: str = "", pid: int = 100, ppid: int = 1) -> Proc:
    argv = tuple(shlex.split(cmdline))
    return Proc(pid, ppid, comm if comm is not None else (argv[0].rsplit("/", 1)[-1][:15] if argv else ""),
                exe, argv)


POSITIVE = [
    ("claude typed", proc("claude", exe="/usr/local/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe"),
     "claude-code"),
    ("claude.exe by full path",
     proc("/usr/local/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe --resume",
          exe="/usr/local/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe"), "claude-code"),
    ("claude with exe unreadable", proc("claude", comm="claude"), "claude-code"),
    ("claude.exe fork without argv", Proc(100, 1, "claude.exe", "", ()), "claude-code"),
    ("claude via env", proc("env FOO=1 claude", comm="claude", exe="/usr/bin/claude"), "claude-code"),
    ("claude via npx package", proc("npx -y @anthropic-ai/claude-code", comm="npm exec"), "claude-code"),
    ("python -m aider", proc("python -m aider --model x", comm="python", exe="/usr/bin/python3.12"), "aider"),
    ("python3.11 -m aider", proc("/usr/bin/python3.11 -m aider", exe="/usr/bin/python3.11"), "aider"),
    ("aider script", proc("/usr/bin/python3 /home/u/.local/bin/aider --yes", comm="aider",
                          exe="/usr/bin/python3.12"), "aider"),
    ("python -u aider", proc("python3 -u /home/u/.local/bin/aider", exe="/usr/bin/python3"), "aider"),
    ("node gemini", proc("node /usr/local/bin/gemini", exe="/usr/bin/node"), "gemini"),
    ("node --flags gemini", proc("node --no-warnings=DEP0040 /usr/lib/node_modules/.bin/gemini -p hi",
                                 exe="/usr/bin/node"), "gemini"),
    ("bun opencode", proc("bun /home/u/.bun/bin/opencode", exe="/home/u/.bun/bin/bun"), "opencode"),
    ("native opencode", proc("/home/u/.opencode/bin/opencode", exe="/home/u/.opencode/bin/opencode"), "opencode"),
    ("opencode.exe", proc("opencode", comm="opencode.exe", exe="/x/opencode.exe"), "opencode"),
    ("codex.js", proc("node /usr/lib/node_modules/@openai/codex/bin/codex.js", exe="/usr/bin/node"), "codex"),
    ("codex exec", proc("codex exec 'fix the bug'", exe="/x/bin/codex"), "codex"),
    ("pi native", proc("pi", exe="/usr/local/bin/pi"), "pi"),
    ("pi under node", proc("node /usr/local/bin/pi", comm="pi", exe="/usr/bin/node"), "pi"),
    ("amp", proc("amp", exe="/usr/local/bin/amp"), "amp"),
    ("amp under node", proc("node /home/u/.amp/bin/amp --dangerously-allow-all", comm="node",
                            exe="/usr/bin/node"), "amp"),
    ("kilo", proc("kilo", exe="/usr/local/bin/kilo"), "kilo"),
    ("kilocode", proc("node /usr/lib/node_modules/.bin/kilocode", exe="/usr/bin/node"), "kilo"),
]

NEGATIVE = [
    ("tail-claude", proc("tail-claude --follow", exe="/usr/local/bin/tail-claude")),
    ("node tail-claude", proc("node /usr/local/bin/tail-claude", exe="/usr/bin/node")),
    ("vim claude.md", proc("vim claude.md", exe="/usr/bin/vim.basic")),
    ("vim CLAUDE.md", proc("nvim CLAUDE.md", exe="/usr/bin/nvim")),
    ("bash", proc("bash --norc --noprofile", exe="/usr/bin/bash")),
    ("login shell", proc("-bash", comm="bash", exe="/usr/bin/bash")),
    ("grep codex", proc("grep codex", exe="/usr/bin/grep")),
    ("rg claude", proc("rg -n claude src/", exe="/usr/bin/rg")),
    ("less codex.log", proc("less /home/u/.codex/log/codex.log", exe="/usr/bin/less")),
    ("sh -c echo claude", proc("sh -c 'echo claude'", exe="/usr/bin/dash")),
    ("bash -c claude hook", proc("/bin/bash -c 'claude-hook run'", exe="/usr/bin/bash")),
    ("node -e", proc("node -e \"require('codex')\"", exe="/usr/bin/node")),
    ("plain node server", proc("node /srv/app/server.js", exe="/usr/bin/node")),
    ("node repl", proc("node", exe="/usr/bin/node")),
    ("python script mentioning claude", proc("python3 /opt/tools/summarize.py claude", exe="/usr/bin/python3")),
    ("pip install aider", proc("python -m pip install aider-chat", exe="/usr/bin/python3")),
    ("man codex", proc("man codex", exe="/usr/bin/man")),
    ("claude mcp server", proc("claude mcp serve", exe="/x/claude.exe")),
    ("codex app-server", proc("/x/bin/codex app-server --listen unix://", exe="/x/bin/codex")),
    ("watch", proc("watch -n1 'ps aux | grep claude'", exe="/usr/bin/watch")),
    ("empty", Proc(100, 1, "", "", ())),
    ("kworker", Proc(100, 2, "kworker/0:1", "", ())),
    ("amplify", proc("amplify status", exe="/usr/local/bin/amplify")),
    ("pie", proc("pie", exe="/usr/bin/pie")),
]


@pytest.mark.parametrize("label,p,agent", POSITIVE, ids=[x[0] for x in POSITIVE])
def test_agent_of_finds_agents(label, p, agent):
    assert I.agent_of(p) == agent


@pytest.mark.parametrize("label,p", NEGATIVE, ids=[x[0] for x in NEGATIVE])
def test_agent_of_ignores_look_alikes(label, p):
    assert I.agent_of(p) is None


def test_every_known_agent_has_a_process_case():
    assert {agent for _, _, agent in POSITIVE} == set(I.AGENT_NAMES.values())


def test_shell_mentioning_claude_in_the_pane_is_not_an_agent():
    procs = [proc("bash", pid=10, ppid=1, exe="/usr/bin/bash"),
             proc("sh -c 'echo claude'", pid=11, ppid=10, exe="/usr/bin/dash"),
             proc("echo claude", comm="echo", pid=12, ppid=11)]
    assert I.pane_agents({"%1": 10}, procs) == {"%1": []}


# -- trees ------------------------------------------------------------------------------------

def tree(*rows) -> list[Proc]:
    """rows: (pid, ppid, cmdline, exe)"""
    return [proc(cmd, pid=pid, ppid=ppid, exe=exe) for pid, ppid, cmd, exe in rows]


def test_agent_that_is_the_pane_process_itself():
    procs = tree((10, 1, "claude", "/x/claude.exe"))
    assert I.pane_agents({"%1": 10}, procs) == {"%1": [("claude-code", 10)]}


def test_agent_behind_wrappers_a_few_levels_down():
    procs = tree((10, 1, "zsh", "/usr/bin/zsh"),
                 (11, 10, "node /usr/lib/node_modules/npm/bin/npm-cli.js exec codex", "/usr/bin/node"),
                 (12, 11, "sh -c codex", "/usr/bin/dash"),
                 (13, 12, "node /usr/local/bin/codex", "/usr/bin/node"),
                 (14, 13, "/x/vendor/bin/codex", "/x/vendor/bin/codex"))
    assert I.pane_agents({"%1": 10}, procs) == {"%1": [("codex", 13)]}


def test_two_agents_side_by_side_in_one_pane():
    procs = tree((10, 1, "bash", "/usr/bin/bash"),
                 (11, 10, "claude", "/x/claude.exe"),
                 (12, 10, "python -m aider", "/usr/bin/python3"))
    assert sorted(I.pane_agents({"%1": 10}, procs)["%1"]) == [("aider", 12), ("claude-code", 11)]


def test_an_agent_started_by_another_agent_counts_once():
    # codex launched from a claude tool: the pane shows one agent, the topmost
    procs = tree((10, 1, "bash", "/usr/bin/bash"),
                 (11, 10, "claude", "/x/claude.exe"),
                 (12, 11, "/bin/bash -c 'codex exec hi'", "/usr/bin/bash"),
                 (13, 12, "codex exec hi", "/x/codex"))
    assert I.pane_agents({"%1": 10}, procs) == {"%1": [("claude-code", 11)]}


def test_each_pane_sees_only_its_own_processes():
    procs = tree((10, 1, "bash", "/usr/bin/bash"), (11, 10, "claude", "/x/claude.exe"),
                 (20, 1, "bash", "/usr/bin/bash"), (21, 20, "node /x/gemini", "/usr/bin/node"),
                 (30, 1, "bash", "/usr/bin/bash"), (31, 30, "vim claude.md", "/usr/bin/vim"))
    assert I.pane_agents({"%1": 10, "%2": 20, "%3": 30, "%4": 999}, procs) == {
        "%1": [("claude-code", 11)], "%2": [("gemini", 21)], "%3": [], "%4": []}


def test_no_panes_no_agents():
    assert I.pane_agents({}, tree((10, 1, "claude", "/x/claude.exe"))) == {}


def test_a_process_table_with_a_cycle_does_not_hang():
    procs = [Proc(0, 0, "swapper", "", ()), Proc(5, 5, "weird", "", ())]
    assert I.pane_agents({"%1": 0, "%2": 5}, procs) == {"%1": [], "%2": []}
