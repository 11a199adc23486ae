"""cli/hooks_config.py: installing our hook command into an agent's settings, idempotently,
keeping every hook of the user's, and the file work (backup, dry run, refusing a broken file)."""
from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import given, strategies as st

from cli import hooks_config as H

from ._builders import FEW

BINARY = "/home/dev/.local/bin/opensessions"
CMD = H.hook_command(BINARY, "claude-code")
USER_HOOK = {"type": "command", "command": "~/bin/notify-me.sh", "timeout": 3}

USER_DOC = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "Stop": [{"hooks": [USER_HOOK]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard.py"}]}],
        "UserDefinedOnly": [{"hooks": [{"type": "command", "command": "x"}]}],
    },
}


def ours_in(doc: dict, agent: str = "claude-code") -> dict[str, list[dict]]:
    """event → the groups holding our command."""
    out: dict = {}
    for event, groups in doc.get("hooks", {}).items():
        for g in groups:
            if any(h.get("command", "").endswith(f"hook {agent}") and "opensessions" in h.get("command", "")
                   for h in g.get("hooks", [])):
                out.setdefault(event, []).append(g)
    return out


# -- JSON settings (Claude Code, Gemini CLI) --------------------------------------------------

def test_hook_command_quotes_the_binary():
    assert H.hook_command("/opt/my tools/opensessions", "codex") == "'/opt/my tools/opensessions' hook codex"
    assert H.hook_command(BINARY, "claude-code") == f"{BINARY} hook claude-code"


def test_install_adds_one_hook_per_event_with_a_matcher_only_for_tool_events():
    doc = H.json_installed({}, "claude-code", CMD)
    ours = ours_in(doc)
    assert set(ours) == set(H.CLAUDE_EVENTS)
    assert {"SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Notification",
            "Stop", "SessionEnd"} <= set(H.CLAUDE_EVENTS)
    for event, groups in ours.items():
        assert len(groups) == 1
        (group,) = groups
        assert group["hooks"] == [{"type": "command", "command": CMD, "timeout": H.HOOK_TIMEOUT}]
        if event in ("PreToolUse", "PostToolUse", "PermissionRequest"):
            assert group["matcher"] == "*"
        else:
            assert "matcher" not in group


def test_install_keeps_the_users_settings_and_hooks_in_the_same_events():
    doc = H.json_installed(copy.deepcopy(USER_DOC), "claude-code", CMD)
    assert doc["model"] == "opus" and doc["permissions"] == USER_DOC["permissions"]
    assert doc["hooks"]["Stop"][0] == {"hooks": [USER_HOOK]}                  # theirs first, untouched
    assert doc["hooks"]["PreToolUse"][0] == USER_DOC["hooks"]["PreToolUse"][0]
    assert doc["hooks"]["UserDefinedOnly"] == USER_DOC["hooks"]["UserDefinedOnly"]
    assert len(doc["hooks"]["Stop"]) == 2 and len(ours_in(doc)["Stop"]) == 1


def test_install_does_not_modify_its_argument():
    doc = copy.deepcopy(USER_DOC)
    H.json_installed(doc, "claude-code", CMD)
    assert doc == USER_DOC


def test_installing_twice_is_installing_once():
    once = H.json_installed(copy.deepcopy(USER_DOC), "claude-code", CMD)
    assert H.json_installed(copy.deepcopy(once), "claude-code", CMD) == once


def test_installing_again_with_a_new_binary_path_replaces_ours():
    once = H.json_installed({}, "claude-code", CMD)
    moved = H.json_installed(once, "claude-code", H.hook_command("/usr/local/bin/opensessions", "claude-code"))
    commands = [h["command"] for groups in moved["hooks"].values() for g in groups for h in g["hooks"]]
    assert commands == ["/usr/local/bin/opensessions hook claude-code"] * len(H.CLAUDE_EVENTS)


def test_uninstall_removes_only_ours():
    installed = H.json_installed(copy.deepcopy(USER_DOC), "claude-code", CMD)
    assert H.json_uninstalled(installed, "claude-code") == USER_DOC
    assert json.dumps(H.json_uninstalled(installed, "claude-code")) == json.dumps(USER_DOC)   # key order too


