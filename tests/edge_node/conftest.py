"""Fixtures of the node tests: a node store on a real SQLite file, the node app behind Litestar's test client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from litestar.testing import TestClient
from nacl.signing import SigningKey

from edge_node.app import create_app
from edge_node.auth import add_user
from edge_node.catalog import install_catalog
from edge_node.settings import Settings
from edge_node.store import Store, set_meta
from provisioning.keys import ensure_node_key
from sync_protocol import verify_key_to_text
from tests.support.builders import CATALOG


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
    data = tmp_path / "node"
    ensure_node_key(data)
    (data / "node.json").write_text(
        json.dumps(
            {
                "node_id": "shangcun",
                "name": "上村代办点",
                "kind": "village",
                "nats_url": "nats://127.0.0.1:9",
                "hub_public_key": verify_key_to_text(SigningKey.generate().verify_key),
            }
        )
    )
    (data / "catalog.json").write_text(
        json.dumps(
            {
                "version": 1,
                "items": [
                    {
                        "code": "MZ-003",
                        "name": "高龄津贴申领",
                        "department": "mzj",
                        "department_name": "县民政局",
                        "time_limit_days": 10,
                        "fee_fen": 0,
                    }
                ],
            },
            ensure_ascii=False,
        )
    )
    store = Store(data / "node.sqlite3")
    add_user(store, "agent", "代办员 王秀兰", "village_agent", "pw")
    store.close()
    with TestClient(create_app(Settings(data_dir=data))) as client:
        yield client
