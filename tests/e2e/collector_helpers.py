"""The collector alone, in the test's own process, against real things: a private tmux server,
the real /proc, real files in a private HOME, and real sockets (a PULL socket stands in for
state). No trio, no supervisord: the test drives the loop and reads what it pushes."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import zmq

from bench.harness import World, wait_for
from services import protocol as P
from services.collector.loop import CollectorService
from services.paths import Runtime, ensure_private_dir

AGENT_STUB = """#!/bin/sh
# a stand-in agent process: named like claude, it waits for input and costs nothing
while read -r line; do :; done
"""


class Harness:
    def __init__(self, world: World, **every: float):
        self.world = world
        self.rt = Runtime.for_socket(world.socket, world.env)
        ensure_private_dir(self.rt.dir)
        self.ctx = zmq.Context.instance()
        self.pull = self.ctx.socket(zmq.PULL)
        self.pull.bind(self.rt.observe_endpoint)
        self.svc = CollectorService(self.rt, **every)
        self.received: list[dict] = []

    def stub(self, name: str = "claude") -> str:
        path = os.path.join(self.world.bin, name)
        with open(path, "w") as f:
            f.write(AGENT_STUB)
        os.chmod(path, 0o755)
        return path

    def drain(self) -> list[dict]:
        """Every observation pushed since the last drain, decoded."""
        got = []
        while True:
            try:
                frame = self.pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            got.append(P.decode(frame, P.OBSERVATIONS, P.MAX_SNAPSHOT_BYTES))
        self.received += got
        return got

    def step(self, timeout: float = 0.05) -> None:
        self.svc.step(timeout)

    def close(self) -> None:
        self.svc.close()
        self.pull.close(0)
        subprocess.run(["tmux", "-S", self.world.socket, "kill-server"], capture_output=True, timeout=10)
        for c in self.world.clients:
            c.close()
        shutil.rmtree(self.world.root, ignore_errors=True)


@pytest.fixture
def harness_factory():
    made: list[Harness] = []

    def make(**every: float) -> Harness:
        h = Harness(World(), **every)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


__all__ = ["Harness", "harness_factory", "wait_for"]
