"""Driving `opensessions sidebar` in real tmux panes: open one beside a session's pane, read its
screen with capture-pane, find which row is marked current or highlighted, and the services'
pids to kill."""
from __future__ import annotations

import os
import re

import orjson
import pytest

from bench.harness import BIN, wait_for

ROW = re.compile(r"^(.)(.)\s*(\d+) (\S+)")
HEADER = re.compile(r"\d+ sessions?\b|\d+s\s*$")


@pytest.fixture
def sidebars(trio):
    """The five-session trio, with 256 colours in new panes (as most users have it)."""
    trio.tmux("set-option", "-g", "default-terminal", "tmux-256color")
    yield trio
    err = errors(trio)
    assert "Traceback" not in err, err


def errors(world) -> str:
    path = os.path.join(world.root, "sidebar-err")
    return open(path).read() if os.path.exists(path) else ""


def open_sidebar(world, session: str, *args: str, width: int = 32, window: str = "") -> str:
    """A sidebar in a new pane at the right of a window of the session (its current one unless
    named); its pane id once it has painted its header."""
    cmd = f"{BIN} sidebar {' '.join(args)} 2>>{world.root}/sidebar-err"
    pane = world.tmux("split-window", "-d", "-h", "-l", str(width), "-t", f"={session}:{window}", "-P", "-F",
                      "#{pane_id}", cmd).strip()
    wait_for(lambda: HEADER.search(screen(world, pane).splitlines()[0]), what=f"sidebar {pane} to paint")
    return pane


def screen(world, pane: str, escapes: bool = False) -> str:
    return world.tmux("capture-pane", "-p", *(("-e",) if escapes else ()), "-t", pane)


def rows(text: str) -> list[dict]:
    out = []
    for y, line in enumerate(text.splitlines()):
        m = ROW.match(line)
        if m and m.group(1) in " ›" and m.group(2) in " ▶":
            out.append({"y": y, "cursor": m.group(1) == "›", "current": m.group(2) == "▶",
                        "index": int(m.group(3)), "name": m.group(4)})
    return out


def current(world, pane: str) -> str | None:
    marked = [r["name"] for r in rows(screen(world, pane)) if r["current"]]
    return marked[0] if len(marked) == 1 else None


def highlighted(world, pane: str) -> str | None:
    marked = [r["name"] for r in rows(screen(world, pane)) if r["cursor"]]
    return marked[0] if len(marked) == 1 else None


def listed(world, pane: str) -> list[str]:
    return [r["name"] for r in rows(screen(world, pane))]


def wait_current(world, pane: str, name: str) -> None:
    wait_for(lambda: current(world, pane) == name, what=f"{pane} to mark {name} current")


def wait_highlight(world, pane: str, name: str) -> None:
    wait_for(lambda: highlighted(world, pane) == name, what=f"{pane} to highlight {name}")


def wait_text(world, pane: str, text: str, present: bool = True, timeout: float = 8.0) -> None:
    wait_for(lambda: (text in screen(world, pane)) == present, timeout=timeout,
             what=f"{text!r} to {'appear in' if present else 'leave'} {pane}")


def keys(world, pane: str, *names: str) -> None:
    world.tmux("send-keys", "-t", pane, *names)


def pane_alive(world, pane: str) -> bool:
    return pane in world.tmux("list-panes", "-a", "-F", "#{pane_id}").split()


def geometry(world, pane: str) -> tuple[int, int]:
    left, top = world.tmux("display-message", "-p", "-t", pane, "#{pane_left} #{pane_top}").split()
    return int(left), int(top)


def click(world, client, pane: str, row: int, col: int = 6) -> None:
    """A left click on the pane's cell as the terminal reports it: SGR press and release."""
    left, top = geometry(world, pane)
    x, y = left + col + 1, top + row + 1
    client.write(b"\x1b[<0;%d;%dM\x1b[<0;%d;%dm" % (x, y, x, y))


def service_pids(world) -> dict:
    status = orjson.loads(world.ok("status", "--json"))
    return {name: info["pid"] for name, info in status["services"].items()}


def header_style(world, pane: str) -> str:
    """The first line with its colour escapes: what a theme looks like, comparable across panes."""
    return screen(world, pane, escapes=True).splitlines()[0]
