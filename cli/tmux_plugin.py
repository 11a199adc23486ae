"""`opensessions tmux install|uninstall`: opensessions inside the user's tmux, like a plugin.

install: start the trio for this server, read the @opensessions-* options, bind `prefix KEY`
to our key table (s focus sidebar, t toggle, e even layout, 1–9 by index — those state keeps
in step with the order), turn sidebars on. uninstall: take every binding, hook, option, buffer
and sidebar pane we added away, give back the prefix binding we replaced, stop the trio.
Every binding carries the note `opensessions`, every hook our index; the options we set are
OWN_OPTIONS (the user's own @opensessions-* settings are theirs and stay).
"""
from __future__ import annotations

import shlex

from services.paths import Runtime, opensessions_binary
from services.tmux import (HOOK_INDEX, KEY_TABLE, NOTE, POKE_BUFFER, SIDEBAR_TITLE, WIDTH_HOOKS, TmuxError,
                           TmuxUnavailable, run)

SAVED_PREFIX = "@opensessions-saved-prefix"
OWN_OPTIONS = ("@opensessions-installed", SAVED_PREFIX)   # the options install sets


def _opt(socket: str, name: str, default: str) -> str:
    try:
        value = "\n".join(run(socket, ["show-options", "-gqv", name])).strip()
    except TmuxError:
        return default
    return value or default


def install(rt: Runtime, ask_state) -> str:
    sock = rt.socket_path
    try:
        run(sock, ["has-session"])
    except TmuxUnavailable:
        run(sock, ["new-session", "-d", "-s", "main"])   # a server to serve: like `tmux` would
    except TmuxError:
        pass
    key = _opt(sock, "@opensessions-prefix-key", "o")
    width = _opt(sock, "@opensessions-width", "")
    position = _opt(sock, "@opensessions-position", "")
    index_keys = _opt(sock, "@opensessions-index-keys", "")
    sidebars = _opt(sock, "@opensessions-sidebars", "on")

    from cli import supervise
    supervise.up(rt)
    settings = {"keytable": "on", "index_keys": index_keys}
    if width:
        try:
            settings["width"] = int(width)
        except ValueError:
            raise TmuxError(f"@opensessions-width must be a number, not {width!r}") from None
    if position:
        settings["position"] = position
    for k, v in settings.items():
        ask_state("set_setting", key=k, value=v)

    existing = run(sock, ["list-keys", "-T", "prefix", key]) if _has_key(sock, "prefix", key) else []
    if existing and f"-T {KEY_TABLE}" not in existing[0]:
        run(sock, ["set-option", "-g", SAVED_PREFIX, existing[0]])
    binary = shlex.quote(opensessions_binary())
    client = "'#{client_tty}'"
    run(sock, ["bind-key", "-N", NOTE, "-T", "prefix", key, "switch-client", "-T", KEY_TABLE])
    run(sock, ["bind-key", "-N", f"{NOTE}: focus the sidebar", "-T", KEY_TABLE, "s",
               "run-shell", "-b", f"{binary} sidebars focus --client {client}"])
    run(sock, ["bind-key", "-N", f"{NOTE}: toggle sidebars", "-T", KEY_TABLE, "t",
               "run-shell", "-b", f"{binary} sidebars toggle --client {client}"])
    # the width hook puts the sidebar back at its width right after the layout changes
    run(sock, ["bind-key", "-N", f"{NOTE}: even layout", "-T", KEY_TABLE, "e", "select-layout", "even-horizontal"])
    run(sock, ["set-option", "-g", "@opensessions-installed", "1"])
    if sidebars != "off":
        ask_state("sidebars", action="on")
    return key


def _has_key(sock: str, table: str, key: str) -> bool:
    try:
        return bool(run(sock, ["list-keys", "-T", table, key]))
    except TmuxError:
        return False


def uninstall(rt: Runtime, ask_state) -> list[str]:
    """Everything we added, removed; returns what was removed (empty the second time)."""
    sock = rt.socket_path
    removed: list[str] = []
    try:
        ask_state("sidebars", action="off")
        ask_state("set_setting", key="keytable", value="off")
    except Exception:   # the trio may be down already: tmux is cleaned below all the same
        pass
    try:
        run(sock, ["list-sessions"])
    except TmuxError:
        return removed
    for line in run(sock, ["list-panes", "-a", "-F", "#{pane_id}\t#{pane_title}"]):
        pane, _, title = line.partition("\t")
        if title == SIDEBAR_TITLE:
            _quiet(sock, ["kill-pane", "-t", pane])
            removed.append(f"sidebar pane {pane}")
    if _has_key(sock, KEY_TABLE, "s") or _has_key(sock, KEY_TABLE, "1"):
        _quiet(sock, ["unbind-key", "-a", "-T", KEY_TABLE])
        removed.append(f"key table {KEY_TABLE}")
    for line in _lines(sock, ["list-keys", "-T", "prefix"]):
        parts = line.split()
        if f"-T {KEY_TABLE}" in line and "switch-client" in line and len(parts) >= 4:
            key = parts[3]
            _quiet(sock, ["unbind-key", "-T", "prefix", key])
            removed.append(f"prefix {key}")
    saved = _opt(sock, SAVED_PREFIX, "")
    if saved:
        _quiet(sock, ["source-file", "-"], stdin=saved)
    for line in _lines(sock, ["list-keys", "-N", "-T", "root"]):
        key, _, note = line.strip().partition(" ")
        if note.strip().startswith(NOTE):
            _quiet(sock, ["unbind-key", "-T", "root", key])
            removed.append(f"root {key}")
    for hook in WIDTH_HOOKS + ("pane-exited",):
        if any(f"[{HOOK_INDEX}]" in h for h in _lines(sock, ["show-hooks", "-g", hook])):
            _quiet(sock, ["set-hook", "-gu", f"{hook}[{HOOK_INDEX}]"])
            removed.append(f"hook {hook}")
    for line in _lines(sock, ["show-options", "-g"]):
        name = line.split(" ", 1)[0]
        if name in OWN_OPTIONS:   # the user's own @opensessions-* settings (tmux.conf) stay
            _quiet(sock, ["set-option", "-gu", name])
            removed.append(f"option {name}")
    if any(line.startswith(POKE_BUFFER) for line in _lines(sock, ["list-buffers", "-F", "#{buffer_name}"])):
        _quiet(sock, ["delete-buffer", "-b", POKE_BUFFER])
        removed.append(f"buffer {POKE_BUFFER}")
    return removed


def _lines(sock: str, argv: list[str]) -> list[str]:
    try:
        return run(sock, argv)
    except TmuxError:
        return []


def _quiet(sock: str, argv: list[str], stdin: str | None = None) -> None:
    try:
        run(sock, argv, stdin=stdin)
    except TmuxError:
        pass

