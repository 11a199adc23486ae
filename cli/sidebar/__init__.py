"""The sidebar: a small curses client of the publisher, one process per tmux window.

Pure parts (text, themes, render, view, keys, feed's core) are importable without curses or
zmq, so they are unit-tested directly; app.py is the thin loop that wires them to the terminal
and the sockets.
"""
