"""Palettes for the sidebar, and degrading their truecolor values to what the terminal has.

A colour is "#rrggbb", an ANSI index 0–15 (the terminal's own palette, used by `transparent`),
or None (the terminal's default foreground/background). Curses cannot draw 24-bit colour
without redefining the terminal's palette, which inside tmux would repaint every other pane, so
hex colours are mapped to the nearest xterm-256 index, and on 16/8-colour terminals to the
basic colour of the nearest hue (plain RGB distance would turn every pastel into grey).
"""
from __future__ import annotations

from functools import lru_cache

from services.settings import DEFAULTS, THEMES

# roles the renderer uses: text, surfaces, agent states, and the tones of scripts' metadata
ROLES = ("bg", "fg", "dim", "sel", "accent", "border", "running", "tool", "waiting", "done",
         "unseen", "error", "stale", "idle", "info", "success", "warn")


def _p(bg, fg, dim, sel, accent, border, blue, green, yellow, orange, red, purple, cyan) -> dict:
    return {"bg": bg, "fg": fg, "dim": dim, "sel": sel, "accent": accent, "border": border,
            "running": blue, "tool": orange, "waiting": purple, "done": green, "unseen": cyan,
            "error": red, "stale": yellow, "idle": dim, "info": blue, "success": green,
            "warn": yellow}


PALETTES: dict[str, dict] = {
    #                        bg         fg         dim        sel        accent     border
    #                        blue       green      yellow     orange     red        purple     cyan
    "catppuccin-mocha": _p("#1e1e2e", "#cdd6f4", "#7f849c", "#45475a", "#cba6f7", "#45475a",
                           "#89b4fa", "#a6e3a1", "#f9e2af", "#fab387", "#f38ba8", "#f5c2e7", "#94e2d5"),
    "catppuccin-latte": _p("#eff1f5", "#4c4f69", "#8c8fa1", "#ccd0da", "#8839ef", "#bcc0cc",
                           "#1e66f5", "#40a02b", "#df8e1d", "#fe640b", "#d20f39", "#ea76cb", "#179299"),
    "tokyo-night":      _p("#1a1b26", "#c0caf5", "#565f89", "#33467c", "#bb9af7", "#3b4261",
                           "#7aa2f7", "#9ece6a", "#e0af68", "#ff9e64", "#f7768e", "#bb9af7", "#7dcfff"),
    "gruvbox-dark":     _p("#282828", "#ebdbb2", "#928374", "#504945", "#fe8019", "#504945",
                           "#83a598", "#b8bb26", "#fabd2f", "#fe8019", "#fb4934", "#d3869b", "#8ec07c"),
    "nord":             _p("#2e3440", "#d8dee9", "#7b88a1", "#434c5e", "#88c0d0", "#4c566a",
                           "#81a1c1", "#a3be8c", "#ebcb8b", "#d08770", "#bf616a", "#b48ead", "#8fbcbb"),
    "dracula":          _p("#282a36", "#f8f8f2", "#6272a4", "#44475a", "#bd93f9", "#44475a",
                           "#8be9fd", "#50fa7b", "#f1fa8c", "#ffb86c", "#ff5555", "#ff79c6", "#8be9fd"),
    "one-dark":         _p("#282c34", "#abb2bf", "#5c6370", "#3e4451", "#c678dd", "#3e4451",
                           "#61afef", "#98c379", "#e5c07b", "#d19a66", "#e06c75", "#c678dd", "#56b6c2"),
    # the terminal's own colours: default fg/bg, ANSI indices, emphasis by attributes
    "transparent":      _p(None, None, None, None, 4, None,
                           4, 2, 3, 3, 1, 5, 6),
}
# transparent has no colour to spare for dim text and the selected row: attributes do it
PALETTES["transparent"].update(dim_attr=True, sel_reverse=True)

assert set(PALETTES) == set(THEMES), "every theme in services.settings needs a palette"


def palette(name: str | None) -> dict:
    return PALETTES.get(name or "", PALETTES[DEFAULTS["theme"]])


# -- degrading --------------------------------------------------------------------------------

_CUBE = (0, 95, 135, 175, 215, 255)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    v = int(hex_colour[1:7], 16)
    return v >> 16, (v >> 8) & 255, v & 255


def _dist(a, b) -> int:
    # weighted for the eye's sensitivity (green most, blue least); cheap and good enough
    return 3 * (a[0] - b[0]) ** 2 + 4 * (a[1] - b[1]) ** 2 + 2 * (a[2] - b[2]) ** 2


def nearest_256(hex_colour: str) -> int:
    """The xterm-256 index (16–255: the 6×6×6 cube or the grey ramp) nearest to the colour.
    0–15 are skipped: terminals redefine them, so they are not a fixed colour."""
    rgb = _rgb(hex_colour)
    idx = [min(range(6), key=lambda i: abs(_CUBE[i] - c)) for c in rgb]
    cube = 16 + 36 * idx[0] + 6 * idx[1] + idx[2]
    cube_rgb = tuple(_CUBE[i] for i in idx)
    avg = sum(rgb) // 3
    g = max(0, min(23, round((avg - 8) / 10)))
    grey_rgb = (8 + 10 * g,) * 3
    return cube if _dist(rgb, cube_rgb) <= _dist(rgb, grey_rgb) else 232 + g


# hue sectors of the six basic chromatic colours; the themes' reds lie between 340° and 10°, their
# oranges at 14–30°: orange goes to yellow (ANSI yellow is often drawn brownish-orange), keeping
# red for errors
_SECTORS = ((12, 1), (90, 3), (150, 2), (210, 6), (270, 4), (330, 5), (360, 1))


def nearest_basic(hex_colour: str, ncolors: int = 16) -> int:
    r, g, b = (c / 255 for c in _rgb(hex_colour))
    mx, mn = max(r, g, b), min(r, g, b)
    chroma = mx - mn
    bright = ncolors >= 16
    if chroma < 0.15 or (mx and chroma / mx < 0.2):
        if mx < 0.3:
            return 0
        if mx < 0.6:
            return 8 if bright else (0 if mx < 0.45 else 7)
        return 15 if bright and mx > 0.9 else 7
    if mx == r:
        hue = (60 * (g - b) / chroma) % 360
    elif mx == g:
        hue = 60 * (b - r) / chroma + 120
    else:
        hue = 60 * (r - g) / chroma + 240
    base = next(c for limit, c in _SECTORS if hue < limit)
    return base + 8 if bright and mx > 0.75 else base


@lru_cache(maxsize=512)
def colour_index(colour, ncolors: int) -> int:
    """A palette colour as a curses colour number for a terminal with `ncolors` colours; -1 is
    the terminal's default. Monochrome terminals get -1 for everything."""
    if colour is None or ncolors < 8:
        return -1
    if isinstance(colour, int):
        return colour if ncolors >= 16 else colour % 8
    if ncolors >= 256:
        return nearest_256(colour)
    return nearest_basic(colour, ncolors)
