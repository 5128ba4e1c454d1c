"""Fixtures of the node tests: a node store on a real SQLite file, the node app behind Litestar's test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from edge_node.app import create_app
from edge_node.catalog import install_catalog
from edge_node.settings import Settings
from edge_node.store import Store, set_meta
from tests.support.builders import CATALOG, node_dir


@pytest.fixture
def store(tmp_path: Path):
    store = Store(tmp_path / "node.sqlite3")
    with store.write() as conn:
        set_meta(conn, "node_id", "shangcun")
    install_catalog(store, CATALOG)
    yield store
    store.close()


@pytest.fixture
def client(tmp_path: Path):
    data = node_dir(tmp_path / "node", catalog=CATALOG, users=(("agent", "代办员 王秀兰", "pw"),))
    with TestClient(create_app(Settings(data_dir=data))) as client:
        yield client
