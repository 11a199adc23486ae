"""cli/sidebar/text.py: display widths in terminal cells and cutting with `…`."""
from __future__ import annotations

from hypothesis import given, strategies as st

from cli.sidebar.text import char_width, clean, cut, pad, width

from ._builders import PROPS


def test_ascii_is_one_cell_per_character():
    assert width("hello") == 5
    assert width("") == 0


def test_cjk_and_fullwidth_take_two_cells():
    assert width("日本語") == 6
    assert width("ｗｉｄｅ") == 8           # fullwidth Latin
    assert width("한국") == 4
    assert width("a日b") == 4


def test_combining_marks_and_zero_width_take_no_cell():
    assert width("e\u0301") == 1          # e + combining acute
    assert width("a\u200bb") == 2          # zero-width space
    assert char_width("\u0301") == 0


def test_cut_adds_ellipsis_only_when_needed():
    assert cut("short", 10) == "short"
    assert cut("exactly10!", 10) == "exactly10!"
    assert cut("a-very-long-session-name", 10) == "a-very-lo…"
    assert width(cut("a-very-long-session-name", 10)) == 10
    assert cut("abc", 1) == "…"
    assert cut("abc", 0) == ""


def test_cut_never_splits_a_wide_character():
    # 5 cells available: 日本 (4) + … (1); 日本語 would be 6 + 1
    assert cut("日本語テキスト", 5) == "日本…"
    # 4 cells: 日 (2) + … (1) = 3, the next wide char would overflow; one cell left unused
    assert cut("日本語テキスト", 4) == "日…"
    assert width(cut("日本語テキスト", 4)) == 3


def test_pad_fills_to_exact_width():
    assert pad("ab", 5) == "ab   "
    assert pad("日本語", 5) == "日本…"
    assert pad("日本語", 4) == "日… "        # the cell a wide character could not use is padded
    assert width(pad("日本語", 4)) == 4
    assert pad("toolong", 4) == "too…"


def test_clean_replaces_control_characters():
    assert clean("a\nb\tc") == "a·b·c"
    assert clean("bell\x07") == "bell?"
    assert clean("e\u0301") == "e\u0301"
    assert clean("日本語") == "日本語"


@PROPS
@given(st.text(max_size=40), st.integers(min_value=0, max_value=50))
def test_cut_and_pad_never_overflow(text, cells):
    text = clean(text)
    assert width(cut(text, cells)) <= cells
    assert width(pad(text, cells)) == cells
    if width(text) <= cells:
        assert cut(text, cells) == text
