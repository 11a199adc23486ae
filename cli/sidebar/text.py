"""Display width of text in terminal cells, and cutting it to fit with `…`.

Names come from users and may hold CJK (two cells each), combining marks (zero cells) or
control characters (which would move the cursor and corrupt the screen, so they are replaced).
"""
from __future__ import annotations

from functools import lru_cache
from unicodedata import category, combining, east_asian_width

ELLIPSIS = "…"


@lru_cache(maxsize=4096)
def char_width(ch: str) -> int:
    o = ord(ch)
    if 32 <= o < 127:
        return 1
    if o < 32 or 127 <= o < 160:
        return 1          # shown as a replacement by clean(); counted as what is drawn
    if combining(ch) or category(ch) in ("Mn", "Me", "Cf") or 0x200B <= o <= 0x200F:
        return 0
    if 0x1160 <= o <= 0x11FF:   # Hangul jamo medial/final: they join the previous syllable
        return 0
    return 2 if east_asian_width(ch) in ("W", "F") else 1


def width(text: str) -> int:
    if text.isascii() and text.isprintable():
        return len(text)
    return _wide_width(text)


@lru_cache(maxsize=1024)
def _wide_width(text: str) -> int:
    """Most non-ASCII text on screen is the same few glyphs, rules and names on every paint."""
    return sum(char_width(c) for c in text)


def clean(text: str) -> str:
    """One line, no control characters: a name with a newline must not break the layout."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or combining(c) or category(c) in ("Mn", "Me", "Cf")
                   else ("·" if c in "\n\r\t" else "?") for c in text)


def cut(text: str, cells: int) -> str:
    """`text` if it fits in `cells`, else its longest prefix that fits with `…` after it.

    A wide character that would straddle the limit is dropped whole, so the result may be one
    cell narrower than `cells`; callers pad with pad()."""
    if cells <= 0:
        return ""
    if width(text) <= cells:
        return text
    if cells == 1:
        return ELLIPSIS
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > cells - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def pad(text: str, cells: int) -> str:
    """Cut to `cells`, then fill with spaces to exactly `cells`."""
    text = cut(text, cells)
    return text + " " * (cells - width(text))

