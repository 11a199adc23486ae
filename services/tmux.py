"""Everything that talks to tmux: quoting, exact targets, listing formats, control mode, fork.

Session names are targeted exactly with `=NAME`. tmux stores names escaped (`$` → `\\$`,
`\\` → `\\\\`, `.` and `:` → `_`); the name we carry is always the stored one, as tmux prints it.
A long-lived control-mode client (`tmux -C attach -f no-output,ignore-size`) runs commands
without forking and delivers notifications; when it cannot attach we fork `tmux` per command.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field

SEP = "\x1f"
DEFAULT_TIMEOUT = 3.0


class TmuxError(Exception):
    """tmux answered with an error (no such session, …)."""


class TmuxUnavailable(TmuxError):
    """No tmux server on that socket, or the connection to it broke or timed out."""


def tmux_binary() -> str:
    return shutil.which("tmux") or "tmux"


def quote(arg: str) -> str:
    """Quote one argument for tmux's command parser: single quotes keep everything literal."""
    return "'" + arg.replace("'", "'\\''") + "'"


def session_target(name: str) -> str:
    return "=" + name


def stored_name(name: str) -> str:
    """The name tmux stores for a name given to `new-session -s` (see session_check_name)."""
    text = name.replace(":", "_").replace(".", "_")
    out = []
    for i, ch in enumerate(text):
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if ch == "\\":
            out.append("\\\\")
        elif ch == "$" and (nxt == "_" or nxt == "{" or (nxt.isascii() and nxt.isalpha())):
            out.append("\\$")   # only where it could start a variable, as tmux's vis does
        else:
            out.append(ch)
    return "".join(out)


def display_name(stored: str) -> str:
    """Undo tmux's escaping for display and for matching what a user typed."""
    out, i = [], 0
    while i < len(stored):
        if stored[i] == "\\" and i + 1 < len(stored) and stored[i + 1] in "\\$":
            out.append(stored[i + 1])
            i += 2
        else:
            out.append(stored[i])
            i += 1
    return "".join(out)


# -- listing formats ------------------------------------------------------------------------

# No pane_current_path: nothing reads it, and it costs the tmux server a readlink per pane,
# ~20 % of a listing's time at 500 panes.
PANE_FIELDS = ("session_id", "session_name", "session_created", "session_path", "session_windows",
               "window_id", "window_index", "window_active", "pane_id", "pane_pid", "pane_active",
               "pane_current_command", "pane_title")
CLIENT_FIELDS = ("client_tty", "client_pid", "client_control_mode", "client_activity",
                 "session_id", "client_session", "window_id", "pane_id")

PANE_FORMAT = SEP.join("#{%s}" % f for f in PANE_FIELDS)
CLIENT_FORMAT = SEP.join("#{%s}" % f for f in CLIENT_FIELDS)


@dataclass(frozen=True)
class PaneRow:
    session_id: str
    session_name: str
    session_created: int
    session_path: str
    session_windows: int
    window_id: str
    window_index: int
    window_active: bool
    pane_id: str
    pane_pid: int
    pane_active: bool
    current_command: str
    title: str


@dataclass(frozen=True)
class ClientRow:
    tty: str
    pid: int
    control: bool
    activity: int
    session_id: str
    session_name: str
    window_id: str
    pane_id: str


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def parse_panes(lines: list[str]) -> list[PaneRow]:
    rows = []
    for line in lines:
        parts = line.split(SEP, len(PANE_FIELDS) - 1)   # the title is last and may hold anything
        if len(parts) != len(PANE_FIELDS):
            continue
        (sid, sname, created, spath, nwin, wid, widx, wact, pid_, ppid, pact, cmd, title) = parts
        rows.append(PaneRow(sid, sname, _int(created), spath, _int(nwin), wid, _int(widx), wact == "1",
                            pid_, _int(ppid), pact == "1", cmd, title))
    return rows


def parse_clients(lines: list[str]) -> list[ClientRow]:
    rows = []
    for line in lines:
        parts = line.split(SEP)
        if len(parts) != len(CLIENT_FIELDS):
            continue
        tty, pid, control, activity, sid, sname, wid, pane = parts
        rows.append(ClientRow(tty, _int(pid), control == "1", _int(activity), sid, sname, wid, pane))
    return rows


# -- control mode ---------------------------------------------------------------------------

@dataclass
class _Pending:
    done: bool = False
    failed: bool = False
    lines: list[str] = field(default_factory=list)


