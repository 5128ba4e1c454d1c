"""Both apps, each behind a test client: the node enrolled with one agent, the hub initialised
with its operator and demo clerks."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from tests.support.builders import node_dir


@pytest.fixture
def node_client(tmp_path: Path):
    from edge_node.app import create_app
    from edge_node.settings import Settings

    data = node_dir(tmp_path / "node", users=(("agent", "代办员 王秀兰", "pw"),))
    with TestClient(create_app(Settings(data_dir=data))) as client:
        yield client


@pytest.fixture
def hub_client(tmp_path: Path):
    from central.app import create_app
    from central.cli import initialise
    from central.settings import Settings

    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9")
    initialise(settings, operator_password="op-pass", demo_password="pw")
    with TestClient(create_app(settings)) as client:
        yield client
