"""services/agents/hook_events.py: agent hook payloads → evidence, checked with the payloads the
real Claude Code 2.1.197 and Codex 0.171.0 sent (shared/fixtures), and through the tracker."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from services import protocol as P
from services.agents.hook_events import MAPPERS, claude_event, codex_event, gemini_event
from services.state.tracker import Event, Tracker

from ._builders import FEW, FIXTURES, PROPS, Feed, iso_ts, load_jsonl

CLAUDE_HOOKS = load_jsonl(FIXTURES / "claude-code" / "hooks.jsonl")
CODEX_NOTIFY = load_jsonl(FIXTURES / "codex" / "notify.jsonl")
SESSION_ID = CLAUDE_HOOKS[0]["payload"]["session_id"]
AGENT_PID = 6775                 # the `claude` process in every hook's parent chain
PANE_SESSION = {"%0": "$0"}


def hook(name: str, **extra) -> dict:
    """A Claude hook payload shaped like the fixture's, for events the capture does not hold."""
    base = dict(CLAUDE_HOOKS[0]["payload"])
    base.pop("source", None)
    return {**base, "hook_event_name": name, **extra}


def to_event(ev: dict, **extra) -> Event:
    """What `opensessions hook` sends (the mapper's dict plus pane, pid, at) as a tracker Event."""
    fields = {k: v for k, v in {**ev, **extra}.items() if k != "hook"}
    return Event(**fields)


def wire_check(ev: dict, **extra) -> dict:
    """The event must pass the protocol exactly as the hook command sends it."""
    return P.validate_event({**ev, **extra})


# -- the real capture, start to end -----------------------------------------------------------

def test_the_fixture_is_the_documented_two_turn_run():
    names = [line["payload"]["hook_event_name"] for line in CLAUDE_HOOKS]
    assert names == ["SessionStart", "UserPromptSubmit", "Stop", "UserPromptSubmit", "PreToolUse",
                     "PermissionRequest", "Notification", "PostToolUse", "Stop", "Notification", "SessionEnd"]
    assert {line["TMUX_PANE"] for line in CLAUDE_HOOKS} == {"%0"}
    assert all(any(p["pid"] == AGENT_PID and p["comm"] == "claude" for p in line["proc_chain"])
               for line in CLAUDE_HOOKS)


def test_the_real_claude_hooks_drive_the_thread_through_its_life():
    f = Feed(pane_session=PANE_SESSION)
    seen = []
    for line in CLAUDE_HOOKS:
        ev = claude_event(line["payload"])
        assert ev is not None, line["payload"]["hook_event_name"]
        at = iso_ts(line["ts"])
        wire_check(ev, pane=line["TMUX_PANE"], pid=AGENT_PID, at=at)
        f.tracker.apply_event(to_event(ev, pane=line["TMUX_PANE"], pid=AGENT_PID, at=at), at,
                              f.pane_session, f.dirs.get, f.looking)
        th = f.thread(SESSION_ID)
        seen.append("exited" if th.liveness == "exited" else th.status)
    assert seen == ["idle", "running", "done", "running", "tool-running", "waiting", "waiting", "running",
                    "done", "done", "exited"]
    th = f.thread(SESSION_ID)
    assert list(f.tracker.threads) == [Tracker.key("claude-code", SESSION_ID)]
    assert (th.status, th.pane_id, th.session_id, th.pid) == ("done", "%0", "$0", AGENT_PID)
    assert th.thread_name == "say hi"                       # the first prompt names it
    assert th.dir == "/home/dev/proj"
    assert th.unseen is True                                # nobody looked at the finished turn


def test_the_real_hooks_absorb_the_process_placeholder():
    f = Feed(pane_session=PANE_SESSION)
    f.tracker.apply_presence({"%0": [("claude-code", AGENT_PID)]}, PANE_SESSION, now=iso_ts(CLAUDE_HOOKS[0]["ts"]) - 1)
    first = CLAUDE_HOOKS[0]
    ev = claude_event(first["payload"])
    at = iso_ts(first["ts"])
    f.tracker.apply_event(to_event(ev, pane="%0", pid=AGENT_PID, at=at), at, PANE_SESSION, f.dirs.get, f.looking)
    assert list(f.tracker.threads) == [Tracker.key("claude-code", SESSION_ID)]


