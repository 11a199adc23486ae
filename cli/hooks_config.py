"""`opensessions hooks install|uninstall AGENT`: add our hook command to an agent's settings,
idempotently, keeping every hook of the user's, showing the diff and backing up the original.

Our entries are recognised by their command (`… opensessions … hook AGENT`), so installing twice
changes nothing and uninstalling removes only ours. The edit functions are pure (document in,
document out); `apply` does the file work.
"""
from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shlex
import time

from services.paths import atomic_write

CLAUDE_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse",
                 "Notification", "Stop", "SubagentStop", "SessionEnd")
GEMINI_EVENTS = ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "AfterAgent", "Notification",
                 "SessionEnd")
TOOL_EVENTS = {"PreToolUse", "PostToolUse", "PermissionRequest", "BeforeTool", "AfterTool"}
HOOK_TIMEOUT = 5


class HooksError(Exception):
    pass


def hook_command(binary: str, agent: str) -> str:
    return f"{shlex.quote(binary)} hook {agent}"


def _ours(command: object, agent: str) -> bool:
    return isinstance(command, str) and "opensessions" in command and command.rstrip().endswith(f"hook {agent}")


def settings_path(agent: str, env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    home = env.get("HOME") or os.path.expanduser("~")
    if agent == "claude-code":
        return os.path.join(env.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude"), "settings.json")
    if agent == "codex":
        return os.path.join(env.get("CODEX_HOME") or os.path.join(home, ".codex"), "config.toml")
    if agent == "gemini":
        return os.path.join(home, ".gemini", "settings.json")
    raise HooksError(f"no hooks for {agent!r}; hooks exist for claude-code, codex, gemini")


# -- Claude Code and Gemini CLI: JSON settings with a "hooks" table ----------------------------

def _without_ours(doc: dict, agent: str) -> dict:
    """The document minus our entries; untouched (even an empty "hooks": {}) when none are there."""
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict) or not any(
            isinstance(g, dict) and isinstance(g.get("hooks"), list)
            and any(isinstance(h, dict) and _ours(h.get("command"), agent) for h in g["hooks"])
            for groups in hooks.values() if isinstance(groups, list) for g in groups):
        return copy.deepcopy(doc)
    doc = copy.deepcopy(doc)
    hooks = doc["hooks"]
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                inner = [h for h in group["hooks"] if not (isinstance(h, dict) and _ours(h.get("command"), agent))]
                if not inner:
                    continue
                group = {**group, "hooks": inner}
            kept.append(group)
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if not hooks:
        del doc["hooks"]
    return doc


def json_installed(doc: dict, agent: str, command: str) -> dict:
    events = CLAUDE_EVENTS if agent == "claude-code" else GEMINI_EVENTS
    doc = _without_ours(doc, agent)
    hooks = doc.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise HooksError("the settings file has a 'hooks' value that is not an object; fix it by hand first")
    for event in events:
        group: dict = {"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT}]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        existing = hooks.get(event)
        if existing is not None and not isinstance(existing, list):
            raise HooksError(f"hooks.{event} in the settings file is not a list; fix it by hand first")
        hooks[event] = (existing or []) + [group]
    return doc


def json_uninstalled(doc: dict, agent: str) -> dict:
    return _without_ours(doc, agent)


# -- Codex: `notify = [...]` at the top level of config.toml -----------------------------------

_NOTIFY = re.compile(r"^\s*notify\s*=")


def codex_installed(text: str, binary: str) -> str:
    line = f"notify = [{json.dumps(binary)}, \"hook\", \"codex\"]"
    lines = text.splitlines()
    top_end = next((i for i, raw in enumerate(lines) if raw.lstrip().startswith("[")), len(lines))
    for i in range(top_end):
        if _NOTIFY.match(lines[i]):
            if "opensessions" in lines[i] and "codex" in lines[i]:
                lines[i] = line
                return "\n".join(lines) + "\n"
            raise HooksError(f"Codex already runs a notify program ({lines[i].strip()}); it takes only one. "
                             f"Remove that line to let opensessions use it")
    lines.insert(0, line)
    return "\n".join(lines) + "\n"


def codex_uninstalled(text: str) -> str:
    lines = [raw for raw in text.splitlines()
             if not (_NOTIFY.match(raw) and "opensessions" in raw and "codex" in raw)]
    return "\n".join(lines) + ("\n" if lines else "")


# -- files --------------------------------------------------------------------------------

def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise HooksError(f"cannot read {path}: {e}") from None


def new_text(agent: str, action: str, old: str | None, binary: str) -> str:
    if agent == "codex":
        base = old or ""
        return codex_installed(base, binary) if action == "install" else codex_uninstalled(base)
    try:
        doc = json.loads(old) if old and old.strip() else {}
    except json.JSONDecodeError as e:
        raise HooksError(f"the settings file is not valid JSON ({e}); fix it first, nothing was changed") from None
    if not isinstance(doc, dict):
        raise HooksError("the settings file is not a JSON object; nothing was changed")
    doc = json_installed(doc, agent, hook_command(binary, agent)) if action == "install" \
        else json_uninstalled(doc, agent)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def apply(agent: str, action: str, binary: str, dry_run: bool, env: dict[str, str] | None = None,
          now: float | None = None) -> tuple[str, str, str | None]:
    """Returns (path, unified diff, backup path or None). Writes nothing on a dry run or no change."""
    path = settings_path(agent, env)
    old = _read(path)
    if old is None and action == "uninstall":
        return path, "", None
    new = new_text(agent, action, old, binary)
    if new == (old or ""):
        return path, "", None
    diff = "".join(difflib.unified_diff((old or "").splitlines(True), new.splitlines(True),
                                        fromfile=path if old is not None else "/dev/null", tofile=path))
    if dry_run:
        return path, diff, None
    backup = None
    if old is not None:
        backup = f"{path}.opensessions-backup-{int(now if now is not None else time.time())}"
        atomic_write(backup, old.encode())
    atomic_write(path, new.encode(), mode=0o644 if old is None else os.stat(path).st_mode & 0o777)
    return path, diff, backup
