#!/usr/bin/env bash
# TPM entry point: make sure opensessions runs for this tmux server and install its key table.
# From a plain clone with no `opensessions` command yet, the first load installs the clone into
# a virtual environment inside the plugin folder, in the background, and says so; later loads
# start at once.
set -u
PLUGIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$PLUGIN_DIR/.venv"
LOG="$PLUGIN_DIR/.install.log"

find_opensessions() {
    if [ -x "$VENV/bin/opensessions" ]; then
        echo "$VENV/bin/opensessions"
    elif command -v opensessions >/dev/null 2>&1; then
        command -v opensessions
    fi
}

BIN="$(find_opensessions)"
if [ -n "$BIN" ]; then
    "$BIN" tmux install >/dev/null 2>"$PLUGIN_DIR/.tmux-install.err" \
        || tmux display-message "opensessions: $(tail -n 1 "$PLUGIN_DIR/.tmux-install.err")"
    exit 0
fi

tmux display-message "opensessions: installing into $VENV (first load, in the background)…"
(
    if python3 -m venv "$VENV" >"$LOG" 2>&1 && "$VENV/bin/pip" install -q "$PLUGIN_DIR" >>"$LOG" 2>&1; then
        "$VENV/bin/opensessions" tmux install >>"$LOG" 2>&1 \
            && tmux display-message "opensessions: installed — prefix o then s, t, 1-9" \
            || tmux display-message "opensessions: installed, but could not start (see $LOG)"
    else
        tmux display-message "opensessions: install failed (see $LOG)"
    fi
) </dev/null >/dev/null 2>&1 &
exit 0