class ControlClient:
    """One `tmux -C` connection. Commands are answered in order, so replies match a FIFO."""

    def __init__(self, socket_path: str, timeout: float = DEFAULT_TIMEOUT):
        self.socket_path = socket_path
        self.timeout = timeout
        self.notifications: deque[str] = deque(maxlen=10000)
        self._pending: deque[_Pending] = deque()
        self._buf = b""
        self._block: tuple[str, bool, list[str]] | None = None   # (number, ours, lines)
        self.closed = False
        self.proc = subprocess.Popen(
            [tmux_binary(), "-S", socket_path, "-C", "attach", "-f", "no-output,ignore-size"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        # attach answers with one block of its own; it tells us the connection is live
        self._wait_until(lambda: self._attached, self.timeout)

    _attached = False

    def fileno(self) -> int:
        return self.proc.stdout.fileno()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.proc.stdin.close()   # tmux's own way to end a control client; never signal tmux
        except OSError:
            pass
        try:
            self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def read_available(self) -> bool:
        """Read what tmux sent; False when the connection ended."""
        if self.closed:
            return False
        try:
            data = os.read(self.fileno(), 1 << 16)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            self._broken()
            return False
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"))
        return not self.closed

    def _broken(self) -> None:
        for p in self._pending:
            p.done, p.failed = True, True
            p.lines = ["tmux control connection closed"]
        self._pending.clear()
        self.close()

    def _line(self, line: str) -> None:
        if self._block is not None:
            number, ours, lines = self._block
            if (line.startswith("%end ") or line.startswith("%error ")) and line.split(" ")[2:3] == [number]:
                self._block = None
                if not ours:
                    self._attached = True
                    return
                if self._pending:
                    p = self._pending.popleft()
                    p.done, p.failed, p.lines = True, line.startswith("%error"), lines
                return
            lines.append(line)
            return
        if line.startswith("%begin "):
            parts = line.split(" ")
            flags = parts[3] if len(parts) > 3 else "0"
            self._block = (parts[2] if len(parts) > 2 else "", flags == "1", [])
            return
        if line.startswith("%exit"):
            self.notifications.append(line)
            return
        if line.startswith("%"):
            self.notifications.append(line)

    def _wait_until(self, cond, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if self.closed:
                raise TmuxUnavailable(f"no tmux server at {self.socket_path}")
            left = deadline - time.monotonic()
            if left <= 0:
                self._broken()
                raise TmuxUnavailable("tmux did not answer in time")
            ready, _, _ = select.select([self.fileno()], [], [], left)
            if ready:
                self.read_available()

    def command(self, argv: list[str], timeout: float | None = None) -> list[str]:
        if self.closed:
            raise TmuxUnavailable("tmux control connection is closed")
        line = " ".join(quote(a) if i else a for i, a in enumerate(argv)) + "\n"
        pending = _Pending()
        self._pending.append(pending)
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except OSError:
            self._broken()
            raise TmuxUnavailable("tmux control connection is closed") from None
        self._wait_until(lambda: pending.done, self.timeout if timeout is None else timeout)
        if pending.failed:
            raise TmuxError("; ".join(pending.lines) or "tmux command failed")
        return pending.lines


def parse_window_activity(lines: list[str]) -> dict[str, int]:
    out = {}
    for line in lines:
        wid, _, when = line.partition(SEP)
        if wid.startswith("@") and when.isdigit():
            out[wid] = int(when)
    return out


# -- forking fallback -----------------------------------------------------------------------

def run(socket_path: str, argv: list[str], timeout: float = DEFAULT_TIMEOUT, stdin: str | None = None) -> list[str]:
    """One tmux command by fork; `stdin` is what it reads (`source-file -`)."""
    try:
        proc = subprocess.run([tmux_binary(), "-S", socket_path, *argv], capture_output=True, timeout=timeout,
                              **({"input": stdin.encode()} if stdin is not None else {"stdin": subprocess.DEVNULL}))
    except subprocess.TimeoutExpired:
        raise TmuxUnavailable(f"tmux {argv[0]} timed out after {timeout}s") from None
    except FileNotFoundError:
        raise TmuxUnavailable("tmux is not installed") from None
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if "no server running" in err or "error connecting" in err or "No such file" in err:
            raise TmuxUnavailable(err or f"no tmux server at {socket_path}")
        raise TmuxError(err or f"tmux {argv[0]} failed")
    return proc.stdout.decode("utf-8", "replace").splitlines()


class Tmux:
    """tmux commands for one server: over control mode when connected, by fork otherwise."""

    def __init__(self, socket_path: str, timeout: float = DEFAULT_TIMEOUT):
        self.socket_path = socket_path
        self.timeout = timeout
        self.control: ControlClient | None = None

    def connect(self) -> bool:
        """Open the control connection; False when there is no server (or no session) yet."""
        if self.control is not None and not self.control.closed:
            return True
        try:
            self.control = ControlClient(self.socket_path, self.timeout)
            return True
        except (TmuxUnavailable, OSError):
            self.control = None
            return False

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None

    @property
    def connected(self) -> bool:
        return self.control is not None and not self.control.closed

    def cmd(self, *argv: str) -> list[str]:
        if self.connected:
            try:
                return self.control.command(list(argv), self.timeout)
            except TmuxUnavailable:
                self.control = None   # fall through to a fork; the loop reconnects later
        return run(self.socket_path, list(argv), self.timeout)

    # -- queries
    def list_panes(self) -> list[PaneRow]:
        return parse_panes(self.cmd("list-panes", "-a", "-F", PANE_FORMAT))

    def list_clients(self) -> list[ClientRow]:
        return parse_clients(self.cmd("list-clients", "-F", CLIENT_FORMAT))

    # -- actions, always with an exact target and an explicit client
    def switch_client(self, client_tty: str, session_name: str) -> None:
        self.cmd("switch-client", "-c", client_tty, "-t", session_target(session_name))

    def window_activity(self) -> dict[str, int]:
        """Each window's time of last output, in whole seconds, by window id."""
        return parse_window_activity(self.cmd("list-windows", "-a", "-F", "#{window_id}" + SEP + "#{window_activity}"))

    def capture_pane(self, pane_id: str) -> str:
        """The visible screen of a pane as text (no history, no escape sequences)."""
        return "\n".join(self.cmd("capture-pane", "-p", "-t", pane_id))

    def display_message(self, client_tty: str, text: str) -> None:
        # -I-less display-message expands formats: keep a user's '#' literal
        self.cmd("display-message", "-c", client_tty, text.replace("#", "##"))

    def kill_session(self, session_name: str) -> None:
        self.cmd("kill-session", "-t", session_target(session_name))

    def new_session(self, name: str | None, directory: str | None) -> PaneRow:
        argv = ["new-session", "-d", "-P", "-F", PANE_FORMAT]
        if name:
            argv += ["-s", name.replace("#", "##")]   # -s is format-expanded by tmux
        if directory:
            argv += ["-c", directory]
        rows = parse_panes(self.cmd(*argv))
        if not rows:
            raise TmuxError("tmux did not report the new session")
        return rows[0]


def pane_client(socket_path: str, pane_id: str, timeout: float = 1.0) -> tuple[str, str | None] | None:
    """(session id of the pane, tty of the client tmux picks for that session, or None) in one
    fork: tmux picks the most recently active client attached to the session, the one a key
    press in that pane came from. None when tmux does not know the pane or does not answer."""
    fmt = SEP.join(("#{session_id}", "#{session_name}", "#{client_tty}", "#{client_session}"))
    try:
        lines = run(socket_path, ["display-message", "-p", "-t", pane_id, fmt], timeout)
    except TmuxError:
        return None
    parts = lines[0].split(SEP) if lines else []
    if len(parts) != 4 or not parts[0].startswith("$"):
        return None
    session_id, session_name, tty, client_session = parts
    # with no client on the pane's session tmux names one from another session: not ours
    return session_id, (tty if tty and client_session == session_name else None)


# -- opensessions inside the user's tmux: marks, hooks, bindings -----------------------------

SIDEBAR_TITLE = "opensessions-sidebar"
HOOK_INDEX = 5351                 # our slot in each hook array: the mark uninstall looks for
KEY_TABLE = "opensessions"
NOTE = "opensessions"             # every binding we add carries this note (-N)
POKE_BUFFER = "opensessions-poke"
WIDTH_HOOKS = ("window-layout-changed", "window-resized")


def _sidebar_pane_format() -> str:
    return "#{P:#{?#{==:#{pane_title}," + SIDEBAR_TITLE + "},#{pane_id},}}"


def width_hook_command(width: int) -> str:
    """A tmux-only hook (no process forked) that puts the window's sidebar back to `width`
    whenever anything changes the layout: splits, exits, manual resizes, terminal resizes."""
    sidebar = _sidebar_pane_format()
    has = "#{!=:" + sidebar + ",}"
    wrong = "#{!=:#{P:#{?#{==:#{pane_title}," + SIDEBAR_TITLE + "},#{pane_width},}}," + str(width) + "}"
    return ("run-shell -C \"if-shell -F '#{&&:" + has + "," + wrong + "}' 'resize-pane -t " + sidebar
            + " -x " + str(width) + "'\"")


def poke_hook_command() -> str:
    """pane-exited fires in any session, but control clients hear of layout changes only in the
    session they are attached to; a buffer change is announced to every control client, so the
    collector looks again at once (lonely sidebars) — still without forking anything."""
    return f"set-buffer -b {POKE_BUFFER} x"