@pytest.mark.parametrize("i,expected", [
    (0, {"status": "idle"}),
    (1, {"status": "running", "thread_name": "say hi", "name_rank": 1}),
    (2, {"status": "done"}),
    (4, {"status": "tool-running", "keeps_waiting": True}),
    (5, {"status": "waiting"}),
    (6, {"status": "waiting"}),
    (7, {"status": "running"}),
    (9, {"status": "idle"}),
    (10, {"status": None, "ends": True}),
])
def test_each_real_claude_payload(i, expected):
    ev = claude_event(CLAUDE_HOOKS[i]["payload"])
    assert ev["agent"] == "claude-code" and ev["source"] == "hook" and ev["thread_id"] == SESSION_ID
    assert ev["hook"] == CLAUDE_HOOKS[i]["payload"]["hook_event_name"]
    assert ev["dir"] == "/home/dev/proj"
    for k, v in expected.items():
        assert ev.get(k) == v, k
    if "keeps_waiting" not in expected:
        assert not ev.get("keeps_waiting")


def test_the_real_codex_notify_payloads():
    title, real = CODEX_NOTIFY
    assert title["payload"]["input-messages"][0].startswith("Generate a concise, single-line task title")
    assert codex_event(title["payload"]) is None             # the hidden title thread is not a thread
    ev = codex_event(real["payload"])
    assert ev == {"agent": "codex", "source": "hook", "hook": "agent-turn-complete",
                  "thread_id": "01a21f1d-0618-7d50-a17c-a64b04d3ef1a", "status": "done",
                  "dir": "/home/dev/proj", "thread_name": "create hi.txt", "name_rank": 1}
    wire_check(ev, pane=real["TMUX_PANE"], pid=None, at=float(real["ts"]))


def test_codex_notify_through_the_tracker():
    f = Feed(pane_session=PANE_SESSION)
    for line in CODEX_NOTIFY:
        ev = codex_event(line["payload"])
        if ev is not None:
            at = float(line["ts"])
            f.tracker.apply_event(to_event(ev, pane=line["TMUX_PANE"], at=at), at, PANE_SESSION, f.dirs.get, f.looking)
    (th,) = f.tracker.threads.values()
    assert (th.agent, th.thread_id, th.status, th.pane_id, th.thread_name) == \
        ("codex", "01a21f1d-0618-7d50-a17c-a64b04d3ef1a", "done", "%0", "create hi.txt")


# -- the traps (AGENTS.md) --------------------------------------------------------------------

SUBAGENT_PATH = f"/home/dev/.claude/projects/-home-dev-proj/{SESSION_ID}/subagents/agent-a1b2.jsonl"


@pytest.mark.parametrize("name", ["UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "Notification",
                                  "PermissionRequest"])
def test_a_subagents_hooks_are_its_parent_working(name):
    ev = claude_event(hook(name, session_id="sub-own-id", transcript_path=SUBAGENT_PATH,
                           notification_type="idle_prompt", prompt="do the sub task"))
    assert ev["thread_id"] == SESSION_ID
    assert ev["status"] == "running" and ev["keeps_waiting"] is True
    assert not ev.get("ends") and "thread_name" not in ev


@pytest.mark.parametrize("name", ["SessionStart", "SessionEnd"])
def test_a_subagents_start_and_end_say_nothing(name):
    assert claude_event(hook(name, session_id="sub-own-id", transcript_path=SUBAGENT_PATH, source="startup")) is None


def test_subagent_stop_is_the_parent_working():
    ev = claude_event(hook("SubagentStop"))
    assert (ev["thread_id"], ev["status"], ev["keeps_waiting"]) == (SESSION_ID, "running", True)


def test_a_subagent_does_not_answer_its_parents_permission_prompt():
    f = Feed(pane_session=PANE_SESSION)
    for at, payload in [(1.0, hook("UserPromptSubmit", prompt="go")), (2.0, hook("PermissionRequest")),
                        (3.0, hook("PostToolUse", session_id="sub", transcript_path=SUBAGENT_PATH)),
                        (4.0, hook("Stop", session_id="sub", transcript_path=SUBAGENT_PATH))]:
        f.tracker.apply_event(to_event(claude_event(payload), pane="%0", at=at), at, PANE_SESSION, f.dirs.get, f.looking)
    assert f.thread(SESSION_ID).status == "waiting"
    assert list(f.tracker.threads) == [Tracker.key("claude-code", SESSION_ID)]


def test_stop_with_background_tasks_is_not_done():
    ev = claude_event(hook("Stop", background_tasks=[{"id": "bash_1", "command": "npm run dev"}]))
    assert ev["status"] == "running" and ev["keeps_waiting"] is True
    assert claude_event(hook("Stop", background_tasks=[]))["status"] == "done"
    assert claude_event(hook("Stop"))["status"] == "done"


