"""The restore trusts nothing it downloaded: a changed byte, a history for another node, or a key
history that does not end with this device's key is refused, and nothing is applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from edge_node.restore import RestoreFailed, restore_if_present
from edge_node.settings import NodeIdentity
from edge_node.store import Store, set_meta
from sync_protocol import GENESIS, Record, seal_next, verify_key_to_text

OLD, NEW, HUB = SigningKey(bytes(range(32))), SigningKey(bytes(range(1, 33))), SigningKey(bytes(range(2, 34)))
T = "2026-11-23T08:00:00.000000Z"


def history(tmp_path: Path, keys: list[tuple[int, SigningKey]], node: str = "shangcun") -> Path:
    folder = tmp_path / "restore"
    (folder / "up").mkdir(parents=True)
    (folder / "down").mkdir()
    pos = GENESIS
    for seq in (1, 2):
        record = Record("application.received", f"e{seq}", T, {"application_id": f"a{seq}", "receipt_no": f"shangcun-{seq:06d}", "item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": "11010519491231002X", "agent": "agent"})
        wire, pos = seal_next(node, "up", pos, [record], T, OLD)
        (folder / "up" / f"{seq:09d}.bin").write_bytes(wire)
    (folder / "manifest.json").write_text(json.dumps({"node_id": node, "keys": [{"from_seq": f, "public_key": verify_key_to_text(k.verify_key)} for f, k in keys]}))
    return folder


@pytest.fixture
def node(tmp_path: Path):
    store = Store(tmp_path / "node.sqlite3")
    with store.write() as conn:
        set_meta(conn, "node_id", "shangcun")
    identity = NodeIdentity("shangcun", "上村", "village", NEW, HUB.verify_key, "nats://127.0.0.1:9")
    yield store, identity
    store.close()


def applied(store: Store) -> int:
    return store.one("SELECT COUNT(*) FROM applications")[0]


def test_a_verified_history_is_restored_and_the_chain_continues_with_the_new_key(tmp_path, node):
    store, identity = node
    history(tmp_path, [(1, OLD), (3, NEW)])
    assert restore_if_present(store, tmp_path, identity) == {"uplink_batches": 2, "downlink_batches": 0, "up_seq": 2}
    assert applied(store) == 2 and not (tmp_path / "restore").exists()
    assert store.one("SELECT value FROM counters WHERE name = 'receipt'")[0] == 2


def test_a_changed_byte_is_refused_and_nothing_is_applied(tmp_path, node):
    store, identity = node
    folder = history(tmp_path, [(1, OLD), (3, NEW)])
    path = folder / "up" / "000000002.bin"
    path.write_bytes(path.read_bytes().replace("张三".encode(), "李四".encode()))
    with pytest.raises(RestoreFailed, match="uplink batch 2"):
        restore_if_present(store, tmp_path, identity)
    assert applied(store) == 0 and folder.exists()


def test_a_history_signed_by_a_key_the_hub_does_not_list_is_refused(tmp_path, node):
    store, identity = node
    history(tmp_path, [(1, SigningKey.generate()), (3, NEW)])
    with pytest.raises(RestoreFailed, match="uplink batch 1"):
        restore_if_present(store, tmp_path, identity)
    assert applied(store) == 0


def test_history_for_another_node_or_ending_with_another_key_is_refused(tmp_path, node):
    store, identity = node
    history(tmp_path, [(1, OLD), (3, NEW)], node="xiacun")
    with pytest.raises(RestoreFailed, match="xiacun"):
        restore_if_present(store, tmp_path, identity)
    (tmp_path / "restore" / "manifest.json").write_text(json.dumps({"node_id": "shangcun", "keys": [{"from_seq": 1, "public_key": verify_key_to_text(OLD.verify_key)}]}))
    with pytest.raises(RestoreFailed, match="this device's key"):
        restore_if_present(store, tmp_path, identity)
