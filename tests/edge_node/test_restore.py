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
        record = Record(
            "application.received",
            f"e{seq}",
            T,
            {
                "application_id": f"a{seq}",
                "receipt_no": f"shangcun-{seq:06d}",
                "item_code": "MZ-003",
                "applicant_name": "张三",
                "applicant_id_number": "11010519491231002X",
                "agent": "agent",
            },
        )
        wire, pos = seal_next(node, "up", pos, [record], T, OLD)
        (folder / "up" / f"{seq:09d}.bin").write_bytes(wire)
    (folder / "manifest.json").write_text(
        json.dumps({"node_id": node, "keys": [{"from_seq": f, "public_key": verify_key_to_text(k.verify_key)} for f, k in keys]})
    )
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


def test_a_case_not_accepted_and_handed_back_is_restored_with_its_notice(tmp_path, node):
    """Found by the chaos run's device replacement: a restore applies the point's own records
    (its pickup) before the hub's downlink (the 不予受理 notice that came first), and the notice
    was skipped for a case no longer 'submitted': the new device showed no outcome."""
    store, identity = node
    folder = history(tmp_path, [(1, OLD), (4, NEW)])
    pickup = Record("application.picked_up", "e3", T, {"application_id": "a1", "collector_name": "张三", "agent": "agent"})
    pos = GENESIS
    for path in sorted((folder / "up").glob("*.bin")):
        from sync_protocol import IngestCursor

        pos = IngestCursor("shangcun", "up", OLD.verify_key, pos).receive(path.read_bytes(), lambda s: None).new_pos
    wire, _ = seal_next("shangcun", "up", pos, [pickup], T, OLD)
    (folder / "up" / "000000003.bin").write_bytes(wire)
    notice = Record("application.not_accepted", "d1", T, {"application_id": "a1", "reason": "不属于本部门受理范围", "by": "王敏", "at": T})
    down, _ = seal_next("shangcun", "down", GENESIS, [notice], T, HUB)
    (folder / "down" / "000000001.bin").write_bytes(down)
    restore_if_present(store, tmp_path, identity)
    assert tuple(store.one("SELECT status, decision, decision_reason FROM applications WHERE id = 'a1'")) == (
        "picked_up",
        "not_accepted",
        "不属于本部门受理范围",
    )


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
    (tmp_path / "restore" / "manifest.json").write_text(
        json.dumps({"node_id": "shangcun", "keys": [{"from_seq": 1, "public_key": verify_key_to_text(OLD.verify_key)}]})
    )
    with pytest.raises(RestoreFailed, match="this device's key"):
        restore_if_present(store, tmp_path, identity)


def test_a_device_replaced_mid_day_after_fees_a_void_a_refund_and_a_close_keeps_the_books_to_the_fen(tmp_path):
    """Issue 17, finding 5: the replacement continues every number sequence, so its fees and
    complaints reach the county's books instead of colliding with the old device's ids."""
    from sqlmodel import Session

    from central.db import create_schema, make_engine
    from central.fees import fee_summary
    from central.ingest import ingest_batch
    from central.models import Node
    from edge_node import cases, fees, link
    from edge_node.auth import add_user
    from sync_protocol import Accepted

    agent = {"username": "agent", "display_name": "代办员 王秀兰"}
    old = Store(tmp_path / "old.sqlite3")
    with old.write() as conn:
        set_meta(conn, "node_id", "shangcun")
    add_user(old, "chief", "站长", "village_agent", "pw2")
    with old.write() as conn:
        for amount, method, ref in ((38000, "cash", ""), (2000, "cash", ""), (5000, "wechat", "wx-1")):
            fees.collect_fee(conn, amount, method, ref, "张三", agent)
    fees.void_receipt(old, "shangcun-F000002", "录错金额", agent, "chief", "pw2")
    fees.refund(old, "shangcun-F000001", 1000, "多收", agent, "chief", "pw2")
    close = fees.close_day(old, agent, 37000)
    fees.record_remittance(old, agent, [close["close_id"]], 37000, "B-1")
    cases.file_complaint(old, "窗口排队太久了", agent)
    day = close["business_date"]
    link.seal_pending(old, "shangcun", OLD)

    # the hub holds what the old device sent; then the disk dies and the new device restores it
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    create_schema(engine)
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(OLD.verify_key), enrolled_at=T))
        s.commit()
    sent = [r["wire"] for r in old.query("SELECT wire FROM uplink_batches ORDER BY seq")]
    assert all(isinstance(ingest_batch(engine, "yiwang.up.shangcun", w), Accepted) for w in sent)
    folder = tmp_path / "new" / "restore"
    (folder / "up").mkdir(parents=True)
    (folder / "down").mkdir()
    for seq, wire in enumerate(sent, 1):
        (folder / "up" / f"{seq:09d}.bin").write_bytes(wire)
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "node_id": "shangcun",
                "keys": [
                    {"from_seq": 1, "public_key": verify_key_to_text(OLD.verify_key)},
                    {"from_seq": len(sent) + 1, "public_key": verify_key_to_text(NEW.verify_key)},
                ],
            }
        )
    )
    new = Store(tmp_path / "new" / "node.sqlite3")
    with new.write() as conn:
        set_meta(conn, "node_id", "shangcun")
    restore_if_present(new, tmp_path / "new", NodeIdentity("shangcun", "上村", "village", NEW, HUB.verify_key, "nats://127.0.0.1:9"))

    def books(store: Store) -> dict:
        return {
            "receipts": [
                tuple(r)
                for r in store.query("SELECT receipt_no, amount_fen, method, status, refunded_fen, close_id FROM fee_receipts ORDER BY receipt_no")
            ],
            "refunds": [tuple(r) for r in store.query("SELECT receipt_no, amount_fen, close_id FROM fee_refunds")],
            "closes": [
                tuple(r)
                for r in store.query("SELECT close_id, cash_expected_fen, cash_counted_fen, discrepancy_fen, remittance_id FROM daily_closes")
            ],
            "remittances": [tuple(r) for r in store.query("SELECT remittance_id, amount_fen FROM remittances")],
            "complaints": [tuple(r) for r in store.query("SELECT complaint_id, text FROM complaints")],
            "day": fees.day_totals(store, "agent", day),
        }

    assert books(new) == books(old)
    # the rest of the day on the new device: every number continues after the old device's
    with new.write() as conn:
        receipt = fees.collect_fee(conn, 1500, "cash", "", "李四", agent)
    assert receipt["receipt_no"] == "shangcun-F000004"
    assert cases.file_complaint(new, "材料退回没有说明原因", agent)["complaint_id"] == "shangcun-T000002"
    second = fees.close_day(new, agent, 1500)
    assert second["close_id"].endswith("-2")  # the day's second close
    assert fees.record_remittance(new, agent, [second["close_id"]], 1500, "B-2")["remittance_id"] == "shangcun-R000002"
    link.seal_pending(new, "shangcun", NEW)
    with Session(engine) as s:  # the replacement enrolment gave the hub the new key
        node = s.get(Node, "shangcun")
        node.public_key = verify_key_to_text(NEW.verify_key)
        s.add(node)
        s.commit()
    for row in new.query("SELECT wire FROM uplink_batches WHERE seq > ? ORDER BY seq", (len(sent),)):
        assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", row["wire"]), Accepted)
    [county] = fee_summary(engine)
    point = new.query("SELECT COALESCE(SUM(amount_fen), 0) AS kept FROM fee_receipts WHERE status != 'voided'")[0]["kept"]
    assert (
        (county["receipts"], county["voided"], county["collected_fen"], county["refunded_fen"])
        == (4, 1, point, 1000)
        == (4, 1, 38000 + 5000 + 1500, 1000)
    )
    assert (county["remitted_fen"], county["cash_outstanding_fen"], county["all_reached_county"]) == (37000 + 1500, 0, True)
    engine.dispose()
    old.close()
    new.close()


