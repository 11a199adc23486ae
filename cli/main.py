"""`opensessions`: the command line. Each command is one request to a service, then exit.

Exit codes: 0 done, 1 the operation failed, 2 bad usage or input, 3 opensessions is not running.
Imports are kept lazy so a `switch` pays only for what it uses.
"""
from __future__ import annotations

import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3


class UsageError(Exception):
    pass


def finite(text: str) -> float:
    import math
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


finite.__name__ = "number"   # argparse names the type in its error: "invalid number value"


def build_parser():
    import argparse   # ~10 ms with what it imports: only for commands off the fast path

    class Parser(argparse.ArgumentParser):
        def error(self, message: str):   # one line, exit 2
            raise UsageError(f"{message} (see `{self.prog} --help`)")

    p = Parser(prog="opensessions", description="tmux sessions and the AI coding agents in them")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-L", dest="socket_name", metavar="NAME", help="tmux server socket name (like tmux -L)")
    where.add_argument("-S", dest="socket_path", metavar="PATH", help="tmux server socket path (like tmux -S)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    sub.add_parser("up", help="start the services for this tmux server")
    sub.add_parser("down", help="stop the services and remove their sockets")
    s = sub.add_parser("status", help="show the services' state")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("logs", help="show the services' logs")
    s.add_argument("service", nargs="?", choices=["state", "publisher", "collector", "supervisord"])
    s.add_argument("-n", "--lines", type=int, default=50)
    s = sub.add_parser("ls", help="list sessions in display order")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("switch", help="switch a client to a session: N, NAME, next, prev or waiting")
    s.add_argument("target")
    s.add_argument("--client", metavar="TTY")
    s = sub.add_parser("reorder", help="move a session up or down")
    s.add_argument("name")
    s.add_argument("direction", choices=["up", "down"])
    s = sub.add_parser("hide", help="hide a session from the list")
    s.add_argument("name")
    s = sub.add_parser("unhide", help="show hidden sessions again")
    s.add_argument("--all", action="store_true", required=True)
    s = sub.add_parser("kill", help="kill a session (clients in it move to its neighbour first)")
    s.add_argument("name")
    s.add_argument("--client", metavar="TTY")
    s = sub.add_parser("new", help="create a session")
    s.add_argument("name", nargs="?")
    s.add_argument("-c", "--dir", metavar="DIR")
    s.add_argument("--switch", action="store_true", help="switch the client to it")
    s.add_argument("--client", metavar="TTY")
    agents = ["claude-code", "codex", "opencode", "amp", "pi", "kilo", "gemini", "aider"]
    statuses = ["idle", "running", "tool-running", "waiting", "done", "error", "interrupted", "stale"]
    tones = ["neutral", "info", "success", "warn", "error"]
    s = sub.add_parser("emit", help="report an agent's state (for scripts and agents)")
    s.add_argument("--agent", required=True, choices=agents)
    s.add_argument("--status", required=True, choices=statuses)
    s.add_argument("--thread-id")
    s.add_argument("--thread-name")
    s.add_argument("--pane", metavar="%N", help="default: the calling pane")
    s.add_argument("--session", metavar="NAME")
    s.add_argument("--dir", metavar="PATH")
    s = sub.add_parser("hook", help="run by an agent's hooks: reads its JSON, always exits 0")
    s.add_argument("agent", choices=["claude-code", "codex", "gemini"])
    s.add_argument("payload", nargs="?", help="the JSON, when the agent passes it as an argument (Codex notify)")
    s = sub.add_parser("hooks", help="install or uninstall our hooks in an agent's settings")
    s.add_argument("action", choices=["install", "uninstall"])
    s.add_argument("agent", choices=["claude-code", "codex", "gemini"])
    s.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    s = sub.add_parser("set-status", help="set (or --clear) a session's status pill")
    s.add_argument("session")
    s.add_argument("text", nargs="?")
    s.add_argument("--clear", action="store_true")
    s.add_argument("--tone", choices=tones)
    s = sub.add_parser("set-progress", help="set a session's progress bar")
    s.add_argument("session")
    s.add_argument("--current", type=finite)
    s.add_argument("--total", type=finite)
    s.add_argument("--percent", type=finite)
    s.add_argument("--label")
    s.add_argument("--clear", action="store_true")
    s = sub.add_parser("log", help="add a line to a session's log")
    s.add_argument("session")
    s.add_argument("message")
    s.add_argument("--tone", choices=tones)
    s.add_argument("--source")
    s = sub.add_parser("clear-log", help="empty a session's log")
    s.add_argument("session")
    s = sub.add_parser("notify", help="log a message and show it on every attached client")
    s.add_argument("session")
    s.add_argument("message")
    s.add_argument("--tone", choices=tones)
    s = sub.add_parser("tmux", help="install or uninstall opensessions in this tmux server")
    s.add_argument("action", choices=["install", "uninstall"])
    s = sub.add_parser("sidebars", help="sidebar panes in every window: on, off, toggle, focus")
    s.add_argument("action", choices=["on", "off", "toggle", "focus"])
    s.add_argument("--client", metavar="TTY")
    s = sub.add_parser("sidebar", help="run the sidebar in this pane")
    s.add_argument("--client", metavar="TTY", help="the client whose session is marked current")
    return p


def _runtime(args):
    from services.paths import Runtime, tmux_socket_path
    return Runtime.for_socket(tmux_socket_path(args.socket_name, args.socket_path))


def _calling_pane(rt) -> str | None:
    """$TMUX_PANE counts only when this shell runs in the tmux server we are talking to."""
    tmux_env, pane = os.environ.get("TMUX"), os.environ.get("TMUX_PANE")
    if tmux_env and pane and tmux_env.split(",", 1)[0] == rt.socket_path:
        return pane
    return None


def _ask_state(rt, mtype: str, **fields) -> dict:
    from cli.client import request
    from services import protocol as P
    reply = request(rt.state_endpoint, P.encode(mtype, **fields))
    if not reply["ok"]:
        raise CommandFailed(reply["error"]["code"], reply["error"]["message"])
    return reply.get("result") or {}


class CommandFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def current_snapshot(rt) -> dict:
    """The snapshot the sidebars render, with its sequence number, from the publisher."""
    from cli.client import request
    from services import protocol as P
    msg = request(rt.sync_endpoint, P.encode("get_snapshot"), allowed=P.PUBLISHED)
    if msg.get("type") != "snapshot":
        raise CommandFailed(P.INTERNAL, "the publisher answered with something other than a snapshot")
    snapshot = msg["snapshot"]
    if snapshot is None:   # the publisher just started: state has the model
        snapshot, seq = _ask_state(rt, "ls"), msg["seq"]
    else:
        seq = msg["seq"]
    return {"seq": seq, **snapshot}


def cmd_ls(rt, args) -> int:
    snap = current_snapshot(rt)
    if args.json:
        import orjson
        sys.stdout.write(orjson.dumps(snap, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    current = {c["session"] for c in snap.get("clients", [])}
    for s in snap["sessions"]:
        mark = "*" if s["name"] in current else " "
        agents = ",".join(f"{a['agent']}:{a['status']}" + ("" if a["liveness"] == "alive" else f"({a['liveness']})")
                          for a in s["agents"])
        branch = f" [{s['branch']}{'*' if s['dirty'] else ''}]" if s.get("branch") else ""
        ports = " :" + ",".join(str(p) for p in s["ports"]) if s["ports"] else ""
        hidden = " (hidden)" if s.get("hidden") else ""
        print(f"{mark}{s['index']:>3}  {s['name']}{hidden}{branch}{ports}  {agents}".rstrip())
    if not snap["sessions"]:
        print("no sessions" + ("" if snap.get("tmux", {}).get("connected", True)
                               else f" (tmux: {snap['tmux'].get('error')})"))
    return EXIT_OK


def cmd_status(rt, args) -> int:
    from cli import supervise
    info = supervise.process_info(rt)
    running = info is not None
    state = None
    if running:
        try:
            state = _ask_state(rt, "stats")
        except Exception:
            state = None
    doc = {"running": running, "tmux_socket": rt.socket_path, "runtime_dir": rt.dir,
           "services": info or {},
           "tmux": None if state is None else {"connected": state["tmux_connected"], "error": state["tmux_error"]}}
    if args.json:
        import orjson
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif not running:
        print(f"opensessions is not running for tmux server {rt.socket_path}")
    else:
        print(f"tmux server {rt.socket_path}: "
              + ("unknown" if state is None else "connected" if state["tmux_connected"]
                 else f"not reachable ({state['tmux_error']})"))
        for name, i in info.items():
            print(f"  {name:<10} {i['state']:<9} pid {i['pid'] or '-'}")
    return EXIT_OK if running else EXIT_NOT_RUNNING


def cmd_logs(rt, args) -> int:
    from cli import supervise
    files = supervise.log_files(rt)
    names = [args.service] if args.service else list(files)
    shown = False
    for name in names:
        lines = supervise.tail(files[name], args.lines)
        if not lines:
            continue
        shown = True
        if len(names) > 1:
            print(f"==> {name} <==")
        print("\n".join(lines))
    if not shown:
        print(f"no logs yet in {rt.log_dir}", file=sys.stderr)
    return EXIT_OK


def _now() -> float:
    import time
    return time.time()


def _num(value: float | None):
    """Whole numbers travel as integers (a progress of 3/10, not 3.0/10.0)."""
    return int(value) if value is not None and value == int(value) else value


def run_command(args) -> int:
    if args.command == "hook":
        from cli.hook import run as run_hook
        return run_hook(args.agent, args.payload)
    rt = _runtime(args)
    pane = _calling_pane(rt)
    c = args.command
    if c == "up":
        from cli import supervise
        outcome = supervise.up(rt)
        print(f"opensessions {outcome} for tmux server {rt.socket_path}")
        return EXIT_OK
    if c == "down":
        from cli import supervise
        was = supervise.down(rt)
        print("opensessions stopped" if was else "opensessions was not running")
        return EXIT_OK
    if c == "status":
        return cmd_status(rt, args)
    if c == "logs":
        return cmd_logs(rt, args)
    if c == "ls":
        return cmd_ls(rt, args)
    if c == "switch":
        r = _ask_state(rt, "switch", target=args.target, client=args.client, pane=pane)
        return EXIT_OK if r else EXIT_FAILED
    if c == "reorder":
        _ask_state(rt, "reorder", name=args.name, direction=args.direction)
        return EXIT_OK
    if c == "hide":
        _ask_state(rt, "hide", name=args.name)
        return EXIT_OK
    if c == "unhide":
        _ask_state(rt, "unhide_all")
        return EXIT_OK
    if c == "kill":
        _ask_state(rt, "kill", name=args.name, client=args.client, pane=pane)
        return EXIT_OK
    if c == "new":
        r = _ask_state(rt, "new", name=args.name, dir=os.path.abspath(args.dir) if args.dir else None,
                       switch=args.switch or None, client=args.client, pane=pane)
        print(r["name"])
        return EXIT_OK
    if c == "emit":
        _ask_state(rt, "event", agent=args.agent, source="emit", status=args.status, thread_id=args.thread_id,
                   thread_name=args.thread_name, name_rank=3 if args.thread_name else None,
                   pane=args.pane or pane, session=args.session,
                   dir=os.path.abspath(args.dir) if args.dir else None, at=_now())
        return EXIT_OK
    if c == "set-status":
        if args.clear == (args.text is not None):
            raise UsageError("set-status needs TEXT or --clear")
        _ask_state(rt, "set_status", session=args.session, text=args.text, tone=args.tone)
        return EXIT_OK
    if c == "set-progress":
        if args.clear and any(v is not None for v in (args.current, args.total, args.percent, args.label)):
            raise UsageError("set-progress --clear takes no other option")
        if not args.clear and args.percent is None and (args.current is None or args.total is None):
            raise UsageError("set-progress needs --current N --total M, --percent P or --clear")
        _ask_state(rt, "set_progress", session=args.session, clear=args.clear or None, current=_num(args.current),
                   total=_num(args.total), percent=_num(args.percent), label=args.label)
        return EXIT_OK
    if c == "log":
        _ask_state(rt, "log", session=args.session, message=args.message, tone=args.tone, source=args.source)
        return EXIT_OK
    if c == "clear-log":
        _ask_state(rt, "clear_log", session=args.session)
        return EXIT_OK
    if c == "notify":
        _ask_state(rt, "notify", session=args.session, message=args.message, tone=args.tone)
        return EXIT_OK
    if c == "hooks":
        from cli import hooks_config
        from services.paths import opensessions_binary
        try:
            path, diff, backup = hooks_config.apply(args.agent, args.action, opensessions_binary(), args.dry_run)
        except hooks_config.HooksError as e:
            raise CommandFailed("hooks", str(e)) from None
        if not diff:
            print(f"{path}: already {'installed' if args.action == 'install' else 'without opensessions hooks'}")
            return EXIT_OK
        sys.stdout.write(diff)
        if args.dry_run:
            print(f"(dry run: {path} not changed)")
        else:
            print(f"{path}: {args.action}ed" + (f" (backup: {backup})" if backup else ""))
        return EXIT_OK
    if c == "tmux":
        from cli import tmux_plugin
        from services.tmux import TmuxError

        def ask(mtype, **fields):
            return _ask_state(rt, mtype, **fields)
        try:
            if args.action == "install":
                key = tmux_plugin.install(rt, ask)
                print(f"opensessions installed in tmux server {rt.socket_path}: prefix {key} then "
                      f"s (sidebar), t (toggle), 1-9 (switch), e (even layout)")
            else:
                removed = tmux_plugin.uninstall(rt, ask)
                from cli import supervise
                supervise.down(rt)
                print("opensessions uninstalled: " + (", ".join(removed) if removed else "nothing was left to remove"))
        except TmuxError as e:
            raise CommandFailed("tmux", f"tmux: {e}") from None
        return EXIT_OK
    if c == "sidebars":
        r = _ask_state(rt, "sidebars", action=args.action, client=args.client, pane=pane)
        print(f"sidebars {r['sidebars']}")
        return EXIT_OK
    if c == "sidebar":
        from cli.sidebar.app import run as run_sidebar
        return run_sidebar(rt, args)
    raise UsageError(f"unknown command {c!r}")


HOOK_AGENTS = ("claude-code", "codex", "gemini")


class FastArgs:
    """What argparse would give for the commands parsed on the fast path."""

    def __init__(self, command: str, socket_name: str | None, socket_path: str | None, **fields) -> None:
        self.command, self.socket_name, self.socket_path = command, socket_name, socket_path
        self.__dict__.update(fields)


def fast_args(argv: list[str]) -> FastArgs | None:
    """`[-L NAME|-S PATH] switch TARGET [--client TTY]` and `hook AGENT [PAYLOAD]`, parsed
    without argparse: they run on every key press and every agent event, and argparse with its
    imports and ~25 sub-parsers costs 10–30 ms. Anything else, or anything unusual (an option
    we do not expect, a value starting with "-", --help), returns None and argparse decides."""
    socket_name = socket_path = None
    words = list(argv)
    if len(words) >= 2 and words[0] in ("-L", "-S") and not words[1].startswith("-"):
        if words[0] == "-L":
            socket_name = words[1]
        else:
            socket_path = words[1]
        words = words[2:]
    if not words or words.count("--client") > 1 or any(w.startswith("-") and w != "--client" for w in words):
        return None
    command, rest = words[0], words[1:]
    if command == "hook" and socket_name is None and socket_path is None \
            and 1 <= len(rest) <= 2 and rest[0] in HOOK_AGENTS:
        return FastArgs("hook", None, None, agent=rest[0], payload=rest[1] if len(rest) == 2 else None)
    if command == "switch":
        client = None
        if len(rest) == 3 and rest[0] == "--client":
            client, rest = rest[1], rest[2:]
        elif len(rest) == 3 and rest[1] == "--client":
            client, rest = rest[2], rest[:1]
        if len(rest) == 1 and rest[0] != "--client":
            return FastArgs("switch", socket_name, socket_path, target=rest[0], client=client)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = fast_args(argv) or build_parser().parse_args(argv)
    except UsageError as e:
        print(f"opensessions: {e}", file=sys.stderr)
        return EXIT_USAGE
    from cli.client import NotRunning
    from services import protocol as P
    from services.paths import PathError
    try:
        return run_command(args)
    except UsageError as e:
        print(f"opensessions: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NotRunning as e:
        print(f"opensessions: {e}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    except CommandFailed as e:
        print(f"opensessions: {e}", file=sys.stderr)
        return EXIT_USAGE if e.code in P.USAGE_ERRORS else EXIT_FAILED
    except P.ProtocolError as e:
        print(f"opensessions: {e.message}", file=sys.stderr)
        return EXIT_USAGE if e.code in P.USAGE_ERRORS else EXIT_FAILED
    except PathError as e:
        print(f"opensessions: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        from cli.supervise import SuperviseError
        if isinstance(e, SuperviseError):
            print(f"opensessions: {e}", file=sys.stderr)
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
