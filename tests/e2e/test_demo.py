"""`yiwang demo` as a newcomer runs it: the whole federation from one command. Its NATS is cut and
restored from the demo's own terminal, a node is killed and comes back by itself, and every
application taken offline reaches the county afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from provisioning.federation import free_port
from tests.support.api import Api
from tests.support.builders import checked, household, resident_id
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


class Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.nats_port, self.base = free_port(), free_port()
        while any(self._taken(self.base + i) for i in range(1, 4)):
            self.base = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "yiwang", "demo", "--dir", str(root), "--nats-port", str(self.nats_port), "--base-port", str(self.base)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def _taken(port: int) -> bool:
        import socket

        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        # the federation's processes run in sessions of their own: a demo that was killed (or
        # failed to stop them) must not leave them running into the next tests
        subprocess.run(["pkill", "-KILL", "-f", "--", str(self.root)], check=False)


def pid_of(root: Path, needle: str) -> int:
    out = subprocess.run(["pgrep", "-f", "--", needle], capture_output=True, text=True).stdout.split()
    return int(out[0])


def test_the_demo_survives_its_nats_and_restarts_what_died(tmp_path: Path):
    root = tmp_path / "demo"
    demo = Demo(root)
    try:
        eventually(lambda: demo.said("local federation is running") or demo.proc.poll() is not None, timeout=120, what="the demo to start")
        assert demo.proc.poll() is None, "\n".join(demo.lines)
        shangcun = f"http://127.0.0.1:{demo.base + 2}"
        agent = Api(shangcun, "agent", "demo123")
        operator = Api(f"http://127.0.0.1:{demo.base}", "operator", "demo123")
        eventually(lambda: agent.get("/api/status").json()["online"], what="the village online")

        demo.type("nats")  # the county's network goes down
        eventually(lambda: demo.said("NATS stopped"), what="the demo to stop NATS")
        eventually(lambda: not agent.get("/api/status").json()["online"], timeout=40, what="the village to notice")
        taken = []
        for n in range(5):
            response = agent.post(
                "/api/applications",
                json={
                    "item_code": "MZ-001",
                    "materials_checked": checked("MZ-001"),
                    "applicant_name": f"离线{n}",
                    "applicant_id_number": resident_id(900 + n),
                    "form": household(900 + n, f"离线{n}"),
                },
            )
            assert response.status_code == 201, response.text
            taken.append(response.json()["receipt_no"])
        time.sleep(3)
        assert demo.proc.poll() is None  # nothing stopped with NATS
        assert operator.get("/api/health").status_code == 200

        os.kill(pid_of(root, f"--dir {root}/nodes/xiacun"), signal.SIGKILL)  # a node dies
        eventually(
            lambda: demo.said("xiacun stopped unexpectedly") and demo.said("xiacun is running again"), timeout=60, what="the demo to restart the node"
        )

        demo.type("nats")  # the network is back
        eventually(lambda: demo.said("NATS started again"), what="the demo to start NATS")
        eventually(
            lambda: {a["receipt_no"] for a in operator.get("/api/applications").json()} >= set(taken),
            timeout=60,
            what="the offline applications at the hub",
        )
        assert demo.proc.poll() is None
    finally:
        demo.stop()
    assert demo.said("stopped. Data kept in"), "\n".join(demo.lines[-20:])
