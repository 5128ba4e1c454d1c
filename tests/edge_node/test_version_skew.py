"""Version skew (issue 17, finding 4), on a real SQLite file with hub-signed batches: a downlink
batch with a record kind newer than this node's software is held, not quarantined and dropped;
the cursor stays, the node says it needs an upgrade, and once upgraded it applies the batch and
everything after it."""

from __future__ import annotations

from edge_node import cases, link
from edge_node.store import read_meta
from sync_protocol import GENESIS, RECORD_SPECS, UNKNOWN_KIND, Accepted, Gap, Record, RecordSpec, Rejected, seal_next
from tests.support.builders import AGENT, FORM, HUB_KEY

T = "2026-11-23T09:00:00.000000Z"
NEW_KIND = "notice.broadcast"  # what a newer hub might send


def test_a_batch_newer_than_the_node_is_held_until_the_upgrade_then_applied_in_order(store, monkeypatch):
    app = cases.submit_application(store, FORM, AGENT)
    first, pos = seal_next("shangcun", "down", GENESIS, [Record(NEW_KIND, "n1", T, {"text": "春节期间暂停办理"})], T, HUB_KEY)
    decision = Record("decision.made", "d1", T, {"application_id": app["id"], "decision": "approved", "decided_by": "王敏", "decided_at": T})
    second, _ = seal_next("shangcun", "down", pos, [decision], T, HUB_KEY)

    held = link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, first)
    assert isinstance(held, Rejected) and held.reason == UNKNOWN_KIND
    assert store.one("SELECT COUNT(*) FROM quarantine")[0] == 0  # held, not dropped as bad
    assert read_meta(store, "down_seq", "0") == "0" and NEW_KIND in read_meta(store, "needs_upgrade")
    assert NEW_KIND in link.status_fields(store, "0.3.0")["needs_upgrade"]  # the county hears of it
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, second), Gap)  # nothing jumps ahead of it
    assert cases.get_application(store, app["id"])["status"] != "approved"

    # the upgrade: this software now knows the kind; JetStream redelivers the held batch
    monkeypatch.setitem(RECORD_SPECS, NEW_KIND, RecordSpec("down", {"text": str}, {}))
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, first), Accepted)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, second), Accepted)
    assert cases.get_application(store, app["id"])["status"] == "approved"
    assert read_meta(store, "needs_upgrade") == "" and "needs_upgrade" not in link.status_fields(store, "0.4.0")


def test_a_downlink_that_lags_the_hubs_without_progress_asks_for_it_again(store, tmp_path, monkeypatch):
    from nacl.signing import SigningKey

    from edge_node import sync
    from edge_node.settings import NodeIdentity

    identity = NodeIdentity("shangcun", "上村", "village", SigningKey(bytes(range(1, 33))), HUB_KEY.verify_key, "nats://127.0.0.1:9")
    worker = sync.NodeSync(store, identity, tmp_path, tmp_path / "blobs")
    worker._watch_downlink({"down_sealed": 0}, None)
    assert worker._down_from is None  # level with the hub
    worker._watch_downlink({"down_sealed": 3}, None)
    assert worker._down_from is None  # behind: redelivery gets its chance first
    monkeypatch.setattr(sync, "DOWN_RESEND_AFTER_S", 0.0)  # (the wait, 120 s, is over)
    worker._watch_downlink({"down_sealed": 3}, None)
    assert worker._down_from == 1  # its next status asks the hub to publish again from seq 1
    monkeypatch.setattr(sync, "DOWN_RESEND_AFTER_S", 120.0)
    worker._watch_downlink({"down_sealed": 3}, 1)  # the status that asked was answered
    assert worker._down_from is None  # cleared; it asks again only after another 120 s without progress
