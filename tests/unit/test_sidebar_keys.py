"""cli/sidebar/keys.py: terminal input bytes → keys and mouse events."""
from __future__ import annotations

from hypothesis import given, strategies as st

from cli.sidebar.keys import parse

from ._builders import PROPS


def keys(data: bytes, final: bool = True) -> list:
    events, rest = parse(data, final=final)
    assert rest == b""
    return events


def test_plain_keys_and_controls():
    assert keys(b"jkq?") == ["j", "k", "q", "?"]
    assert keys(b"\r\n\t") == ["enter", "enter", "tab"]
    assert keys(b"\x03") == ["ctrl-c"]
    assert keys(b"\x7f\x08") == ["backspace", "backspace"]
    assert keys(b"\x15") == ["ctrl-u"]


def test_arrows_in_normal_and_application_mode():
    assert keys(b"\x1b[A\x1b[B\x1b[C\x1b[D") == ["up", "down", "right", "left"]
    assert keys(b"\x1bOA\x1bOB") == ["up", "down"]


def test_alt_arrows_as_tmux_and_as_meta_prefix():
    assert keys(b"\x1b[1;3A\x1b[1;3B") == ["alt-up", "alt-down"]
    assert keys(b"\x1b\x1b[A\x1b\x1b[B") == ["alt-up", "alt-down"]
    assert keys(b"\x1b[1;5A") == ["up"]           # Ctrl-Up is just up


def test_shift_tab_home_end_pages():
    assert keys(b"\x1b[Z") == ["btab"]
    assert keys(b"\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[5~\x1b[6~") == ["home", "end", "home", "end", "pgup", "pgdn"]


def test_lone_escape_waits_for_more_unless_final():
    events, rest = parse(b"\x1b", final=False)
    assert events == [] and rest == b"\x1b"
    assert keys(b"\x1b") == ["esc"]
    events, rest = parse(b"j\x1b[", final=False)
    assert events == ["j"] and rest == b"\x1b["
    events, rest = parse(rest + b"A", final=False)
    assert events == ["up"] and rest == b""


def test_utf8_split_across_reads():
    data = "日".encode()
    events, rest = parse(data[:2], final=False)
    assert events == [] and rest == data[:2]
    events, rest = parse(rest + data[2:], final=False)
    assert events == ["日"] and rest == b""


def test_sgr_mouse_click_and_wheel():
    # 1-based on the wire, 0-based out
    assert keys(b"\x1b[<0;12;3M\x1b[<0;12;3m") == [("click", 11, 2)]
    assert keys(b"\x1b[<64;5;5M") == [("wheel", -1, 4, 4)]
    assert keys(b"\x1b[<65;5;5M") == [("wheel", 1, 4, 4)]
    assert keys(b"\x1b[<2;5;5M") == []             # right button: nothing
    assert keys(b"\x1b[<32;5;5M") == []            # motion: nothing


def test_x10_mouse_click():
    assert keys(b"\x1b[M" + bytes([32, 33 + 4, 33 + 2]) + b"\x1b[M" + bytes([35, 37, 35])) == [("click", 4, 2)]
    assert keys(b"\x1b[M" + bytes([96, 40, 40])) == [("wheel", -1, 7, 7)]


def test_unknown_sequences_are_dropped_not_typed():
    assert keys(b"\x1b[99z") == []
    assert keys(b"\x1b[200~") == []
    assert keys(b"\x1bx") == ["alt-x"]


@PROPS
@given(st.binary(max_size=64))
def test_garbage_never_raises_and_is_consumed_when_final(data):
    events, rest = parse(data, final=True)
    assert rest == b""
    for e in events:
        assert isinstance(e, (str, tuple))
