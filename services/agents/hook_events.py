"""Agent hook payloads → evidence (`event` fields). Pure; the standard library only, so the hook
command starts fast. Each mapper returns None for a payload that says nothing about state.

Traps handled (AGENTS.md): a permission prompt is `waiting` at PermissionRequest (Notification's
permission_prompt comes ~6 s late and only confirms it); running-type hooks that re-fire during
a turn carry keeps_waiting so they cannot clear a fresh `waiting`; `Stop` with background tasks
is not done; subagents fire hooks into the parent's pane with their own session ids, so their
events count as the parent working; Codex's hidden title thread is not a thread.
"""
from __future__ import annotations

NAME_CHARS = 500
CODEX_TITLE_PROMPT = "Generate a concise, single-line task title"


def _prompt_name(prompt: object) -> str | None:
    if not isinstance(prompt, str):
        return None
    text = prompt.strip()
    if not text or text.startswith(("/", "<", "[Request interrupted")):
        return None   # slash commands, local-command echoes, system reminders are not names
    return text[:NAME_CHARS]


def _parent_of_subagent(transcript_path: str) -> str | None:
    """…/<session-id>/subagents/agent-<id>.jsonl → <session-id>."""
    if "/subagents/" not in transcript_path:
        return None
    head = transcript_path.split("/subagents/", 1)[0]
    return head.rsplit("/", 1)[-1] or None


def claude_event(payload: dict) -> dict | None:
    name = payload.get("hook_event_name")
    sid = payload.get("session_id")
    if not isinstance(name, str) or not isinstance(sid, str) or not sid:
        return None
    ev: dict = {"agent": "claude-code", "source": "hook", "hook": name[:64], "thread_id": sid[:256]}
    if isinstance(payload.get("cwd"), str):
        ev["dir"] = payload["cwd"]
    tpath = payload.get("transcript_path")
    parent = _parent_of_subagent(tpath if isinstance(tpath, str) else "")
    if parent is not None or name == "SubagentStop":
        # a subagent working is its parent's turn going on; it never ends or answers that turn
        if parent is not None:
            ev["thread_id"] = parent
        if name in ("SessionEnd", "SessionStart"):
            return None
        return {**ev, "status": "running", "keeps_waiting": True}
    if name == "SessionStart":
        return {**ev, "status": None if payload.get("source") == "compact" else "idle"}
    if name == "UserPromptSubmit":
        out = {**ev, "status": "running"}
        prompt = _prompt_name(payload.get("prompt"))
        if prompt:
            out["thread_name"], out["name_rank"] = prompt, 1
        return out
    if name == "PreToolUse":
        return {**ev, "status": "tool-running", "keeps_waiting": True}
    if name == "PermissionRequest":
        return {**ev, "status": "waiting"}
    if name in ("PostToolUse", "PostToolUseFailure"):
        return {**ev, "status": "running"}     # the tool ran: any permission prompt was answered
    if name == "Notification":
        kind = payload.get("notification_type")
        if kind in ("permission_prompt", "elicitation_dialog"):
            return {**ev, "status": "waiting"}
        if kind == "idle_prompt":
            return {**ev, "status": "idle"}    # the tracker keeps a finished turn `done`
        return None
    if name == "Stop":
        if payload.get("background_tasks"):
            return {**ev, "status": "running", "keeps_waiting": True}
        return {**ev, "status": "done"}
    if name == "StopFailure":
        return {**ev, "status": "error"}
    if name == "SessionEnd":
        return {**ev, "status": None, "ends": True}
    if name == "PreCompact":
        return {**ev, "status": "running", "keeps_waiting": True}
    return None


# Codex hooks (hooks.json) and Gemini CLI hooks are Claude-shaped with their own event names.
_CODEX_HOOK_NAMES = {"sessionStart": "SessionStart", "userPromptSubmit": "UserPromptSubmit",
                     "preToolUse": "PreToolUse", "permissionRequest": "PermissionRequest",
                     "postToolUse": "PostToolUse", "stop": "Stop", "sessionEnd": "SessionEnd"}
_GEMINI_HOOK_NAMES = {"SessionStart": "SessionStart", "BeforeAgent": "UserPromptSubmit",
                      "BeforeTool": "PreToolUse", "AfterTool": "PostToolUse", "AfterAgent": "Stop",
                      "SessionEnd": "SessionEnd", "Notification": "Notification"}


def codex_event(payload: dict) -> dict | None:
    """Codex's `notify` program payload, or a Codex hook payload."""
    if payload.get("type") == "agent-turn-complete":
        tid = payload.get("thread-id")
        if not isinstance(tid, str) or not tid:
            return None
        inputs = payload.get("input-messages")
        inputs = inputs if isinstance(inputs, list) else []
        first = inputs[0] if inputs and isinstance(inputs[0], str) else ""
        if first.startswith(CODEX_TITLE_PROMPT):
            return None    # the hidden thread Codex runs to title the real one
        ev = {"agent": "codex", "source": "hook", "hook": "agent-turn-complete", "thread_id": tid[:256],
              "status": "done"}
        if isinstance(payload.get("cwd"), str):
            ev["dir"] = payload["cwd"]
        name = _prompt_name(inputs[-1]) if inputs and isinstance(inputs[-1], str) else None
        if name:
            ev["thread_name"], ev["name_rank"] = name, 1
        return ev
    name = payload.get("hook_event_name")
    if isinstance(name, str) and name in _CODEX_HOOK_NAMES:
        ev = claude_event({**payload, "hook_event_name": _CODEX_HOOK_NAMES[name]})
        return None if ev is None else {**ev, "agent": "codex", "hook": name}
    return None


def gemini_event(payload: dict) -> dict | None:
    name = payload.get("hook_event_name")
    if not isinstance(name, str) or name not in _GEMINI_HOOK_NAMES:
        return None
    mapped = dict(payload, hook_event_name=_GEMINI_HOOK_NAMES[name])
    if name == "Notification" and payload.get("notification_type") in ("ToolPermission", "tool_permission"):
        mapped["notification_type"] = "permission_prompt"
    ev = claude_event(mapped)
    return None if ev is None else {**ev, "agent": "gemini", "hook": name}


MAPPERS = {"claude-code": claude_event, "codex": codex_event, "gemini": gemini_event}