def test_the_hubs_commands_to_the_old_device_are_not_obeyed_again(tmp_path, node):
    """Found by the chaos soak: a restore replays the point's downlink history, and a resend
    request in it made the new device publish every batch from that seq again (thousands, signed
    by retired keys, each quarantined at the hub); an old rotation's key confirmation in it later
    switched the new device's NATS identity. Both were for the old device, which obeyed them."""
    from sync_protocol import NODE_KEY_ACCEPTED, RESEND_REQUEST

    store, identity = node
    folder = history(tmp_path, [(1, OLD), (3, NEW)])
    commands = [
        Record(RESEND_REQUEST, "r1", T, {"from_seq": 1}),
        Record(NODE_KEY_ACCEPTED, "k1", T, {"public_key": "ab" * 32, "nats_public_key": "U" + "A" * 55, "from_seq": 2, "old_key_until": T}),
    ]
    down, _ = seal_next("shangcun", "down", GENESIS, commands, T, HUB)
    (folder / "down" / "000000001.bin").write_bytes(down)
    assert restore_if_present(store, tmp_path, identity)["downlink_batches"] == 1
    assert store.one("SELECT COUNT(*) FROM uplink_batches WHERE published_at IS NULL")[0] == 0  # nothing queued again
    assert store.one("SELECT COUNT(*) FROM downlink_batches")[0] == 1  # the history is kept, and the cursor moved past it
    from edge_node.store import read_meta

    assert read_meta(store, "key_accepted") == ""


def test_one_time_notices_that_went_up_are_restored_and_their_numbers_continue(tmp_path, node):
    """Issue 20 adversarial pass: notices now go up; a device replaced twice the same day must
    not number a notice again (the hub holds it: a conflict would stop the point's stream)."""
    store, identity = node
    folder = history(tmp_path, [(1, OLD), (4, NEW)])
    given = Record(
        "notice.given",
        "n1",
        T,
        {
            "notice_no": "shangcun-N999999999",
            "item_code": "MZ-001",
            "item_name": "最低生活保障申请",
            "applicant_name": "李桂芳",
            "applicant_id_number": "11010519491231002X",
            "missing": ["户口簿"],
            "agent": "agent",
        },
    )
    last = chain_end(folder)
    wire, _ = seal_next("shangcun", "up", last, [given], T, OLD)
    (folder / "up" / "000000003.bin").write_bytes(wire)
    restore_if_present(store, tmp_path, identity)
    assert store.one("SELECT missing_json FROM notices WHERE notice_no = 'shangcun-N999999999'")[0] == '["户口簿"]'
    assert store.one("SELECT value FROM counters WHERE name = 'notice'")[0] == 999999999


def chain_end(folder: Path):
    """The chain position after the history's uplink batches, as the restore will reach it."""
    from sync_protocol import IngestCursor

    pos = GENESIS
    for path in sorted((folder / "up").glob("*.bin")):
        pos = IngestCursor("shangcun", "up", OLD.verify_key, pos).receive(path.read_bytes(), lambda s: None).new_pos
    return pos
