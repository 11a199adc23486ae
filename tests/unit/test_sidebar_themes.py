"""cli/sidebar/themes.py: every theme has every role; colours degrade to 256, 16 and 8."""
from __future__ import annotations

import re

import pytest

from cli.sidebar.themes import PALETTES, ROLES, colour_index, nearest_256, nearest_basic, palette
from services.settings import DEFAULTS, THEMES


def test_the_themes_are_exactly_the_settings_themes():
    assert set(PALETTES) == set(THEMES)
    assert "transparent" in PALETTES and "catppuccin-mocha" in PALETTES


@pytest.mark.parametrize("name", THEMES)
def test_every_theme_defines_every_role_with_a_valid_colour(name):
    pal = PALETTES[name]
    for role in ROLES:
        assert role in pal, (name, role)
        value = pal[role]
        assert value is None or (isinstance(value, int) and 0 <= value <= 15) or \
            re.fullmatch(r"#[0-9a-f]{6}", value), (name, role, value)


def test_transparent_uses_the_terminals_own_background():
    pal = PALETTES["transparent"]
    assert pal["bg"] is None and pal["fg"] is None
    assert colour_index(pal["bg"], 256) == -1
    assert all(v is None or isinstance(v, int) for k, v in pal.items() if k in ROLES)


def test_unknown_theme_falls_back_to_the_default():
    assert palette("no-such-theme") is PALETTES[DEFAULTS["theme"]]
    assert palette(None) is PALETTES[DEFAULTS["theme"]]


def test_nearest_256_exact_cube_and_grey_values():
    assert nearest_256("#ff0000") == 196
    assert nearest_256("#000000") == 16
    assert nearest_256("#ffffff") == 231
    assert nearest_256("#00ff00") == 46
    assert nearest_256("#5f87af") == 67           # a cube colour maps to itself
    assert nearest_256("#808080") == 244          # grey ramp: 8 + 10*12 = 128
    assert nearest_256("#1e1e2e") in range(232, 256) or nearest_256("#1e1e2e") in (16, 17, 234, 235)


def test_basic_colours_follow_hue_not_plain_distance():
    # catppuccin's pastel green is nearer to light grey in RGB, but it is green
    assert nearest_basic("#a6e3a1", 16) == 10
    assert nearest_basic("#a6e3a1", 8) == 2
    assert nearest_basic("#f38ba8", 8) == 1        # red/pink
    assert nearest_basic("#89b4fa", 8) == 4        # blue
    assert nearest_basic("#f9e2af", 8) == 3        # yellow
    assert nearest_basic("#fab387", 8) == 3        # orange goes to yellow, red stays for errors
    assert nearest_basic("#94e2d5", 8) == 6        # teal → cyan
    assert nearest_basic("#1e1e2e", 16) == 0       # dark background → black
    assert nearest_basic("#eff1f5", 16) == 15      # light background → bright white
    assert nearest_basic("#eff1f5", 8) == 7
    assert nearest_basic("#6c7086", 16) == 8       # mid grey → bright black


def test_colour_index_by_terminal_depth():
    assert colour_index(None, 256) == -1
    assert colour_index("#ff0000", 256) == 196
    assert colour_index("#ff0000", 16) == 9
    assert colour_index("#ff0000", 8) == 1
    assert colour_index(12, 16) == 12
    assert colour_index(12, 8) == 4                # bright blue → blue
    assert colour_index("#ff0000", 2) == -1        # monochrome: attributes only


@pytest.mark.parametrize("name", THEMES)
@pytest.mark.parametrize("depth", [256, 16, 8])
def test_every_theme_degrades_to_valid_indices(name, depth):
    for role in ROLES:
        idx = colour_index(PALETTES[name][role], depth)
        assert -1 <= idx < depth, (name, role, depth, idx)
