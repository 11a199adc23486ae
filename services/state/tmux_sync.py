"""Carry state's plans for the user's tmux out: index key bindings that follow the display order,
the width hooks, sidebar panes spawned, removed and closed. Runs after model changes, off the
command's reply; every tmux error is logged and the next pass tries again."""
from __future__ import annotations

import shlex
import time

from services import log
from services.state import sidebars as S
from services.paths import opensessions_binary
from services.state.model import Model
from services.tmux import (HOOK_INDEX, KEY_TABLE, NOTE, SIDEBAR_TITLE, WIDTH_HOOKS, Tmux, TmuxError,
                           poke_hook_command, session_target, width_hook_command)

PENDING_FOR = 3.0   # s a spawned sidebar counts as there before a listing shows it


def sidebar_command() -> str:
    """The command a sidebar pane runs: this installation's own `opensessions`."""
    return f"{shlex.quote(opensessions_binary())} sidebar"


class TmuxSync:
    def __init__(self, tmux: Tmux):
        self.tmux = tmux
        self.bound: tuple | None = None          # (index prefix, names) last bound
        self.hooks_width: int | None = None       # width the hooks were last set for; None = none set
        self.pending: dict[str, float] = {}       # window id → when its sidebar was spawned
        self.spawned: dict[str, str] = {}         # window id → the sidebar pane spawned there
        self.closing: set[str] = set()
        self.errors = 0

    def _try(self, *argv: str) -> list[str] | None:
        try:
            return self.tmux.cmd(*argv)
        except TmuxError as e:
            self.errors += 1
            log.warn("tmux_sync_failed", command=argv[0], error=e)
            return None

    # -- index keys -----------------------------------------------------------------------

    def sync_keys(self, model: Model) -> None:
        if model.settings.get("keytable") != "on":
            self.bound = None
            return
        prefix = model.settings.get("index_keys", "")
        names = tuple(s.name for s in model.visible()[:9])
        if self.bound == (prefix, names):
            return
        old_prefix = self.bound[0] if self.bound else None
        for n, name in S.index_bindings(list(names)):
            action = (["switch-client", "-t", session_target(name)] if name is not None
                      else ["display-message", f"opensessions: no session {n}"])
            self._try("bind-key", "-N", f"{NOTE}: session {n}", "-T", KEY_TABLE, str(n), *action)
            if prefix:
                self._try("bind-key", "-N", f"{NOTE}: session {n}", "-T", "root", f"{prefix}{n}", *action)
        if old_prefix and old_prefix != prefix:
            for n in range(1, 10):
                self._try("unbind-key", "-T", "root", f"{old_prefix}{n}")
        self.bound = (prefix, names)

    # -- hooks ----------------------------------------------------------------------------

    def sync_hooks(self, model: Model) -> None:
        on = model.settings.get("sidebars") == "on"
        width = model.settings.get("width", 32)
        if on and self.hooks_width != width:
            for hook in WIDTH_HOOKS:
                self._try("set-hook", "-g", f"{hook}[{HOOK_INDEX}]", width_hook_command(width))
            self._try("set-hook", "-g", f"pane-exited[{HOOK_INDEX}]", poke_hook_command())
            for panes in S.sidebar_panes(model).values():
                for p in panes:
                    self._try("resize-pane", "-t", p, "-x", str(width))
            self.hooks_width = width
        elif not on and self.hooks_width is not None:
            for hook in WIDTH_HOOKS + ("pane-exited",):
                self._try("set-hook", "-gu", f"{hook}[{HOOK_INDEX}]")
            self.hooks_width = None

    # -- sidebar panes --------------------------------------------------------------------

    def sync_sidebars(self, model: Model, now: float) -> list[tuple[str, str]]:
        """Returns (client tty, session name) moves made for closing a session's last window."""
        self.pending = {w: t for w, t in self.pending.items() if now - t < PENDING_FOR}
        have = S.sidebar_panes(model)
        for w in list(self.pending):
            if w in have:
                del self.pending[w]
        self.spawned = {w: p for w, p in self.spawned.items() if w in self.pending}
        moves: list[tuple[str, str]] = []
        if model.settings.get("sidebars") != "on":
            for panes in have.values():
                for p in panes:
                    self._try("kill-pane", "-t", p)
            return moves
        for p in S.plan_extra_sidebars(model):
            self._try("kill-pane", "-t", p)
        for spawn in S.plan_spawns(model, True, set(self.pending)):
            pane = self.spawn(model, spawn.target_pane)
            self.pending[spawn.window_id] = now
            if pane:
                self.spawned[spawn.window_id] = pane
        for close in S.plan_lonely(model):
            if close.window_id in self.closing:
                continue
            self.closing.add(close.window_id)
            if close.last_of_session:
                session = model.sessions.get(close.session_id)
                neighbour = model.neighbour(session) if session is not None else None
                for c in [c for c in model.clients.values() if c.session_id == close.session_id]:
                    if neighbour is not None and self._try("switch-client", "-c", c.tty, "-t", session_target(neighbour.name)) is not None:
                        model.set_client_session(c.tty, neighbour, now)
                        moves.append((c.tty, neighbour.name))
            self._try("kill-window", "-t", close.window_id)
        live_windows = {p.window_id for p in model.panes.values()}
        self.closing &= live_windows
        return moves

    def spawn(self, model: Model, target_pane: str) -> str | None:
        width = str(model.settings.get("width", 32))
        argv = ["split-window", "-h", "-f", "-d", "-l", width, "-t", target_pane, "-P", "-F", "#{pane_id}"]
        if model.settings.get("position", "left") == "left":
            argv.insert(1, "-b")
        out = self._try(*argv, sidebar_command())
        if not out:
            return None
        pane = out[0].strip()
        self._try("select-pane", "-t", pane, "-T", SIDEBAR_TITLE)
        return pane

    def sync(self, model: Model, now: float | None = None) -> list[tuple[str, str]]:
        if not model.tmux_connected:
            return []
        now = time.time() if now is None else now
        self.sync_keys(model)
        self.sync_hooks(model)
        return self.sync_sidebars(model, now)

