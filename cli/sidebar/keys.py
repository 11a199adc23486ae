"""Terminal input bytes → key and mouse events. Pure.

The sidebar reads stdin itself instead of curses' getch: what tmux sends for Alt-Up
(`ESC [1;3A`) or SGR mouse reports is then decoded the same way under every $TERM, and a lone
ESC is told from the start of a sequence by the caller's short wait (`final=True`), not by
ncurses' ESCDELAY.

Events are strings ("up", "alt-down", "enter", "btab", "esc", "ctrl-c", "j", "日"…) or mouse
tuples ("click", x, y) and ("wheel", ±1, x, y), with 0-based cell coordinates.
"""
from __future__ import annotations

_CSI_FINAL = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end", "Z": "btab"}
_TILDE = {"1": "home", "7": "home", "4": "end", "8": "end", "5": "pgup", "6": "pgdn", "3": "delete",
          "2": "insert"}
_SS3 = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end", "M": "enter"}
_CONTROL = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace",
            "\x03": "ctrl-c", "\x15": "ctrl-u", "\x1b": "esc"}


def parse(buf: bytes, final: bool = False) -> tuple[list, bytes]:
    """Decode what can be decoded; return (events, undecoded tail). With `final`, an incomplete
    tail is decoded as best it can be (a lone ESC is the Esc key) and nothing is kept."""
    events: list = []
    i, n = 0, len(buf)
    while i < n:
        b = buf[i]
        if b == 0x1B:
            event, used = _escape(buf, i, final)
            if used == 0:
                return events, buf[i:]
            if event is not None:
                events.append(event)
            i += used
            continue
        if b < 0x80:
            ch = chr(b)
            if ch in _CONTROL:
                events.append(_CONTROL[ch])
            elif 0x20 <= b < 0x7F:
                events.append(ch)
            i += 1
            continue
        size = 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 1
        if i + size > n and not final:
            return events, buf[i:]
        ch = buf[i:i + size].decode("utf-8", "replace")
        if ch.isprintable() and ch != "\ufffd":
            events.append(ch)
        i += size
    return events, b""


def _escape(buf: bytes, i: int, final: bool):
    """(event or None, bytes used) for the sequence at buf[i] == ESC; used == 0: incomplete."""
    n = len(buf)
    if i + 1 >= n:
        return ("esc", 1) if final else (None, 0)
    nxt = buf[i + 1]
    if nxt == 0x5B:          # CSI
        if i + 2 < n and buf[i + 2] == 0x4D:          # X10 mouse: ESC [ M b x y
            if i + 6 > n:
                return (None, 0) if not final else (None, n - i)
            return _x10_mouse(buf[i + 3], buf[i + 4], buf[i + 5]), 6
        j = i + 2
        while j < n and 0x20 <= buf[j] <= 0x3F:
            j += 1
        if j >= n:
            return (None, 0) if not final else (None, n - i)
        params, fin = buf[i + 2:j].decode("ascii", "replace"), chr(buf[j])
        return _csi(params, fin), j + 1 - i
    if nxt == 0x4F:          # SS3: ESC O x (application cursor keys)
        if i + 2 >= n:
            return (None, 0) if not final else ("esc", 1)
        return _SS3.get(chr(buf[i + 2])), 3
    if nxt == 0x1B:          # ESC ESC [A: Alt held with a key that sends a sequence
        if i + 2 >= n:
            return (None, 0) if not final else ("esc", 1)
        event, used = _escape(buf, i + 1, final)
        if used == 0:
            return None, 0
        if isinstance(event, str) and event in ("up", "down", "left", "right"):
            event = "alt-" + event
        return event, used + 1
    if 0x20 <= nxt < 0x7F:   # Alt + a printable key
        return "alt-" + chr(nxt), 2
    return "esc", 1


def _csi(params: str, fin: str):
    if params.startswith("<") and fin in "Mm":
        return _sgr_mouse(params[1:], fin == "M")
    if fin == "~":
        return _TILDE.get(params.split(";", 1)[0])
    name = _CSI_FINAL.get(fin)
    if name is None:
        return None
    parts = params.split(";")
    if len(parts) == 2 and name in ("up", "down", "left", "right"):
        try:
            mod = int(parts[1]) - 1
        except ValueError:
            return name
        if mod & 2:   # the Alt bit (xterm: 1 shift, 2 alt, 4 ctrl)
            return "alt-" + name
    return name


def _button(code: int, pressed: bool, x: int, y: int):
    if code & 64:                         # wheel
        return ("wheel", -1 if code & 1 == 0 else 1, x, y) if pressed else None
    if code & 32:                         # motion
        return None
    if code & 3 == 0 and pressed:
        return ("click", x, y)
    return None


def _sgr_mouse(params: str, pressed: bool):
    try:
        code, x, y = (int(p) for p in params.split(";"))
    except ValueError:
        return None
    return _button(code, pressed, x - 1, y - 1)


def _x10_mouse(cb: int, cx: int, cy: int):
    code = cb - 32
    pressed = code & 3 != 3 or code & 64
    return _button(code, bool(pressed), cx - 33, cy - 33)
