"""The pure renderer: (snapshot, view, width, height, theme) → a Frame of styled lines.

No curses here. A line is a list of segments (text, fg, bg, attrs) whose display widths add up
to exactly `width`; fg/bg are palette colours (see themes.py), attrs the flags below. The frame
also says which screen row shows which session (for mouse clicks) and where the list scrolled to.
"""
from __future__ import annotations

import time

from cli.sidebar import view as V
from cli.sidebar.text import clean, cut, pad, width as text_width
from cli.sidebar.themes import palette
from services.settings import THEMES, WIDTH_MAX, WIDTH_MIN

BOLD, DIM, REVERSE, UNDERLINE = 1, 2, 4, 8

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
GLYPHS = {"tool-running": "⚙", "waiting": "◉", "done": "✓", "error": "✗", "interrupted": "⚠",
          "stale": "⚠", "idle": "○"}
UNSEEN_GLYPH = "●"
STATUS_ROLE = {"running": "running", "tool-running": "tool", "waiting": "waiting", "done": "done",
               "error": "error", "interrupted": "stale", "stale": "stale", "idle": "idle"}
# what a badge slot is worth: the agent that needs the user first, quiet ones last
BADGE_ORDER = {"waiting": 0, "error": 1, "tool-running": 2, "running": 3, "unseen": 4,
               "interrupted": 5, "stale": 6, "done": 7, "idle": 8}
WORKING = ("running", "tool-running")
MAX_BADGES = 3
CURRENT_MARK, CURSOR_MARK = "▶", "›"
TONES = {"neutral": "fg", "info": "info", "success": "success", "warn": "warn", "error": "error"}

HELP = (("j k ↑ ↓", "move"), ("⏎", "switch"), ("Tab S-Tab", "next / prev"), ("1–9", "switch to N"),
        ("K J M-↑ M-↓", "reorder"), ("d  u", "hide / unhide all"), ("n  x", "new / kill"),
        ("f", "filter"), ("t  w", "theme / width"), ("r", "refresh"), ("click", "switch"),
        ("q", "close"), ("C-c", "close this one"))


class Frame:
    __slots__ = ("lines", "hits", "scroll", "page", "animated")

    def __init__(self, lines, hits, scroll, page, animated):
        self.lines = lines          # list[list[(text, fg, bg, attrs)]]
        self.hits = hits            # screen row → session name
        self.scroll = scroll        # first session shown
        self.page = page            # sessions that fit in the list
        self.animated = animated    # a spinner is on screen: the app ticks

    def text(self) -> list[str]:
        return ["".join(seg[0] for seg in line) for line in self.lines]


def glyph(status: str, unseen: bool, tick: int) -> str:
    if status == "running":
        return SPINNER[tick % len(SPINNER)]
    if unseen and status == "done":
        return UNSEEN_GLYPH
    return GLYPHS.get(status, "?")


def _agent_rank(a: dict) -> int:
    st = a.get("status")
    return BADGE_ORDER["unseen"] if a.get("unseen") and st == "done" else BADGE_ORDER.get(st, 9)