def test_uninstall_keeps_a_users_hook_sharing_a_group_with_ours():
    doc = {"hooks": {"Stop": [{"matcher": "", "hooks": [USER_HOOK, {"type": "command", "command": CMD}]}]}}
    assert H.json_uninstalled(doc, "claude-code") == {"hooks": {"Stop": [{"matcher": "", "hooks": [USER_HOOK]}]}}


def test_uninstall_only_touches_the_named_agent():
    gemini_cmd = H.hook_command(BINARY, "gemini")
    doc = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": gemini_cmd}]},
                              {"hooks": [{"type": "command", "command": CMD}]}]}}
    assert H.json_uninstalled(doc, "claude-code") == {"hooks": {"Stop": [{"hooks": [{"type": "command",
                                                                                       "command": gemini_cmd}]}]}}


def test_a_users_command_that_merely_mentions_us_is_not_ours():
    theirs = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "echo hook claude-code"},
                                            {"type": "command", "command": "opensessions ls"}]}]}}
    assert H.json_uninstalled(theirs, "claude-code") == theirs


def test_gemini_uses_its_own_event_names():
    doc = H.json_installed({}, "gemini", H.hook_command(BINARY, "gemini"))
    assert set(ours_in(doc, "gemini")) == set(H.GEMINI_EVENTS)
    assert {"BeforeAgent", "AfterAgent", "BeforeTool", "AfterTool"} <= set(H.GEMINI_EVENTS)
    assert doc["hooks"]["BeforeTool"][0]["matcher"] == "*" and "matcher" not in doc["hooks"]["AfterAgent"][0]


@pytest.mark.parametrize("doc", [{"hooks": []}, {"hooks": "x"}, {"hooks": {"Stop": {"hooks": []}}}])
def test_a_hooks_table_of_the_wrong_shape_is_refused(doc):
    with pytest.raises(H.HooksError):
        H.json_installed(doc, "claude-code", CMD)


user_command = st.text(alphabet="abcdefghij ./-_~", min_size=1, max_size=20)
user_group = st.fixed_dictionaries({"hooks": st.lists(st.fixed_dictionaries({"type": st.just("command"),
                                                                            "command": user_command}),
                                                      min_size=1, max_size=3)},
                                   optional={"matcher": st.sampled_from(["*", "Bash", "Edit|Write"])})
user_doc = st.fixed_dictionaries({}, optional={
    "hooks": st.dictionaries(st.sampled_from(list(H.CLAUDE_EVENTS) + ["Other"]),
                             st.lists(user_group, min_size=1, max_size=3), min_size=1, max_size=5),
    "model": st.sampled_from(["opus", "sonnet"]),
    "env": st.dictionaries(st.sampled_from(["A", "B"]), user_command, max_size=2),
})


@FEW
@given(user_doc)
def test_install_is_idempotent_and_uninstall_restores_any_user_doc(doc):
    original = copy.deepcopy(doc)
    once = H.json_installed(doc, "claude-code", CMD)
    assert H.json_installed(once, "claude-code", CMD) == once
    assert {e: len(g) for e, g in ours_in(once).items()} == {e: 1 for e in H.CLAUDE_EVENTS}
    # every user hook is still there, in its event, in order
    for event, groups in original.get("hooks", {}).items():
        assert once["hooks"][event][:len(groups)] == groups
    back = H.json_uninstalled(once, "claude-code")
    assert back == original
    assert json.dumps(back) == json.dumps(original)
    assert doc == original


# -- Codex: a top-level notify in config.toml -------------------------------------------------

CODEX_TOML = 'model = "o3"\n# my settings\n\n[tui]\nnotifications = true\n\n[profiles.fast]\nmodel = "mini"\n'
OUR_NOTIFY = f'notify = ["{BINARY}", "hook", "codex"]'


