"""services/state/metadata.py: a session's status pill, progress bar and bounded log."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from services.protocol import LOGS_PER_SESSION
from services.state.metadata import Metadata, progress_of

from ._builders import PROPS


def test_new_metadata_is_empty():
    m = Metadata()
    assert m.empty and m.to_dict() == {"status": None, "progress": None, "logs": []}
    assert Metadata().logs is not m.logs


def test_any_content_makes_it_not_empty():
    for m in (Metadata(status={"text": "x", "tone": "info", "ts": 1.0}),
              Metadata(progress={"current": 1, "total": 2, "percent": 50.0, "label": None, "ts": 1.0})):
        assert not m.empty
    m = Metadata()
    m.logs.append({"message": "hi", "tone": "neutral", "source": None, "ts": 1.0})
    assert not m.empty
    m.logs.clear()
    assert m.empty


def test_the_log_keeps_the_newest_entries():
    m = Metadata()
    for i in range(LOGS_PER_SESSION + 7):
        m.logs.append({"message": f"m{i}", "tone": "neutral", "source": None, "ts": float(i)})
    logs = m.to_dict()["logs"]
    assert LOGS_PER_SESSION == 50 and len(logs) == 50
    assert logs[0]["message"] == "m7" and logs[-1]["message"] == f"m{LOGS_PER_SESSION + 6}"


def test_to_dict_and_from_dict_round_trip():
    m = Metadata(status={"text": "deploying", "tone": "warn", "ts": 3.0},
                 progress={"current": 3, "total": 10, "percent": 30.0, "label": "tests", "ts": 4.0})
    m.logs.append({"message": "build ok", "tone": "success", "source": "ci", "ts": 5.0})
    back = Metadata.from_dict(m.to_dict())
    assert back.to_dict() == m.to_dict()
    assert back.logs.maxlen == LOGS_PER_SESSION


def test_from_dict_bounds_the_log_too():
    d = {"logs": [{"message": str(i)} for i in range(80)]}
    assert [e["message"] for e in Metadata.from_dict(d).logs] == [str(i) for i in range(30, 80)]


@pytest.mark.parametrize("d,expected", [
    ({}, {"status": None, "progress": None, "logs": []}),
    ({"status": "x"}, {"status": None, "progress": None, "logs": []}),
    ({"status": {"tone": "info"}}, {"status": None, "progress": None, "logs": []}),        # no text
    ({"status": {"text": 5}}, {"status": None, "progress": None, "logs": []}),
    ({"progress": [1, 2]}, {"status": None, "progress": None, "logs": []}),
    ({"logs": None}, {"status": None, "progress": None, "logs": []}),
    ({"logs": [1, None, "x", {"tone": "info"}, {"message": 3}, {"message": "kept"}]},
     {"status": None, "progress": None, "logs": [{"message": "kept"}]}),
])
def test_from_dict_skips_what_is_malformed(d, expected):
    assert Metadata.from_dict(d).to_dict() == expected


# -- progress_of ------------------------------------------------------------------------------

def test_progress_from_current_and_total():
    assert progress_of(3, 10, None, "tests", 7.0) == \
        {"current": 3, "total": 10, "percent": 30.0, "label": "tests", "ts": 7.0}
    assert progress_of(1, 3, None, None, 0.0)["percent"] == 33.3
    assert progress_of(0, 5, None, None, 0.0)["percent"] == 0.0
    assert progress_of(5, 5, None, None, 0.0)["percent"] == 100.0


def test_progress_from_a_percent():
    assert progress_of(None, None, 42, "half-ish", 1.0) == \
        {"current": None, "total": None, "percent": 42.0, "label": "half-ish", "ts": 1.0}
    assert progress_of(None, None, 0, None, 1.0)["percent"] == 0.0
    assert progress_of(None, None, 100, None, 1.0)["percent"] == 100.0
    assert isinstance(progress_of(None, None, 42, None, 1.0)["percent"], float)


@pytest.mark.parametrize("current,total,percent,words", [
    (None, None, None, "--current"),                 # nothing given
    (3, None, None, "--current"), (None, 10, None, "--current"),
    (3, 10, 30, "not both"), (3, None, 30, "not both"), (None, 10, 30, "not both"),
    (None, None, -0.1, "between 0 and 100"), (None, None, 100.5, "between 0 and 100"),
    (11, 10, None, "current ≤ total"), (-1, 10, None, "current"), (0, 0, None, "total > 0"),
    (1, -5, None, "total > 0"),
])
def test_bad_progress_names_what_is_wrong(current, total, percent, words):
    with pytest.raises(ValueError) as e:
        progress_of(current, total, percent, None, 0.0)
    assert words in str(e.value)


@PROPS
@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_progress_percent_is_within_bounds(current, total):
    if current > total:
        with pytest.raises(ValueError):
            progress_of(current, total, None, None, 0.0)
    else:
        p = progress_of(current, total, None, None, 0.0)
        assert 0.0 <= p["percent"] <= 100.0
        assert abs(p["percent"] - 100.0 * current / total) <= 0.05 + 1e-9   # one decimal