class _Painter:
    """Builds lines for one palette and width; every line comes out exactly `width` cells."""

    def __init__(self, pal: dict, width: int):
        self.p, self.w = pal, width
        self.bg = pal["bg"]

    def col(self, role: str):
        return self.p.get(role)

    def attrs_for(self, role: str, attrs: int = 0) -> int:
        if role in ("dim", "idle", "border") and self.p.get("dim_attr"):
            attrs |= DIM
        return attrs

    def seg(self, text: str, role: str = "fg", attrs: int = 0, bg=None, sel: bool = False):
        if sel:
            if self.p.get("sel_reverse"):
                attrs |= REVERSE
                bg = self.bg
            else:
                bg = self.p["sel"]
        return (text, self.col(role), self.bg if bg is None else bg, self.attrs_for(role, attrs))

    def line(self, segs: list, sel: bool = False, fill_role: str = "fg") -> list:
        """Cut the segments to the width and pad the rest, in the row's background."""
        out, used = [], 0
        for text, fg, bg, attrs in segs:
            room = self.w - used
            if room <= 0:
                break
            tw = text_width(text)
            if tw > room:
                text = cut(text, room)
                tw = text_width(text)
            if text:
                out.append((text, fg, bg, attrs))
                used += tw
        if used < self.w:
            out.append(self.seg(" " * (self.w - used), fill_role, sel=sel))
        return out

    def blank(self, sel: bool = False) -> list:
        return [self.seg(" " * self.w, sel=sel)] if self.w > 0 else []

    def rule(self, label: str = "", role: str = "border", right: str = "") -> list:
        if self.w <= 0:
            return []
        segs = [self.seg("─", "border")]
        if label:
            segs.append(self.seg(" " + cut(label, max(0, self.w - 4)) + " ", role, BOLD if role != "border" else 0))
        used = sum(text_width(s[0]) for s in segs)
        tail = (" " + right + " ─") if right and used + text_width(right) + 3 <= self.w else ""
        fill = max(0, self.w - used - text_width(tail))
        segs.append(self.seg("─" * fill, "border"))
        if tail:
            segs.append(self.seg(tail[:-1], "dim"))
            segs.append(self.seg("─", "border"))
        return self.line(segs)


