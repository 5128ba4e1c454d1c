"""A material file stays on the laptop only until the hub confirms it plus the retention period:
the receipt arrives in a signed downlink batch (real SQLite, real files, the node's own apply)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from edge_node import blobs, materials
from tests.support.nodes import Node

from ..images import photo

HUB_KEY = SigningKey(bytes(range(7, 39)))


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


def test_two_requests_storing_the_same_file_at_once_both_succeed(tmp_path):
    """The chaos run: two pickups with the same on-screen signature stored the same blob at once;
    both used one temporary name and the second's rename found it gone (a 500 at the window)."""
    import threading

    from edge_node.materials import write_blob

    content, errors, done = b"\x89PNG same signature" * 1000, [], []

    def store() -> None:
        try:
            done.append(write_blob(tmp_path, content))
        except OSError as exc:
            errors.append(exc)

    for _ in range(20):
        threads = [threading.Thread(target=store) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        (tmp_path / done[-1]).unlink()  # again from scratch
    assert errors == [] and len(set(done)) == 1 and not list(tmp_path.glob(".*.tmp"))
