"""One `yiwang node serve` per data directory (new-user pass: a second one, typed while the service
ran, started and connected to NATS as the same point)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from provisioning.federation import free_port
from tests.support.builders import node_dir
from tests.support.polling import eventually


def _serve(data: Path, port: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "yiwang", "node", "serve", "--dir", str(data), "--port", str(port)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_second_node_serve_on_the_same_directory_is_refused_and_the_first_goes_on(tmp_path: Path):
    data, first_port, second_port = node_dir(tmp_path / "node"), free_port(), free_port()
    first = _serve(data, first_port)
    try:
        eventually(lambda: _answers(first_port), timeout=60, what="the first node to serve")
        second = _serve(data, second_port)
        _, said = second.communicate(timeout=60)
        assert second.returncode == 1 and "already runs on" in said, said
        assert _answers(first_port) and not _answers(second_port)
        first.terminate()
        first.wait(30)
        again = _serve(data, second_port)  # once the first has stopped, the next starts
        try:
            eventually(lambda: _answers(second_port), timeout=60, what="the node to serve again")
        finally:
            again.terminate()
            again.wait(30)
    finally:
        first.kill()
        first.wait(30)
