"""The collector's cheaper probes: listening sockets from /proc/net/tcp (parsed, then against
the real kernel), the order screens are read in, and the git dir lookup's cache."""
from __future__ import annotations

import os
import socket
import struct
import subprocess

import pytest

from services.collector import probes
from services.collector.probes import (NLMSG_DONE, NLMSG_ERROR, SOCK_DIAG_BY_FAMILY, DiagError, GitCache,
                                       parse_diag, parse_listening)
from services.collector.screen import quiet_panes, screens_to_read

HEADER = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def row(local: str, state: str, inode: int) -> bytes:
    return (f"   0: {local} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1 "
            f"0000000000000000 100 0 0 10 0\n").encode()


def test_parse_listening_keeps_listening_sockets_only():
    text = HEADER + row("0100007F:1F90", "0A", 111) + row("0100007F:1F91", "01", 222) + \
        row("00000000000000000000000000000000:0050", "0A", 333) + row("0100007F:1F92", "0A", 0)
    assert parse_listening(text) == {111: 8080, 333: 80}


@pytest.mark.parametrize("text", [b"", HEADER, HEADER + b"garbage\n", HEADER + b"   0: x y 0A a b c d e f\n",
                                  HEADER + row("0100007F", "0A", 5)])
def test_parse_listening_skips_what_it_cannot_read(text):
    assert parse_listening(text) == {}


def nlmsg(kind: int, body: bytes) -> bytes:
    msg = struct.pack("=IHHII", 16 + len(body), kind, 2, 1, 0) + body
    return msg + b"\0" * ((-len(msg)) % 4)


def diag(port: int, inode: int, family: int = socket.AF_INET) -> bytes:
    sockid = struct.pack(">HH", port, 0) + bytes(32) + bytes(4) + bytes(8)
    return nlmsg(SOCK_DIAG_BY_FAMILY, struct.pack("=BBBB", family, 10, 0, 0) + sockid
                 + struct.pack("=IIIII", 0, 0, 128, 1000, inode))


def test_parse_diag_reads_ports_and_inodes_until_done():
    assert parse_diag(diag(8080, 111) + diag(443, 222, socket.AF_INET6)) == ({111: 8080, 222: 443}, False)
    assert parse_diag(diag(8080, 111) + nlmsg(NLMSG_DONE, struct.pack("=i", 0))) == ({111: 8080}, True)
    assert parse_diag(diag(8080, 0)) == ({}, False)                  # no inode: nothing to tie to a process
    assert parse_diag(b"") == ({}, False)
    assert parse_diag(nlmsg(99, b"x" * 8)) == ({}, False)               # not ours: skipped


@pytest.mark.parametrize("buf", [nlmsg(NLMSG_ERROR, struct.pack("=i", -1) + bytes(16)), diag(80, 1)[:40],
                                 struct.pack("=IHHII", 8, SOCK_DIAG_BY_FAMILY, 0, 0, 0)])
def test_parse_diag_refuses_errors_and_truncation(buf):
    with pytest.raises(DiagError):
        parse_diag(buf)


def test_sock_diag_and_proc_net_agree_on_real_listeners():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        by_diag = probes._diag_listening(socket.AF_INET)
        by_proc = probes.proc_net_listening()
    assert port in by_diag.values()
    assert {i: p for i, p in by_diag.items() if p == port} == {i: p for i, p in by_proc.items() if p == port}


def test_listening_sockets_and_socket_inodes_find_a_real_listener():
    with socket.socket() as listener, socket.socket(socket.AF_INET6) as other:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        other.bind(("::1", 0))                       # bound, not listening: not a port of ours
        port = listener.getsockname()[1]
        listening = probes.listening_sockets()
        mine = probes.socket_inodes(os.getpid())
        assert [listening[i] for i in mine if i in listening] == [port]
    assert all(listening_port != port for i, listening_port in probes.listening_sockets().items() if i in mine)


def test_socket_inodes_of_a_gone_process_is_nothing():
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert probes.socket_inodes(gone.pid) == set()


# -- screens ----------------------------------------------------------------------------------

def cand(pane: str, agent: object = "claude-code") -> dict:
    return {"pane": pane, "agent": agent, "status": "running"}


def test_every_candidate_gets_its_turn():
    candidates = [cand(f"%{i}") for i in range(50)]
    live = {c["pane"] for c in candidates}
    captured: dict[str, float] = {}
    read_when: dict[str, list[float]] = {}
    for now in range(0, 20, 2):
        for c in screens_to_read(candidates, live, captured, float(now), 2.0, 20):
            captured[c["pane"]] = float(now)
            read_when.setdefault(c["pane"], []).append(float(now))
    assert set(read_when) == live                                 # not only the first 20
    assert max(map(len, read_when.values())) - min(map(len, read_when.values())) <= 2


def test_screens_to_read_filters_and_orders():
    candidates = [cand("%1"), cand("%2"), cand("%3"), cand("%gone"), cand("%4", agent=None), "junk", cand("%5")]
    live = {"%1", "%2", "%3", "%4", "%5"}
    captured = {"%1": 9.0, "%2": 5.0, "%5": 9.5}
    assert [c["pane"] for c in screens_to_read(candidates, live, captured, 10.0, 2.0, 10)] == ["%3", "%2"]
    assert [c["pane"] for c in screens_to_read(candidates, live, captured, 12.0, 2.0, 10)] == ["%3", "%2", "%1", "%5"]
    assert [c["pane"] for c in screens_to_read(candidates, live, captured, 12.0, 2.0, 1)] == ["%3"]
    assert screens_to_read([], live, captured, 12.0, 2.0, 10) == []


# -- git --------------------------------------------------------------------------------------

def test_git_dirs_are_looked_for_again_only_after_find_ttl(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    cache = GitCache(ttl=10.0, find_ttl=30.0)
    assert cache.info(str(repo), 0.0) is None
    subprocess.run(["git", "init", "-q", "-b", "feat/x", str(repo)], check=True)
    assert cache.info(str(repo), 29.0) is None                    # not looked for again yet
    assert cache.info(str(repo), 30.0)["branch"] == "feat/x"
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
    assert cache.info(str(repo), 31.0)["branch"] == "other"       # HEAD itself is read every time
    cache.forget_except(set())
    assert cache._found == {} and cache._cache == {}


def test_a_quiet_pane_waits_for_reread():
    candidates = [{"pane": p, "agent": "codex"} for p in ("%1", "%2")]
    captured = {"%1": 0.0, "%2": 0.0}
    assert [c["pane"] for c in screens_to_read(candidates, {"%1", "%2"}, captured, 5.0, 2.0, 10, {"%1"}, 30.0)] == ["%2"]
    assert [c["pane"] for c in screens_to_read(candidates, {"%1", "%2"}, captured, 31.0, 2.0, 10, {"%1"}, 30.0)] == \
        ["%1", "%2"]


def test_quiet_panes_counts_output_in_the_second_of_a_read_as_after_it():
    read_at = {"%1": 100.7, "%2": 100.7, "%3": 100.7, "%4": 100.7}
    window_of = {"%1": "@1", "%2": "@2", "%3": "@3"}          # %4: window unknown
    activity = {"@1": 99, "@2": 100, "@3": 101}
    assert quiet_panes(read_at, window_of, activity) == {"%1"}
    from services.tmux import SEP, parse_window_activity
    assert parse_window_activity([f"@1{SEP}17", f"@2{SEP}", "junk", f"x{SEP}5"]) == {"@1": 17}
