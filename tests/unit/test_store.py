"""services/state/store.py: the persisted order, hidden set and settings."""
from __future__ import annotations

import os

import orjson
import pytest
from hypothesis import given, strategies as st

from services.settings import DEFAULTS, FILTERS
from services.state import store

from ._builders import PROPS


def test_defaults():
    p = store.Persisted()
    assert p.order == [] and p.hidden == set() and p.settings == DEFAULTS
    assert store.Persisted().settings is not p.settings          # no shared mutable default


@pytest.mark.parametrize("p", [
    store.Persisted(),
    store.Persisted(["b", "a", "gone"], {"a"}, {**DEFAULTS, "filter": "running", "theme": "nord", "width": 40}),
    store.Persisted(["my session", "\\$HOME", "it's", "日本語", "-x", ""], {"it's", "not in order"},
                    {**DEFAULTS, "filter": "active"}),
])
def test_parse_accepts_what_encode_writes(p):
    assert store.parse(store.encode(p)) == p


@PROPS
@given(st.lists(st.text(max_size=20), unique=True, max_size=15), st.sets(st.text(max_size=20), max_size=10),
       st.sampled_from(FILTERS))
def test_round_trip_property(order, hidden, filter_):
    p = store.Persisted(order, hidden, {**DEFAULTS, "filter": filter_})
    assert store.parse(store.encode(p)) == p


def test_missing_keys_mean_defaults():
    assert store.parse(b"{}") == store.Persisted()
    assert store.parse(b'{"order": ["a"]}') == store.Persisted(["a"])


def test_duplicate_names_keep_their_first_place():
    assert store.parse(b'{"order": ["a", "b", "a", "c", "b"]}').order == ["a", "b", "c"]


@pytest.mark.parametrize("filter_", ["bogus", 3, None, ["all"]])
def test_unknown_filter_falls_back_to_all(filter_):
    data = orjson.dumps({"order": [], "hidden": [], "settings": {"filter": filter_}})
    assert store.parse(data).settings == DEFAULTS


@pytest.mark.parametrize("data", [
    b"", b"{", b"not json", b"\xff\xfe", b'{"order": ["a",]}', b"\x00",
    b"[]", b"1", b'"order"', b"null", b"true",
    b'{"order": "a"}', b'{"order": {"a": 1}}', b'{"order": [1]}', b'{"order": ["a", null]}',
    b'{"order": null}', b'{"order": [["a"]]}',
    b'{"hidden": "a"}', b'{"hidden": {"a": true}}', b'{"hidden": [1]}', b'{"hidden": null}',
    b'{"settings": []}', b'{"settings": "all"}', b'{"settings": null}', b'{"settings": 1}',
])
def test_parse_rejects_malformed_content(data):
    with pytest.raises(ValueError):
        store.parse(data)


@PROPS
@given(st.binary(max_size=200))
def test_parse_of_arbitrary_bytes_only_raises_value_error(data):
    try:
        p = store.parse(data)
    except ValueError:
        return
    assert isinstance(p, store.Persisted)
    assert all(isinstance(n, str) for n in p.order) and all(isinstance(n, str) for n in p.hidden)
    assert p.settings["filter"] in FILTERS


json_values = st.recursive(st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=10)


@PROPS
@given(st.dictionaries(st.sampled_from(["order", "hidden", "settings", "x"]), json_values))
def test_parse_of_arbitrary_documents_only_raises_value_error(doc):
    try:
        p = store.parse(orjson.dumps(doc))
    except ValueError:
        return
    assert all(isinstance(n, str) for n in p.order) and len(p.order) == len(set(p.order))
    assert all(isinstance(n, str) for n in p.hidden)


# -- files ------------------------------------------------------------------------------------

def test_load_of_a_missing_file_gives_defaults_and_creates_nothing(tmp_path):
    path = tmp_path / "cfg" / "order.json"
    assert store.load(str(path)) == store.Persisted()
    assert not path.parent.exists()


def test_save_then_load(tmp_path):
    path = tmp_path / "cfg" / "order.json"
    p = store.Persisted(["b", "a"], {"a"}, {**DEFAULTS, "filter": "active"})
    store.save(str(path), p)
    assert store.load(str(path)) == p
    assert os.listdir(path.parent) == ["order.json"]            # no temp files left behind


def test_save_replaces_the_previous_content(tmp_path):
    path = str(tmp_path / "order.json")
    store.save(path, store.Persisted(["a", "b", "c"] * 1, {"x"}))
    store.save(path, store.Persisted(["z"]))
    assert store.load(path) == store.Persisted(["z"])


@pytest.mark.parametrize("content", [b"{ not json", b"[1, 2]", b'{"order": 5}', b"\xff\xff"])
def test_corrupt_file_is_moved_aside_and_defaults_are_used(tmp_path, content, capsys):
    path = tmp_path / "order.json"
    path.write_bytes(content)
    assert store.load(str(path)) == store.Persisted()
    assert not path.exists()
    aside = [f for f in os.listdir(tmp_path) if f != "order.json"]
    assert len(aside) == 1 and aside[0].startswith("order.json.corrupt")
    assert (tmp_path / aside[0]).read_bytes() == content       # kept for the user, unchanged
    assert "corrupt" in capsys.readouterr().err                 # and said so in the log


def test_after_a_corrupt_file_a_save_works(tmp_path, capsys):
    path = tmp_path / "order.json"
    path.write_bytes(b"garbage")
    store.load(str(path))
    store.save(str(path), store.Persisted(["a"]))
    assert store.load(str(path)) == store.Persisted(["a"])


def test_unreadable_path_gives_defaults(tmp_path, capsys):
    # a directory where the file should be: reading fails with an OSError other than "not found"
    path = tmp_path / "order.json"
    path.mkdir()
    assert store.load(str(path)) == store.Persisted()
    assert path.is_dir()


def test_corrupt_file_that_cannot_be_moved_aside_still_gives_defaults(tmp_path, monkeypatch, capsys):
    # e.g. a read-only config dir: the corrupt file stays, but the service must still start
    path = tmp_path / "order.json"
    path.write_bytes(b"garbage")

    def refuse(path, now):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(store, "move_aside", refuse)
    assert store.load(str(path)) == store.Persisted()
    assert path.read_bytes() == b"garbage"


@pytest.mark.parametrize("stored", [{"theme": "no-such-theme"}, {"width": 3}, {"width": "wide"},
                                    {"width": True}, {"bogus": 1}, {"filter": None}])
def test_invalid_settings_fall_back_to_their_defaults(stored):
    data = orjson.dumps({"settings": stored})
    assert store.parse(data).settings == DEFAULTS