def _run(payloads) -> str:
    f = Feed(pane_session=PANE_SESSION)
    for at, payload in enumerate(payloads, start=1):
        ev = claude_event(payload)
        f.tracker.apply_event(to_event(ev, pane="%0", pid=AGENT_PID, at=float(at)), float(at),
                              PANE_SESSION, f.dirs.get, f.looking)
    return f.thread(SESSION_ID).status


def test_pre_tool_use_refiring_after_the_permission_request_keeps_waiting():
    assert _run([hook("UserPromptSubmit", prompt="x"), hook("PreToolUse", tool_name="Bash"),
                 hook("PermissionRequest", tool_name="Bash"), hook("PreToolUse", tool_name="Bash")]) == "waiting"


def test_post_tool_use_means_the_prompt_was_answered():
    assert _run([hook("UserPromptSubmit", prompt="x"), hook("PermissionRequest", tool_name="Bash"),
                 hook("PostToolUse", tool_name="Bash")]) == "running"
    assert _run([hook("PermissionRequest"), hook("PostToolUseFailure", tool_name="Bash")]) == "running"


def test_a_late_permission_notification_only_confirms_waiting():
    assert _run([hook("PermissionRequest"), hook("Notification", notification_type="permission_prompt")]) == "waiting"


def test_stop_with_background_tasks_keeps_a_waiting_thread_waiting():
    assert _run([hook("PermissionRequest"), hook("Stop", background_tasks=[{"id": "b"}])]) == "waiting"


def test_the_idle_prompt_after_stop_keeps_done():
    assert _run([hook("UserPromptSubmit", prompt="x"), hook("Stop"),
                 hook("Notification", notification_type="idle_prompt")]) == "done"


# -- every other event and every malformed payload --------------------------------------------

@pytest.mark.parametrize("payload,status,extra", [
    (hook("SessionStart", source="resume"), "idle", {}),
    (hook("SessionStart", source="compact"), None, {}),
    (hook("PreCompact"), "running", {"keeps_waiting": True}),
    (hook("StopFailure"), "error", {}),
    (hook("Notification", notification_type="elicitation_dialog"), "waiting", {}),
    (hook("SessionEnd", reason="clear"), None, {"ends": True}),
])
def test_other_claude_events(payload, status, extra):
    ev = claude_event(payload)
    assert ev["status"] == status
    for k, v in extra.items():
        assert ev[k] == v


@pytest.mark.parametrize("payload", [
    hook("Notification", notification_type="auth_success"),
    hook("Notification"),
    hook("SomeFutureEvent"),
    hook("stop"),                                      # names are case-sensitive
])
def test_claude_events_that_say_nothing_about_state(payload):
    assert claude_event(payload) is None


@pytest.mark.parametrize("payload", [
    {}, {"hook_event_name": "Stop"},
    {k: v for k, v in hook("Stop").items() if k != "session_id"},
    hook("Stop", session_id=""), hook("Stop", session_id=None), hook("Stop", session_id=42),
    hook("Stop", hook_event_name=None), hook("Stop", hook_event_name=7), hook("Stop", hook_event_name=["Stop"]),
    hook("Stop", hook_event_name=""),
])
def test_malformed_claude_payloads_map_to_nothing(payload):
    assert claude_event(payload) is None


@pytest.mark.parametrize("prompt,name", [
    ("say hi", "say hi"), ("  padded  ", "padded"), ("/clear", None), ("<command-name>/x</command-name>", None),
    ("[Request interrupted by user]", None), ("", None), ("   ", None), (None, None), (42, None),
    ("x" * 600, "x" * 500),
])
def test_a_prompt_names_the_thread_unless_it_is_noise(prompt, name):
    ev = claude_event(hook("UserPromptSubmit", prompt=prompt))
    assert ev["status"] == "running"
    assert ev.get("thread_name") == name
    if name is not None:
        assert ev["name_rank"] == 1


def test_ids_are_cut_to_the_protocol_limits():
    ev = claude_event(hook("Stop", session_id="s" * 400, hook_event_name="Stop"))
    assert len(ev["thread_id"]) == 256
    wire_check(ev)


@pytest.mark.parametrize("payload", [
    {}, {"type": "agent-turn-complete"}, {"type": "agent-turn-complete", "thread-id": ""},
    {"type": "agent-turn-complete", "thread-id": 5}, {"type": "something-else", "thread-id": "t"},
    {"hook_event_name": "Stop", "session_id": "t"},           # a Claude name is not a Codex hook
])
def test_malformed_or_foreign_codex_payloads_map_to_nothing(payload):
    assert codex_event(payload) is None


