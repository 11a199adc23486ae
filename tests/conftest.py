"""Fixtures for every test."""
import pytest

AGENT_LOCATIONS = ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "PI_CODING_AGENT_DIR", "XDG_DATA_HOME",
                   "OPENCODE_DB_PATH", "KILO_DB_PATH")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private, empty HOME, and no variable that would point an agent's files elsewhere."""
    for var in AGENT_LOCATIONS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path