def test_codex_install_puts_notify_at_the_top_level_before_any_table():
    text = H.codex_installed(CODEX_TOML, BINARY)
    lines = text.splitlines()
    assert OUR_NOTIFY in lines
    assert lines.index(OUR_NOTIFY) < lines.index("[tui]")
    assert text.replace(OUR_NOTIFY + "\n", "", 1) == CODEX_TOML          # nothing else changed
    assert text.endswith("\n")


def test_codex_install_into_an_empty_or_missing_file():
    assert H.codex_installed("", BINARY) == OUR_NOTIFY + "\n"


def test_codex_install_is_idempotent():
    once = H.codex_installed(CODEX_TOML, BINARY)
    assert H.codex_installed(once, BINARY) == once


def test_codex_install_with_a_new_binary_replaces_our_line():
    once = H.codex_installed(CODEX_TOML, BINARY)
    moved = H.codex_installed(once, "/usr/local/bin/opensessions")
    assert moved.count("notify =") == 1
    assert 'notify = ["/usr/local/bin/opensessions", "hook", "codex"]' in moved


@pytest.mark.parametrize("theirs", ['notify = ["notify-send", "Codex"]', 'notify=["/home/u/bin/ping.sh"]',
                                    '  notify = [ "terminal-notifier" ]'])
def test_codex_install_refuses_when_the_user_has_another_notify(theirs):
    text = f'model = "o3"\n{theirs}\n\n[tui]\nnotifications = true\n'
    with pytest.raises(H.HooksError) as e:
        H.codex_installed(text, BINARY)
    assert "notify" in str(e.value)


def test_a_notify_key_inside_a_table_is_not_the_top_level_notify():
    text = '[profiles.x]\nnotify = ["other"]\n'
    out = H.codex_installed(text, BINARY)
    assert out.splitlines()[0] == OUR_NOTIFY and '[profiles.x]\nnotify = ["other"]' in out


def test_codex_uninstall_removes_only_our_line():
    once = H.codex_installed(CODEX_TOML, BINARY)
    assert H.codex_uninstalled(once) == CODEX_TOML
    assert H.codex_uninstalled(CODEX_TOML) == CODEX_TOML
    assert H.codex_uninstalled(H.codex_installed("", BINARY)) == ""


def test_the_codex_notify_line_is_valid_toml():
    tomllib = pytest.importorskip("tomllib")
    doc = tomllib.loads(H.codex_installed(CODEX_TOML, "/opt/weird \"dir\"/opensessions"))
    assert doc["notify"] == ['/opt/weird "dir"/opensessions', "hook", "codex"]
    assert doc["tui"] == {"notifications": True} and doc["model"] == "o3"


# -- apply: the file work ---------------------------------------------------------------------

def env_for(home) -> dict:
    return {"HOME": str(home)}


def claude_settings(home) -> str:
    return os.path.join(str(home), ".claude", "settings.json")


def test_settings_paths(tmp_path):
    env = env_for(tmp_path)
    assert H.settings_path("claude-code", env) == claude_settings(tmp_path)
    assert H.settings_path("claude-code", {**env, "CLAUDE_CONFIG_DIR": "/c"}) == "/c/settings.json"
    assert H.settings_path("codex", env) == os.path.join(str(tmp_path), ".codex", "config.toml")
    assert H.settings_path("codex", {**env, "CODEX_HOME": "/x"}) == "/x/config.toml"
    assert H.settings_path("gemini", env) == os.path.join(str(tmp_path), ".gemini", "settings.json")
    with pytest.raises(H.HooksError):
        H.settings_path("aider", env)


def test_apply_install_creates_a_missing_settings_file_without_a_backup(tmp_path):
    path, diff, backup = H.apply("claude-code", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=1000)
    assert path == claude_settings(tmp_path) and backup is None
    assert diff.startswith("--- /dev/null")
    doc = json.loads(open(path).read())
    assert set(ours_in(doc)) == set(H.CLAUDE_EVENTS)
    assert os.listdir(os.path.dirname(path)) == ["settings.json"]