def render(snapshot: dict | None, view: V.View, width: int, height: int, theme: str | None = None) -> Frame:
    width, height = max(0, width), max(0, height)
    settings = (snapshot or {}).get("settings") or {}
    pal = palette(theme or settings.get("theme"))
    pt = _Painter(pal, width)
    sessions = (snapshot or {}).get("sessions") or []
    animated = any(a.get("status") == "running" for s in sessions for a in s.get("agents") or ())
    if height == 0 or width == 0:
        return Frame([[] for _ in range(height)], {}, view.scroll, 1, animated)

    top_rows = 2 if height >= 5 else 1
    footer = [_footer(pt, view, snapshot)] if height >= 3 else []
    room = height - top_rows - len(footer)

    panel: list = []
    if view.mode == V.LIST and snapshot is not None and sessions and height >= 14:
        facts, logs = _detail(pt, sessions[V.highlight_index(view, sessions)], view)
        # the panel takes 40% of the room, or more when the list needs less; the list keeps 4 rows
        most = min(len(facts) + len(logs), max(room * 2 // 5, room - 2 * len(sessions)), room - 4)
        if most >= 2:
            keep_logs = max(0, most - len(facts))
            panel = (facts + logs[len(logs) - keep_logs:] if keep_logs else facts)[:most]

    list_rows = room - len(panel)
    hits: dict[int, str] = {}
    scroll, page, above, below = view.scroll, 1, 0, 0
    if view.mode == V.HELP:
        body = _help(pt, list_rows)
    elif view.mode == V.THEME:
        body = _theme_picker(pt, view, list_rows)
    elif snapshot is None:
        body = _centered_note(pt, list_rows, "reconnecting…" if view.link == "reconnecting" else "connecting…",
                              "is `opensessions up` running?" if view.link == "reconnecting" else "")
    elif not sessions:
        body = _centered_note(pt, list_rows, "no sessions")
    else:
        body, hits, scroll, page, above, below = _session_list(pt, sessions, view, list_rows, top_rows)
    top = [_header(pt, snapshot, view)]
    if top_rows == 2:
        more = " ".join(x for x in (f"↑{above}" if above else "", f"↓{below}" if below else "") if x)
        top.append(_status_rule(pt, snapshot, view, settings, more))
    lines = top + body + panel + footer
    return Frame(lines[:height], hits, scroll, page, animated)


# -- header ------------------------------------------------------------------------------------

def _header(pt: _Painter, snapshot: dict | None, view: V.View) -> list:
    sessions = (snapshot or {}).get("sessions") or []
    working = waiting = unseen = 0
    running = False
    for s in sessions:          # one pass: this runs on every paint, over every agent
        for a in s.get("agents") or ():
            status = a.get("status")
            if status in WORKING:
                working += 1
                running = running or status == "running"
            elif status == "waiting":
                waiting += 1
            if a.get("unseen"):
                unseen += 1
    spin = SPINNER[view.tick % len(SPINNER)] if running else ("⚙" if working else "○")
    n = len(sessions)
    variants = []
    for long_words in (True, False):
        parts = [(spin, "running" if working else "dim"), (f" {working}", "fg")]
        if long_words:
            parts.append((" working", "dim"))
        for count, g, role, word in ((waiting, "◉", "waiting", " waiting"), (unseen, UNSEEN_GLYPH, "unseen", " unseen")):
            if count:
                parts += [("  " if long_words else " ", "dim"), (g, role), (f" {count}", "fg")]
                if long_words:
                    parts.append((word, "dim"))
        variants.append((parts, f"{n} session{'s' if n != 1 else ''}"))
    tight = [(spin, "running" if working else "dim"), (str(working), "fg")]
    for count, g, role in ((waiting, "◉", "waiting"), (unseen, UNSEEN_GLYPH, "unseen")):
        if count:
            tight += [(" ", "dim"), (g, role), (str(count), "fg")]
    variants.append((tight, f"{n}s"))
    if snapshot is None:
        variants = [([("○", "dim")], "opensessions")]
    for parts, right in variants:
        left_w = 1 + sum(text_width(t) for t, _ in parts)
        if left_w + 1 + text_width(right) + 1 <= pt.w or (parts, right) == variants[-1]:
            break
    segs = [pt.seg(" ")] + [pt.seg(t, role, BOLD if role == "fg" else 0) for t, role in parts]
    left_w = sum(text_width(s[0]) for s in segs)
    gap = pt.w - left_w - text_width(right) - 1
    if gap >= 1:
        segs += [pt.seg(" " * gap), pt.seg(right, "dim"), pt.seg(" ")]
    return pt.line(segs)


def _status_rule(pt: _Painter, snapshot: dict | None, view: V.View, settings: dict, more: str) -> list:
    """Under the header: what is wrong with the connection, else the filter; and how many
    sessions the list has scrolled past."""
    if (snapshot is not None and view.link == "reconnecting") or not view.state_ok:
        return pt.rule("reconnecting…", "warn", more)
    tmux = (snapshot or {}).get("tmux") or {}
    if snapshot is not None and tmux.get("connected") is False:
        return pt.rule("tmux not reachable", "error", more)
    flt = settings.get("filter")
    if flt and flt != "all":
        return pt.rule(f"filter: {flt}", "accent", more)
    return pt.rule("", "border", more)


# -- the list ----------------------------------------------------------------------------------

def _session_list(pt: _Painter, sessions: list, view: V.View, rows: int, first_row: int):
    per = 2 if rows >= 4 else 1
    fit = rows // per
    n = len(sessions)
    if fit <= 0:
        return [], {}, view.scroll, 1, 0, 0
    hl = V.highlight_index(view, sessions)
    top = max(0, min(view.scroll, n - fit))
    if not view.free_scroll:
        if hl < top:
            top = hl
        elif hl >= top + fit:
            top = hl - fit + 1
    index_w = max(2, len(str(n)))
    lines, hits = [], {}
    for i in range(top, min(n, top + fit)):
        s = sessions[i]
        sel = i == hl
        y = first_row + len(lines)
        lines.append(_row_main(pt, s, i + 1, index_w, sel, s["name"] == view.current, view.tick))
        hits[y] = s["name"]
        if per == 2:
            lines.append(_row_sub(pt, s, index_w, sel, view.home))
            hits[y + 1] = s["name"]
    while len(lines) < rows:
        lines.append(pt.blank())
    return lines[:rows], hits, top, fit, top, n - min(n, top + fit)


def _badges(pt: _Painter, agents: list, tick: int, sel: bool, spaced: bool) -> list:
    ordered = sorted(agents, key=_agent_rank)
    segs = []
    for k, a in enumerate(ordered[:MAX_BADGES]):
        st = a.get("status") or "?"
        unseen = bool(a.get("unseen")) and st == "done"
        role = "unseen" if unseen else STATUS_ROLE.get(st, "dim")
        if k and spaced:
            segs.append(pt.seg(" ", sel=sel))
        attrs = DIM if a.get("liveness") == "exited" else 0
        segs.append(pt.seg(glyph(st, unseen, tick), role, attrs, sel=sel))
    extra = len(ordered) - MAX_BADGES
    if extra > 0:
        segs.append(pt.seg(f"{' ' if spaced else ''}+{extra}", "dim", sel=sel))
    return segs


def _row_main(pt: _Painter, s: dict, index: int, index_w: int, sel: bool, current: bool, tick: int) -> list:
    w = pt.w
    spaced = w >= 28
    badges = _badges(pt, s.get("agents") or [], tick, sel, spaced)
    badges_w = sum(text_width(b[0]) for b in badges)
    head = [pt.seg(CURSOR_MARK if sel else " ", "accent", BOLD, sel=sel),
            pt.seg(CURRENT_MARK if current else " ", "accent", BOLD, sel=sel),
            pt.seg(str(index).rjust(index_w) + " ", "accent" if current else "dim", sel=sel)]
    head_w = sum(text_width(h[0]) for h in head)
    name_room = w - head_w - (badges_w + 2 if badges else 1)
    if name_room < 3 and badges:          # too narrow for both: the name wins
        badges, badges_w = [], 0
        name_room = w - head_w - 1
    label = clean(s.get("label") or s.get("name") or "")
    name_attrs = BOLD if current or s.get("unseen") else 0
    name = pad(label, max(0, name_room))
    segs = head + [pt.seg(name, "accent" if current else "fg", name_attrs, sel=sel)]
    if badges:
        segs.append(pt.seg(" ", sel=sel))
        segs += badges
    return pt.line(segs + [pt.seg(" ", sel=sel)], sel=sel)


def _tilde(path: str, home: str) -> str:
    if home and (path == home or path.startswith(home.rstrip("/") + "/")):
        return "~" + path[len(home.rstrip("/")):]
    return path


def _cut_left(text: str, cells: int) -> str:
    """Keep the end of a path, where its name is: `…/deep/project`."""
    if text_width(text) <= cells:
        return text
    if cells <= 1:
        return "…"[:cells]
    out = []
    used = 0
    for ch in reversed(text):
        cw = text_width(ch)
        if used + cw > cells - 1:
            break
        out.append(ch)
        used += cw
    return "…" + "".join(reversed(out))


def _ports(ports) -> str:
    return " ".join(f":{p}" for p in ports or ())


def _row_sub(pt: _Painter, s: dict, index_w: int, sel: bool, home: str) -> list:
    indent = " " * (2 + index_w + 1)
    room = pt.w - len(indent) - 1
    parts = []
    branch = s.get("branch")
    ports = _ports(s.get("ports"))
    segs = [pt.seg(indent, sel=sel)]
    if branch:
        b = clean(branch) + ("*" if s.get("dirty") else "")
        # the ports are short and exact; the branch gives way
        b_room = room - (text_width(ports) + 3 if ports else 0)
        if b_room < 4 and ports:
            b_room, ports = room, ""
        parts.append((cut(b, max(0, b_room)), "dim"))
    if ports:
        if parts:
            parts.append((" · ", "border"))
        parts.append((ports, "info"))
    if not parts and s.get("dir"):
        parts.append((_cut_left(_tilde(clean(s["dir"]), home), max(0, room)), "dim"))
    segs += [pt.seg(t, role, sel=sel) for t, role in parts]
    return pt.line(segs, sel=sel)


def _centered_note(pt: _Painter, rows: int, note: str, hint: str = "") -> list:
    lines = [pt.blank() for _ in range(rows)]
    y = min(rows - 1, rows // 3)
    for k, (text, role) in enumerate(((note, "fg"), (hint, "dim"))):
        if text and 0 <= y + k < rows:
            text = cut(text, pt.w)
            left = max(0, (pt.w - text_width(text)) // 2)
            lines[y + k] = pt.line([pt.seg(" " * left), pt.seg(text, role)])
    return lines


# -- detail panel ------------------------------------------------------------------------------

def _detail(pt: _Painter, s: dict, view: V.View) -> tuple[list, list]:
    """The highlighted session: (rule with its name and the facts, the log lines oldest first).
    The caller drops the oldest log lines first when the panel does not fit."""
    w = pt.w
    meta = s.get("metadata") or {}
    lines = [pt.rule(clean(s.get("label") or s.get("name") or ""), "accent")]
    status = meta.get("status")
    if isinstance(status, dict) and status.get("text"):
        role = TONES.get(status.get("tone"), "fg")
        pill = " " + clean(str(status["text"])) + " "
        if pt.p.get("sel_reverse"):
            seg = pt.seg(cut(pill, w - 2), role, REVERSE | BOLD)
        else:
            seg = (cut(pill, w - 2), pt.bg, pt.col(role) if pt.col(role) is not None else pt.col("fg"), BOLD)
        lines.append(pt.line([pt.seg(" "), seg]))
    progress = meta.get("progress")
    if isinstance(progress, dict):
        lines += _progress(pt, progress)
    facts = []
    if s.get("dir"):
        facts.append(("dir", _cut_left(_tilde(clean(s["dir"]), view.home), max(1, w - 9)), "fg"))
    if s.get("branch"):
        facts.append(("branch", clean(s["branch"]) + ("*" if s.get("dirty") else ""), "fg"))
    if s.get("ports"):
        facts.append(("ports", _ports(s["ports"]), "info"))
    for label, value, role in facts:
        lines.append(pt.line([pt.seg(" " + label.ljust(7), "dim"), pt.seg(value, role)]))
    for a in sorted(s.get("agents") or [], key=_agent_rank):
        lines.append(_agent_line(pt, a, view.tick))
    logs = [x for x in meta.get("logs") or [] if isinstance(x, dict) and x.get("message")]
    return lines, [_log_line(pt, x) for x in logs]


def _progress(pt: _Painter, p: dict) -> list:
    percent = p.get("percent")
    if not isinstance(percent, (int, float)) or isinstance(percent, bool):
        cur, total = p.get("current"), p.get("total")
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (cur, total))
        percent = 100.0 * cur / total if ok and total else None
    label = clean(str(p.get("label") or ""))
    out = []
    if percent is not None:
        percent = max(0.0, min(100.0, float(percent)))
        tail = f" {percent:3.0f}%"
        bar_w = max(1, pt.w - 2 - len(tail))
        filled = int(round(bar_w * percent / 100))
        out.append(pt.line([pt.seg(" "), pt.seg("█" * filled, "accent"), pt.seg("░" * (bar_w - filled), "border"),
                            pt.seg(tail, "fg")]))
    if label:
        cur, total = p.get("current"), p.get("total")
        counts = f" {cur}/{total}" if isinstance(cur, int) and isinstance(total, int) else ""
        out.append(pt.line([pt.seg(" "), pt.seg(label, "dim"), pt.seg(counts, "dim")]))
    return out


def _agent_line(pt: _Painter, a: dict, tick: int) -> list:
    st = a.get("status") or "?"
    unseen = bool(a.get("unseen")) and st == "done"
    role = "unseen" if unseen else STATUS_ROLE.get(st, "dim")
    word = ("unseen" if unseen else st) + ("" if a.get("liveness") in (None, "alive") else f", {a['liveness']}")
    name = clean(str(a.get("thread_name") or ""))
    left = [pt.seg(" "), pt.seg(glyph(st, unseen, tick), role), pt.seg(" " + clean(str(a.get("agent") or "agent")), "fg", BOLD)]
    if name:
        left.append(pt.seg(" " + name, "dim"))
    left_w = sum(text_width(x[0]) for x in left)
    if left_w + 1 + text_width(word) + 1 <= pt.w:
        return pt.line(left + [pt.seg(" " * (pt.w - left_w - text_width(word) - 1)), pt.seg(word, role), pt.seg(" ")])
    return pt.line(left)


def _log_line(pt: _Painter, entry: dict) -> list:
    role = TONES.get(entry.get("tone"), "fg")
    stamp = ""
    ts = entry.get("ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and pt.w >= 30:
        try:
            stamp = time.strftime("%H:%M ", time.localtime(ts))
        except (OverflowError, OSError, ValueError):
            stamp = ""
    source = clean(str(entry.get("source") or ""))
    segs = [pt.seg(" "), pt.seg("•", role), pt.seg(" " + stamp, "dim")]
    if source and pt.w >= 30:
        segs.append(pt.seg(source + ": ", "dim"))
    segs.append(pt.seg(clean(str(entry["message"])), role if role != "fg" else "fg"))
    return pt.line(segs)


# -- overlays and footer -----------------------------------------------------------------------

def _help(pt: _Painter, rows: int) -> list:
    key_w = max(text_width(k) for k, _ in HELP) + 2
    if key_w + 6 > pt.w:
        key_w = max(4, pt.w // 2)
    lines = [pt.line([pt.seg(" keys", "accent", BOLD)])]
    for key, what in HELP:
        lines.append(pt.line([pt.seg(" " + pad(key, key_w - 1), "accent"), pt.seg(what, "fg")]))
    lines = lines[:rows]
    while len(lines) < rows:
        lines.append(pt.blank())
    return lines


def _theme_picker(pt: _Painter, view: V.View, rows: int) -> list:
    lines = [pt.line([pt.seg(" theme", "accent", BOLD)])]
    chosen = V.theme_under_cursor(view)
    for name in THEMES:
        sel = name == chosen
        lines.append(pt.line([pt.seg(CURSOR_MARK if sel else " ", "accent", BOLD, sel=sel),
                              pt.seg(" " + name, "fg", BOLD if sel else 0, sel=sel)], sel=sel))
    # a strip of the status colours, so the preview shows more than text
    strip = [pt.seg(" ")]
    for st in ("running", "tool-running", "waiting", "done", "error", "stale", "idle"):
        strip += [pt.seg(glyph(st, False, 0), STATUS_ROLE[st]), pt.seg(" ")]
    lines += [pt.blank(), pt.line(strip)]
    lines = lines[:rows]
    while len(lines) < rows:
        lines.append(pt.blank())
    return lines


def _footer(pt: _Painter, view: V.View, snapshot: dict | None) -> list:
    if view.mode == V.CONFIRM:
        return pt.line([pt.seg(" kill ", "error", BOLD), pt.seg(clean(view.target or ""), "fg", BOLD),
                        pt.seg("? y/n", "error", BOLD)])
    if view.mode == V.NEW:
        return pt.line([pt.seg(" new: ", "accent", BOLD), pt.seg(_tail_fit(clean(view.text), pt.w - 8), "fg"),
                        pt.seg("▏", "accent")])
    if view.mode == V.WIDTH:
        value = f" {view.width_value}"
        bar_w = max(3, pt.w - 9 - len(value))
        pos = round((view.width_value - WIDTH_MIN) * (bar_w - 1) / (WIDTH_MAX - WIDTH_MIN))
        return pt.line([pt.seg(" width ", "accent", BOLD), pt.seg("━" * pos, "accent"), pt.seg("●", "fg", BOLD),
                        pt.seg("━" * (bar_w - pos - 1), "border"), pt.seg(value, "fg", BOLD)])
    if view.message:
        return pt.line([pt.seg(" " + clean(view.message), TONES.get(view.tone, "fg"))])
    hints = {V.THEME: ("j/k pick  ⏎ apply  esc cancel", "⏎ apply esc"),
             V.HELP: ("any key: back", "any key")}.get(view.mode)
    if hints is None:
        hints = ("⏎ switch  j/k move  ? help  q close", "⏎ j/k ? help q", "? help")
    for h in hints:
        if text_width(h) + 1 <= pt.w:
            return pt.line([pt.seg(" " + h, "dim")])
    return pt.line([pt.seg(" " + hints[-1], "dim")])


def _tail_fit(text: str, cells: int) -> str:
    """The end of what is being typed, where the cursor is."""
    return _cut_left(text, max(1, cells))