def test_codex_notify_without_input_messages_is_still_done():
    ev = codex_event({"type": "agent-turn-complete", "thread-id": "t1"})
    assert ev["status"] == "done" and ev["thread_id"] == "t1" and "thread_name" not in ev and "dir" not in ev


@pytest.mark.parametrize("name,status", [("sessionStart", "idle"), ("userPromptSubmit", "running"),
                                         ("preToolUse", "tool-running"), ("permissionRequest", "waiting"),
                                         ("postToolUse", "running"), ("stop", "done"), ("sessionEnd", None)])
def test_codex_hooks_are_claude_shaped(name, status):
    ev = codex_event({"hook_event_name": name, "session_id": "cx-1", "cwd": "/p", "prompt": "hello"})
    assert (ev["agent"], ev["hook"], ev["thread_id"], ev["status"]) == ("codex", name, "cx-1", status)
    wire_check(ev)


@pytest.mark.parametrize("name,extra,status", [
    ("SessionStart", {}, "idle"), ("BeforeAgent", {"prompt": "hi"}, "running"),
    ("BeforeTool", {}, "tool-running"), ("AfterTool", {}, "running"), ("AfterAgent", {}, "done"),
    ("SessionEnd", {}, None), ("Notification", {"notification_type": "ToolPermission"}, "waiting"),
])
def test_gemini_hooks(name, extra, status):
    ev = gemini_event({"hook_event_name": name, "session_id": "g-1", "cwd": "/p", **extra})
    assert (ev["agent"], ev["hook"], ev["thread_id"], ev["status"]) == ("gemini", name, "g-1", status)
    wire_check(ev)


@pytest.mark.parametrize("payload", [{"hook_event_name": "PreToolUse", "session_id": "g"},   # a Claude name
                                     {"hook_event_name": "BeforeAgent"}, {"session_id": "g"},
                                     {"hook_event_name": "Notification", "session_id": "g",
                                      "notification_type": "Other"}])
def test_gemini_payloads_that_say_nothing(payload):
    assert gemini_event(payload) is None


def test_every_agent_with_hooks_has_a_mapper():
    assert set(MAPPERS) == {"claude-code", "codex", "gemini"} and set(MAPPERS) <= set(P.AGENTS)


# -- properties -------------------------------------------------------------------------------

CLAUDE_NAMES = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse",
                "PostToolUseFailure", "Notification", "Stop", "StopFailure", "SubagentStop", "SessionEnd",
                "PreCompact", "Other"]
text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)


@PROPS
@given(st.fixed_dictionaries({"hook_event_name": st.sampled_from(CLAUDE_NAMES), "session_id": text},
                             optional={"cwd": text, "prompt": st.none() | text,
                                       "transcript_path": st.sampled_from(["", SUBAGENT_PATH, "/x/t.jsonl"]),
                                       "notification_type": st.sampled_from(["idle_prompt", "permission_prompt", "x"]),
                                       "background_tasks": st.lists(st.integers(), max_size=2),
                                       "source": st.sampled_from(["startup", "compact", "resume"])}))
def test_whatever_claude_sends_maps_to_nothing_or_a_valid_event(payload):
    for mapper in (claude_event, gemini_event, codex_event):
        ev = mapper(payload)
        if ev is not None:
            out = wire_check(ev, pane="%0", pid=1, at=1.0)
            assert out["thread_id"]


@FEW
@given(st.dictionaries(st.sampled_from(["type", "thread-id", "cwd", "input-messages", "hook_event_name",
                                        "session_id"]),
                       st.none() | st.booleans() | st.integers() | text | st.lists(text, max_size=3),
                       max_size=6))
def test_codex_event_never_raises_on_json_shaped_input(payload):
    ev = codex_event(payload)
    assert ev is None or ev["agent"] == "codex"


@pytest.mark.parametrize("mapper,payload", [
    (claude_event, hook("Stop", transcript_path=5)),
    (claude_event, hook("Stop", transcript_path=["/a/subagents/b.jsonl"])),
    (codex_event, {"type": "agent-turn-complete", "thread-id": "t", "input-messages": {"a": 1}}),
    (codex_event, {"type": "agent-turn-complete", "thread-id": "t", "input-messages": 5}),
], ids=["claude-int-transcript", "claude-list-transcript", "codex-dict-inputs", "codex-int-inputs"])
def test_a_mapper_never_raises_on_a_wrongly_typed_field(mapper, payload):
    """Payloads are JSON from another program: a field of the wrong JSON type gives None or a
    valid event, never an exception (which would drop the event in `opensessions hook`)."""
    ev = mapper(payload)
    assert ev is None or wire_check(ev)