def test_apply_install_backs_up_the_original_and_keeps_the_users_hooks(tmp_path):
    path = claude_settings(tmp_path)
    os.makedirs(os.path.dirname(path))
    original = json.dumps(USER_DOC, indent=4) + "\n"
    with open(path, "w") as f:
        f.write(original)
    got_path, diff, backup = H.apply("claude-code", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=1234)
    assert got_path == path and backup == f"{path}.opensessions-backup-1234"
    assert open(backup).read() == original
    assert "+" in diff and "hook claude-code" in diff
    installed = json.loads(open(path).read())
    assert H.json_uninstalled(installed, "claude-code") == USER_DOC
    # again: nothing to do, nothing written, no second backup
    assert H.apply("claude-code", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=2000) == (path, "", None)
    assert sorted(os.listdir(os.path.dirname(path))) == ["settings.json", "settings.json.opensessions-backup-1234"]


def test_apply_uninstall_gives_back_the_users_document(tmp_path):
    path = claude_settings(tmp_path)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        json.dump(USER_DOC, f)
    H.apply("claude-code", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=1)
    _, diff, backup = H.apply("claude-code", "uninstall", BINARY, dry_run=False, env=env_for(tmp_path), now=2)
    assert backup is not None and "-" in diff
    assert json.loads(open(path).read()) == USER_DOC


def test_apply_uninstall_without_a_settings_file_creates_nothing(tmp_path):
    assert H.apply("claude-code", "uninstall", BINARY, dry_run=False, env=env_for(tmp_path)) == \
        (claude_settings(tmp_path), "", None)
    assert not os.path.exists(os.path.join(str(tmp_path), ".claude"))


def test_apply_dry_run_shows_the_diff_and_writes_nothing(tmp_path):
    path = claude_settings(tmp_path)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write('{"model": "opus"}\n')
    _, diff, backup = H.apply("claude-code", "install", BINARY, dry_run=True, env=env_for(tmp_path), now=5)
    assert backup is None and "hook claude-code" in diff
    assert open(path).read() == '{"model": "opus"}\n'
    assert os.listdir(os.path.dirname(path)) == ["settings.json"]
    _, diff, _ = H.apply("codex", "install", BINARY, dry_run=True, env=env_for(tmp_path))
    assert OUR_NOTIFY in diff and not os.path.exists(os.path.join(str(tmp_path), ".codex"))


@pytest.mark.parametrize("content", ['{"model": "opus",}', "not json", "[1, 2]", '"str"', "{"])
def test_apply_refuses_a_broken_settings_file_and_changes_nothing(tmp_path, content):
    path = claude_settings(tmp_path)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(content)
    with pytest.raises(H.HooksError):
        H.apply("claude-code", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=7)
    assert open(path).read() == content
    assert os.listdir(os.path.dirname(path)) == ["settings.json"]


def test_apply_treats_an_empty_settings_file_as_empty_settings(tmp_path):
    path = claude_settings(tmp_path)
    os.makedirs(os.path.dirname(path))
    open(path, "w").close()
    H.apply("claude-code", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=9)
    assert set(ours_in(json.loads(open(path).read()))) == set(H.CLAUDE_EVENTS)


def test_apply_codex_refusal_changes_nothing(tmp_path):
    path = os.path.join(str(tmp_path), ".codex", "config.toml")
    os.makedirs(os.path.dirname(path))
    text = 'notify = ["notify-send"]\n'
    with open(path, "w") as f:
        f.write(text)
    with pytest.raises(H.HooksError):
        H.apply("codex", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=3)
    assert open(path).read() == text and os.listdir(os.path.dirname(path)) == ["config.toml"]


def test_apply_codex_round_trip(tmp_path):
    path = os.path.join(str(tmp_path), ".codex", "config.toml")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(CODEX_TOML)
    H.apply("codex", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=3)
    assert OUR_NOTIFY in open(path).read()
    H.apply("codex", "uninstall", BINARY, dry_run=False, env=env_for(tmp_path), now=4)
    assert open(path).read() == CODEX_TOML


def test_apply_keeps_the_files_permissions(tmp_path):
    path = claude_settings(tmp_path)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write("{}")
    os.chmod(path, 0o600)
    H.apply("claude-code", "install", BINARY, dry_run=False, env=env_for(tmp_path), now=1)
    assert os.stat(path).st_mode & 0o777 == 0o600
