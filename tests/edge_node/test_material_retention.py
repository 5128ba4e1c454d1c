"""A material file stays on the laptop only until the hub confirms it plus the retention period:
the receipt arrives in a signed downlink batch (real SQLite, real files, the node's own apply)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from edge_node import blobs, cases, link, materials
from edge_node.catalog import install_catalog
from edge_node.store import Store, set_meta
from sync_protocol import GENESIS, MATERIAL_RECEIVED, Accepted, ChainPos, Record, seal_next

from ..conftest import resident_id
from ..images import photo

HUB_KEY = SigningKey(bytes(range(7, 39)))
AGENT = {"username": "agent", "display_name": "代办员 王秀兰"}
CATALOG = {
    "version": 1,
    "items": [{"code": "MZ-003", "name": "高龄津贴申领", "department": "mzj", "department_name": "县民政局", "time_limit_days": 10, "fee_fen": 0}],
}
NOW = "2026-11-23T09:00:00.000000Z"


class Node:
    def __init__(self, tmp_path: Path) -> None:
        self.store = Store(tmp_path / "node.sqlite3")
        self.blobs_dir = tmp_path / "blobs"
        with self.store.write() as conn:
            set_meta(conn, "node_id", "shangcun")
        install_catalog(self.store, CATALOG)
        self.app = cases.submit_application(
            self.store, {"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(3)}, AGENT
        )
        self.down = GENESIS

    def attach(self, content: bytes, name: str = "居民身份证") -> str:
        return materials.attach_material(self.store, self.blobs_dir, self.app["id"], name, "scan.jpg", content, AGENT)["sha256"]

    def receipt(self, sha: str, size: int) -> None:
        record = Record(MATERIAL_RECEIVED, f"r-{sha[:8]}-{self.down.seq}", NOW, {"sha256": sha, "size": size, "received_at": NOW})
        wire, self.down = seal_next("shangcun", "down", ChainPos(self.down.seq, self.down.head), [record], NOW, HUB_KEY)
        assert isinstance(link.apply_downlink(self.store, "shangcun", HUB_KEY.verify_key, wire), Accepted)

    def state(self, sha: str) -> dict:
        return next(m for m in materials.list_materials(self.store, self.blobs_dir, self.app["id"]) if m["sha256"] == sha)


@pytest.fixture
def node(tmp_path: Path):
    node = Node(tmp_path)
    yield node
    node.store.close()


PHOTO = photo()  # a real one: the node decodes and re-encodes every photo (edge_node/photos.py)


def test_a_confirmed_copy_is_kept_for_the_retention_period_then_deleted(node: Node):
    sha = node.attach(PHOTO)
    later = datetime.now(UTC) + timedelta(days=7, minutes=1)
    assert materials.purge_received(node.store, node.blobs_dir, 7, now=later) == 0  # not confirmed: kept whatever its age
    assert node.state(sha)["stored_here"] is True

    node.receipt(sha, len(PHOTO))
    received = node.state(sha)
    assert received["received_at"] and received["purged_at"] is None and received["stored_here"] is True
    assert blobs.pending_uploads(node.store) == []  # the hub has it: nothing left to send
    assert materials.purge_received(node.store, node.blobs_dir, 7) == 0  # inside the retention period
    assert materials.purge_received(node.store, node.blobs_dir, 7, now=later) == 1
    purged = node.state(sha)
    assert purged["purged_at"] and purged["stored_here"] is False
    assert not materials.blob_path(node.blobs_dir, sha).exists()
    assert materials.purge_received(node.store, node.blobs_dir, 7, now=later) == 0  # once


def test_retention_zero_deletes_at_once_and_a_receipt_applies_once(node: Node):
    sha = node.attach(PHOTO)
    node.receipt(sha, len(PHOTO))
    first = node.state(sha)["received_at"]
    node.receipt(sha, len(PHOTO))  # a second receipt (another point sent the same bytes) changes nothing
    assert node.state(sha)["received_at"] == first
    assert materials.purge_received(node.store, node.blobs_dir, 0) == 1
    assert not materials.blob_path(node.blobs_dir, sha).exists()


def test_the_same_file_attached_again_after_its_purge_is_kept_and_purged_again(node: Node):
    sha = node.attach(PHOTO)
    node.receipt(sha, len(PHOTO))
    materials.purge_received(node.store, node.blobs_dir, 0)
    again = node.attach(PHOTO, "户口簿")  # the same bytes, scanned for another material
    assert again == sha and node.state(sha)["stored_here"] is True and node.state(sha)["purged_at"] is None
    assert materials.purge_received(node.store, node.blobs_dir, 7) == 0  # a new retention period starts now
    assert materials.purge_received(node.store, node.blobs_dir, 7, now=datetime.now(UTC) + timedelta(days=8)) == 1
    assert not materials.blob_path(node.blobs_dir, sha).exists()


def test_an_unconfirmed_copy_is_never_deleted(node: Node):
    confirmed, waiting = node.attach(PHOTO), node.attach(b"%PDF-1.7\n" + b"y" * 3000, "户口簿")
    node.receipt(confirmed, len(PHOTO))
    assert materials.purge_received(node.store, node.blobs_dir, 0, now=datetime.now(UTC) + timedelta(days=365)) == 1
    assert node.state(waiting)["stored_here"] is True and node.state(waiting)["received_at"] is None
    assert [p["sha256"] for p in blobs.pending_uploads(node.store)] == [waiting]
