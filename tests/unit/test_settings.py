"""services/settings.py: setting names, defaults and what a valid value is."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from services import settings as S

from ._builders import PROPS


def test_defaults_are_valid():
    assert S.DEFAULTS == {"filter": "all", "theme": "catppuccin-mocha", "width": 32, "position": "left",
                          "sidebars": "off", "keytable": "off", "index_keys": ""}
    for key, value in S.DEFAULTS.items():
        assert S.validate(key, value) == value
    assert S.FILTERS == ("all", "active", "running")


@pytest.mark.parametrize("key,value", [("filter", f) for f in S.FILTERS] + [("theme", t) for t in S.THEMES]
                         + [("width", S.WIDTH_MIN), ("width", S.WIDTH_MAX), ("width", 40)])
def test_valid_values(key, value):
    assert S.validate(key, value) == value


@pytest.mark.parametrize("key,value,words", [
    ("filter", "bogus", "filter must be one of"), ("filter", None, "filter"), ("filter", "ALL", "filter"),
    ("theme", "solarized", "theme must be one of"), ("theme", 3, "theme"),
    ("width", S.WIDTH_MIN - 1, "width"), ("width", S.WIDTH_MAX + 1, "width"), ("width", "32", "width"),
    ("width", 32.0, "width"), ("width", True, "width"), ("width", None, "width"),
    ("colour", "red", "unknown setting"), ("", 1, "unknown setting"),
])
def test_invalid_values_say_what_is_allowed(key, value, words):
    with pytest.raises(ValueError) as e:
        S.validate(key, value)
    assert words in str(e.value)


def test_from_stored_keeps_valid_values_and_defaults_the_rest():
    assert S.from_stored({}) == S.DEFAULTS
    assert S.from_stored({"filter": "running", "theme": "nord", "width": 40}) == \
        {**S.DEFAULTS, "filter": "running", "theme": "nord", "width": 40}
    assert S.from_stored({"filter": "nope", "theme": "nord", "width": 999, "extra": 1}) == \
        {**S.DEFAULTS, "theme": "nord"}


def test_from_stored_returns_a_fresh_dict():
    out = S.from_stored({})
    out["filter"] = "active"
    assert S.DEFAULTS["filter"] == "all"


@PROPS
@given(st.dictionaries(st.sampled_from(["filter", "theme", "width", "other"]),
                       st.none() | st.booleans() | st.integers(-5, 200) | st.sampled_from(S.THEMES + S.FILTERS)
                       | st.text(max_size=8)))
def test_from_stored_always_gives_every_setting_a_valid_value(stored):
    out = S.from_stored(stored)
    assert set(out) == set(S.DEFAULTS)
    for key, value in out.items():
        assert S.validate(key, value) == value


@pytest.mark.parametrize("key,value", [("position", "left"), ("position", "right"), ("sidebars", "on"),
                                       ("sidebars", "off"), ("keytable", "on"), ("index_keys", ""),
                                       ("index_keys", "M-"), ("index_keys", "C-M-")])
def test_tmux_settings_accept_their_values(key, value):
    assert S.validate(key, value) == value


@pytest.mark.parametrize("key,value", [("position", "top"), ("sidebars", True), ("sidebars", "yes"),
                                       ("keytable", 1), ("index_keys", "S-"), ("index_keys", "M")])
def test_tmux_settings_refuse_other_values(key, value):
    with pytest.raises(ValueError):
        S.validate(key, value)
