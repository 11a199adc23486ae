"""Drawing frames with curses: colours, attributes, the terminal's modes. Nothing else here
knows about curses; the renderer's frames are plain data."""
from __future__ import annotations

import os

from cli.sidebar.render import BOLD, DIM, REVERSE, UNDERLINE
from cli.sidebar.text import width
from cli.sidebar.themes import colour_index

# button press/release and wheel reports (1000), in SGR encoding (1006): no 223-column limit
MOUSE_ON = b"\x1b[?1000h\x1b[?1006h"
MOUSE_OFF = b"\x1b[?1006l\x1b[?1000l"
MAX_PAIRS = 255   # Python's color_pair() cannot encode more in an attribute


class Screen:
    def __init__(self) -> None:
        import curses
        import locale
        locale.setlocale(locale.LC_ALL, "")   # without it curses draws UTF-8 as escapes
        self.curses = curses
        self.win = curses.initscr()
        self.open = True
        curses.noecho()
        curses.raw()            # Ctrl-C and Ctrl-Z arrive as keys: the sidebar decides
        self.win.leaveok(True)
        try:
            curses.curs_set(0)
        except curses.error:
            pass
        self.colors = 0
        if curses.has_colors():
            curses.start_color()
            try:
                curses.use_default_colors()
            except curses.error:
                pass
            self.colors = curses.COLORS
        self.max_pairs = min(MAX_PAIRS, max(0, getattr(curses, "COLOR_PAIRS", 0) - 1))
        self.pairs: dict[tuple[int, int], int] = {}
        self.resets = 0                   # times the colour pairs ran out and the window was cleared
        self.drawn: list | None = None    # the lines on the screen now, to draw only what changed
        self.drawn_bg = None
        self.attr_bits = {BOLD: curses.A_BOLD, DIM: curses.A_DIM, REVERSE: curses.A_REVERSE,
                          UNDERLINE: curses.A_UNDERLINE}
        os.write(1, MOUSE_ON)

    def size(self) -> tuple[int, int]:
        h, w = self.win.getmaxyx()
        return h, w

    def resize(self) -> None:
        try:
            cols, rows = os.get_terminal_size(1)
        except OSError:
            return
        self.curses.resizeterm(rows, cols)
        self.win.clear()
        self.drawn = None

    def _pair(self, fg: int, bg: int) -> int:
        if fg == -1 and bg == -1:
            return 0
        key = (fg, bg)
        n = self.pairs.get(key)
        if n is None:
            if len(self.pairs) >= self.max_pairs:
                # out of pairs (many previews): start over; the whole screen is drawn next anyway
                self.pairs.clear()
                self.win.clear()
                self.resets += 1
            n = len(self.pairs) + 1
            try:
                self.curses.init_pair(n, fg, bg)
            except (self.curses.error, ValueError, OverflowError):
                return 0
            self.pairs[key] = n
        return n

    def attr(self, fg, bg, attrs: int, base_bg) -> int:
        a = 0
        if self.colors:
            fi, bi = colour_index(fg, self.colors), colour_index(bg, self.colors)
            if bg != base_bg and self.colors < 256 and bi == colour_index(base_bg, self.colors):
                attrs |= REVERSE   # a background meant to stand out that the terminal cannot show
            a = self.curses.color_pair(self._pair(fi, bi))
        elif bg != base_bg:
            attrs |= REVERSE
        for bit, value in self.attr_bits.items():
            if attrs & bit:
                a |= value
        return a

    def paint(self, frame, base_bg) -> None:
        """Draw only the lines that differ from the last frame drawn: most snapshots change a
        row or two, and building a hundred rows of curses cells for doupdate to find no change
        in them was a sixth of the sidebar's time."""
        resets = self.resets
        self._paint(frame, base_bg, self.drawn if self.drawn_bg == base_bg else None)
        if self.resets != resets:   # colour pairs ran out mid-frame and the window was cleared
            resets = self.resets
            self._paint(frame, base_bg, None)
            if self.resets != resets:   # more colours in one frame than pairs: draw it all next time
                self.drawn = None
        self.curses.doupdate()

    def _paint(self, frame, base_bg, drawn: list | None) -> None:
        win, error = self.win, self.curses.error
        if drawn is None:
            win.erase()
        for y, line in enumerate(frame.lines):
            if drawn is not None:
                if y < len(drawn) and drawn[y] == line:
                    continue
                win.move(y, 0)
                win.clrtoeol()
            x = 0
            for text, fg, bg, attrs in line:
                try:
                    win.addstr(y, x, text, self.attr(fg, bg, attrs, base_bg))
                except error:
                    pass   # the bottom-right cell: written, but curses reports the cursor overflow
                x += width(text)
        if drawn is not None and len(drawn) > len(frame.lines):
            try:
                win.move(len(frame.lines), 0)
                win.clrtobot()
            except error:
                pass
        win.noutrefresh()
        self.drawn, self.drawn_bg = list(frame.lines), base_bg

    def close(self) -> None:
        if not self.open:
            return
        self.open = False
        try:
            os.write(1, MOUSE_OFF)
        except OSError:
            pass
        try:
            self.curses.endwin()
        except self.curses.error:
            pass
