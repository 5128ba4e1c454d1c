"""Hub ingest against a real SQLite file: apply + cursor in one transaction, quarantine the rest."""

from __future__ import annotations

import json

import pytest
from nacl.signing import SigningKey
from sqlalchemy import text as sql_text
from sqlmodel import Session, select

from central import approval, downlink
from central.ingest import ingest_batch, ingest_batches
from central.models import Alert, Application, DownlinkBatch, DownlinkEvent, HeldBatch, Node, Quarantine, UplinkBatch, User
from sync_protocol import GENESIS, Accepted, ChainPos, Duplicate, Fork, Gap, Record, Rejected, batch_hash, open_batch, seal_next, verify_key_to_text
from tests.support.builders import HUB_KEY, NODE_KEY, T, chain, received
from weblayer.errors import Conflict, Forbidden, InvalidInput


def count(engine, model) -> int:
    with Session(engine) as s:
        return len(s.exec(select(model)).all())


def test_accepted_batch_is_applied_routed_and_cursor_advanced(engine):
    wire = chain([received(1), received(2, item="RS-001")])[0]
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", wire), Accepted)
    with Session(engine) as s:
        apps = {a.id: a for a in s.exec(select(Application)).all()}
        node = s.get(Node, "shangcun")
    assert apps["app1"].department == "mzj" and apps["app2"].department == "rsj"
    assert (node.up_seq, node.up_head) == (1, batch_hash(wire))
    assert count(engine, UplinkBatch) == 1


def test_redelivered_batch_is_a_duplicate_and_applies_nothing_twice(engine):
    wire = chain([received(1)])[0]
    ingest_batch(engine, "yiwang.up.shangcun", wire)
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", wire), Duplicate)
    assert count(engine, Application) == 1 and count(engine, UplinkBatch) == 1


def test_tampered_batch_is_quarantined_with_raw_bytes_and_alert(engine):
    wire = bytearray(chain([received(1)])[0])
    wire[-3] ^= 0xFF
    verdict = ingest_batch(engine, "yiwang.up.shangcun", bytes(wire))
    assert isinstance(verdict, Rejected) and verdict.reason == "bad_signature"
    with Session(engine) as s:
        q = s.exec(select(Quarantine)).one()
        assert q.raw == bytes(wire) and q.reason == "bad_signature"
        alert = s.exec(select(Alert)).one()  # bytes that do not verify could be anyone's: the alert names no point, only the subject
        assert alert.node_id is None and "yiwang.up.shangcun" in alert.message and q.node_id == "shangcun"
    assert count(engine, Application) == 0


def test_batch_signed_by_another_key_under_this_node_id_is_rejected(engine):
    forged = chain([received(1)], key=SigningKey(bytes(range(9, 41))))[0]
    assert ingest_batch(engine, "yiwang.up.shangcun", forged).reason == "bad_signature"
    assert count(engine, Application) == 0
    with Session(engine) as s:  # anyone may have put these bytes there: not the point's word, not its alert
        assert s.get(Node, "shangcun").last_seen_at is None
        assert [(a.kind, a.node_id) for a in s.exec(select(Alert))] == [("quarantine.bad_signature", None)]
        assert [q.node_id for q in s.exec(select(Quarantine))] == ["shangcun"]  # kept under the subject, for review


def test_unknown_and_revoked_nodes_are_quarantined(engine):
    wire = chain([received(1)])[0]
    assert ingest_batch(engine, "yiwang.up.nobody", wire).reason == "unknown_node"
    with Session(engine) as s:
        node = s.get(Node, "shangcun")
        node.status = "revoked"
        s.add(node)
        s.commit()
    assert ingest_batch(engine, "yiwang.up.shangcun", wire).reason == "revoked"
    assert count(engine, Quarantine) == 2 and count(engine, Application) == 0


def test_gap_is_held_a_resend_is_requested_once_and_held_batches_drain_in_order(engine):
    first, second, third = chain([received(1)], [received(2)], [received(3)])
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", third), Gap)
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", second), Gap)
    assert count(engine, Application) == 0 and count(engine, HeldBatch) == 2 and count(engine, Quarantine) == 0
    with Session(engine) as s:
        requests = s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "resend.request")).all()
    assert [json.loads(r.data_json) for r in requests] == [{"from_seq": 1}]  # asked once, not once per held batch
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", first), Accepted)
    with Session(engine) as s:
        assert s.get(Node, "shangcun").up_seq == 3
        assert sorted(a.id for a in s.exec(select(Application)).all()) == ["app1", "app2", "app3"]
    assert count(engine, HeldBatch) == 0
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", third), Duplicate)  # the resent copy


def test_fork_is_quarantined_and_applies_nothing(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    other_first = chain([received(9)])[0]
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", other_first), Fork)
    assert count(engine, Quarantine) == 1 and count(engine, Application) == 1


def test_decision_commits_with_its_downlink_event_and_seals_a_hub_signed_batch(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    approval.decide(engine, clerk, "app1", "approve", "")
    assert downlink.seal_pending(engine, HUB_KEY) == 1
    with Session(engine) as s:
        batch = s.exec(select(DownlinkBatch)).one()
    opened = open_batch(batch.raw, HUB_KEY.verify_key)
    assert opened.node == "shangcun" and opened.seq == 1
    assert opened.records[0].data["application_id"] == "app1" and opened.records[0].data["decision"] == "approved"
    assert downlink.seal_pending(engine, HUB_KEY) == 0


def test_clerk_rules(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    with Session(engine) as s:
        mzj, rsj = s.get(User, "clerk-mzj"), s.get(User, "clerk-rsj")
    with pytest.raises(Forbidden):
        approval.decide(engine, rsj, "app1", "approve", "")
    with pytest.raises(InvalidInput):
        approval.decide(engine, mzj, "app1", "deny", "  ")
    approval.decide(engine, mzj, "app1", "deny", "年龄未满 80 周岁")
    with pytest.raises(Conflict):
        approval.decide(engine, mzj, "app1", "approve", "")
    with Session(engine) as s:
        assert s.get(Application, "app1").status == "denied"
    assert count(engine, DownlinkBatch) == 0 and downlink.seal_pending(engine, HUB_KEY) == 1


def test_signed_batch_with_a_malformed_record_is_quarantined_not_applied_and_not_a_poison_pill(engine):
    bad = Record("application.received", "ev1", T, {"receipt_no": "x"})  # no application_id, no applicant
    wire = chain([received(1), bad])[0]
    verdict = ingest_batch(engine, "yiwang.up.shangcun", wire)
    assert isinstance(verdict, Rejected) and verdict.reason == "invalid_record"
    assert count(engine, Application) == 0 and count(engine, UplinkBatch) == 0 and count(engine, Quarantine) == 1
    with Session(engine) as s:
        assert s.get(Node, "shangcun").up_seq == 0  # the stream halts here, visibly, instead of skipping data
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", wire), Rejected)  # redelivery: same answer, no crash


def test_a_whole_fetch_commits_together_and_each_batch_keeps_its_own_verdict(engine):
    """The hub ingests each JetStream fetch in one transaction: a duplicate, a gap, a forgery and a
    batch whose records fail to apply sit between good batches without undoing them."""
    delegated = Record("decision.delegated", "ev9", T, {"application_id": "app1", "decision": "approved", "decided_by": "x", "decided_at": T})
    w1, w2, w3, w4 = chain([received(1)], [received(2)], [received(3)], [delegated])  # a village may not decide: w4 fails to apply
    forged = chain([received(5)], key=SigningKey.generate())[0]
    fetch = [w1, w1, w3, forged, w2, w4]
    verdicts = ingest_batches(engine, [("yiwang.up.shangcun", wire, None) for wire in fetch])
    assert [type(v).__name__ for v in verdicts] == ["Accepted", "Duplicate", "Gap", "Rejected", "Accepted", "Rejected"]
    assert (verdicts[3].reason, verdicts[5].reason) == ("bad_signature", "invalid_record")
    with Session(engine) as s:
        assert sorted(s.exec(select(Application.id)).all()) == ["app1", "app2", "app3"]  # w3 was held, then applied after w2
        assert s.get(Node, "shangcun").up_seq == 3
        assert s.get(Application, "app1").status == "received"
        assert sorted(q.reason for q in s.exec(select(Quarantine)).all()) == ["bad_signature", "invalid_record"]
    assert count(engine, HeldBatch) == 0 and count(engine, UplinkBatch) == 3


def test_materials_checked_at_the_window_are_kept_with_the_application(engine):
    record = Record("application.received", "evx", T, received(7).data | {"materials_checked": ["居民身份证", "户口簿"]})
    ingest_batch(engine, "yiwang.up.shangcun", chain([record])[0])
    with Session(engine) as s:
        assert json.loads(s.get(Application, "app7").materials_checked) == ["居民身份证", "户口簿"]


def test_fee_records_reach_the_hub_and_balance_to_the_fen(engine):
    from central.fees import fee_summary

    def fee(kind: str, rid: str, **data) -> Record:
        return Record(kind, rid, T, data)

    records = [
        received(1),
        fee("fee.collected", "f1", fee_receipt_no="shangcun-F000001", amount_fen=38000, method="cash", agent="agent", application_id="app1"),
        fee("fee.collected", "f2", fee_receipt_no="shangcun-F000002", amount_fen=2000, method="wechat", agent="agent", reference="42"),
        fee("fee.voided", "f3", fee_receipt_no="shangcun-F000002", reason="重复", approved_by="chief", agent="agent"),
        fee("fee.collected", "f4", fee_receipt_no="shangcun-F000003", amount_fen=4000, method="cash", agent="agent"),
        fee("fee.refunded", "f5", fee_receipt_no="shangcun-F000003", amount_fen=1000, reason="多收", approved_by="chief", agent="agent"),
        fee(
            "fee.daily_closed",
            "f6",
            close_id="shangcun-C20261123-agent-1",
            business_date="2026-11-23",
            agent="agent",
            totals_fen={"cash": 41000},
            cash_expected_fen=41000,
            cash_counted_fen=40950,
            discrepancy_fen=-50,
            note="少五角",
        ),
    ]
    first, second = chain(
        records,
        [
            fee(
                "fee.remitted",
                "f7",
                remittance_id="shangcun-R000001",
                amount_fen=40950,
                close_ids=["shangcun-C20261123-agent-1"],
                bank_reference="B-1",
                agent="agent",
            )
        ],
    )
    ingest_batch(engine, "yiwang.up.shangcun", first)
    [before] = fee_summary(engine)
    assert before == {
        "node_id": "shangcun",
        "receipts": 3,
        "voided": 1,
        "collected_fen": 42000,
        "refunded_fen": 1000,
        "closes": 1,
        "cash_counted_fen": 40950,
        "discrepancy_fen": -50,
        "remitted_fen": 0,
        "unremitted_fen": 40950,
        "cash_collected_fen": 42000,
        "cash_refunded_fen": 1000,
        "epay_collected_fen": 0,
        "cash_outstanding_fen": 41000,
        "cash_to_return_fen": 0,
        "closes_with_discrepancy": 1,
        "all_reached_county": False,
    }
    ingest_batch(engine, "yiwang.up.shangcun", second)
    [after] = fee_summary(engine)
    assert (after["remitted_fen"], after["unremitted_fen"]) == (40950, 0)
    assert (after["cash_outstanding_fen"], after["all_reached_county"]) == (50, False)  # the 0.50 short at the close never reached the county


def test_a_delegated_decision_from_a_point_without_the_delegation_is_quarantined(engine):
    # shangcun is a village point, and MZ-003 is not an instant item: neither may decide locally
    decided = Record("decision.delegated", "d1", T, {"application_id": "app1", "decision": "approved", "decided_by": "代办员", "decided_at": T})
    verdict = ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), decided])[0])
    assert isinstance(verdict, Rejected) and verdict.reason == "invalid_record" and "not an instant item" in verdict.detail
    assert count(engine, Application) == 0 and count(engine, Quarantine) == 1


def test_approval_issues_a_signed_licence_in_the_same_transaction(engine):
    from central.models import Licence
    from sync_protocol import open_licence

    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), received(2)])[0])
    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    approval.decide(engine, clerk, "app1", "approve", "", HUB_KEY)
    approval.decide(engine, clerk, "app2", "deny", "不符合条件", HUB_KEY)
    with Session(engine) as s:
        [licence] = s.exec(select(Licence)).all()  # a denial issues nothing
        kinds = sorted(e.kind for e in s.exec(select(DownlinkEvent)).all())
    assert licence.application_id == "app1" and open_licence(licence.text, HUB_KEY.verify_key)["holder_id"] == "11010519491231002X"
    assert kinds == ["decision.made", "decision.made", "result.issued"]


def test_queue_is_sorted_by_deadline_in_official_working_days(engine):
    early = Record("application.received", "e1", "2026-11-02T02:00:00.000000Z", received(1).data)  # MZ-003: 10 working days
    late = Record("application.received", "e2", T, received(2).data)
    ingest_batch(engine, "yiwang.up.shangcun", chain([late, early])[0])
    with engine.begin() as conn:  # app1's materials reached the county on 11-02
        conn.execute(sql_text("UPDATE application SET received_at = '2026-11-02T03:00:00.000000Z' WHERE id = 'app1'"))
    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    rows = approval.queue_with_deadlines(engine, clerk)
    # both still await 受理: 2 working days from their materials' arrival at the hub, the item's
    # 10 days only from 受理 (行政许可法 第四十二条): before it, the latest it can end
    from central.workdays import WorkCalendar, beijing_date

    assert [(a.id, c.pre_review.due.isoformat() if c.pre_review else None, c.decision) for a, _, c in rows] == [
        ("app1", "2026-11-04", None),
        ("app2", WorkCalendar().deadline(beijing_date(rows[1][0].received_at), 2)[0].isoformat(), None),
    ]
    assert rows[0][2].expected.isoformat() == "2026-11-18" and rows[0][2].limit_days == 10


def heartbeat(n: int, depth: int) -> Record:
    return Record(
        "node.heartbeat",
        f"hb{n}",
        f"2026-11-23T08:{n:02d}:00.000000Z",
        {"app_version": "0.1.0", "catalog_version": 2, "outbox_depth": depth, "clock": T},
    )


def test_heartbeats_keep_the_node_health_and_a_rising_backlog_alerts_once(engine):
    wires = chain(*[[heartbeat(n, depth)] for n, depth in enumerate([5, 25, 30, 40, 50, 3])])
    for wire in wires:
        assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", wire, clock_offset_s=2), Accepted)
    with Session(engine) as s:
        node = s.get(Node, "shangcun")
        alerts = [a.kind for a in s.exec(select(Alert)).all()]
    assert (node.app_version, node.catalog_version, node.outbox_depth, node.clock_offset_s) == ("0.1.0", 2, 3, 2)
    assert alerts == ["backlog.growing"]  # 5 → 25 → 30 is one rising run; 40 and 50 continue it


def test_a_skewed_node_clock_alerts_when_it_first_drifts(engine):
    wires = chain([received(1)], [received(2)], [received(3)])
    for wire, offset in zip(wires, (-900, -905, 1), strict=False):
        ingest_batch(engine, "yiwang.up.shangcun", wire, clock_offset_s=offset)
    with Session(engine) as s:
        [alert] = s.exec(select(Alert)).all()
        assert s.get(Node, "shangcun").clock_offset_s == 1
    assert alert.kind == "clock.skew" and "慢 900 秒" in alert.message


def test_a_verified_attachment_sends_its_receipt_to_each_node_that_sent_it(engine, tmp_path):
    import hashlib

    from central.blobs import receive_chunk

    data = b"%PDF-1.7\n" + bytes(range(256)) * 40
    sha, half = hashlib.sha256(data).hexdigest(), len(data) // 2
    blobs_dir = tmp_path / "blobs"

    def receipts() -> list[tuple[str, dict]]:
        with Session(engine) as s:
            return [
                (e.node_id, json.loads(e.data_json)) for e in s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "material.received")).all()
            ]

    wrong = b"%PDF-1.7\n" + b"\0" * (len(data) - 9)
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", 0, len(data), wrong).startswith("rejected")
    assert receipts() == []  # bytes that do not match their name are no receipt

    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", 0, len(data), data[:half]) == "stored"
    assert receipts() == []  # half a file is no receipt either
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", half, len(data), data[half:]) == "complete"
    [(node, receipt)] = receipts()
    assert node == "shangcun" and receipt["sha256"] == sha and receipt["size"] == len(data) and receipt["received_at"]
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", half, len(data), data[half:]) == "duplicate"
    assert len(receipts()) == 1  # a redelivered chunk queues nothing more

    with Session(engine) as s:
        s.add(Node(id="xiacun", name="下村", kind="village", public_key=verify_key_to_text(HUB_KEY.verify_key), enrolled_at=T))
        s.commit()
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.xiacun.{sha}", half, len(data), data[half:]) == "duplicate"
    assert sorted(node for node, _ in receipts()) == ["shangcun", "xiacun"]  # the other point may delete its copy too


def test_another_points_chunks_for_the_same_file_cannot_spoil_this_points_upload(engine, tmp_path):
    """Blob squatting: chunks were keyed by the file's SHA-256 alone, so a point that knew a shared
    form's hash could send garbage at the offsets of another point's chunks first. The victim's
    chunks were dropped as repeats, the file failed its hash, and the alert named the victim.
    Each point now assembles its own upload: the victim's completes, and the garbage's mismatch
    names its sender."""
    import hashlib

    from central.blobs import receive_chunk

    form = b"%PDF-1.7\n" + bytes(range(256)) * 40
    sha, half = hashlib.sha256(form).hexdigest(), len(form) // 2
    blobs_dir = tmp_path / "blobs"
    with Session(engine) as s:
        s.add(Node(id="xiacun", name="下村", kind="village", public_key=verify_key_to_text(HUB_KEY.verify_key), enrolled_at=T))
        s.commit()
    garbage = bytes(len(form))
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.xiacun.{sha}", 0, len(form), garbage[:half]) == "stored"  # the squatter first
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", 0, len(form), form[:half]) == "stored"  # not a "duplicate"
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", half, len(form), form[half:]) == "complete"
    assert (blobs_dir / sha).read_bytes() == form
    with Session(engine) as s:
        assert not s.exec(select(Alert).where(Alert.kind == "blob.mismatch")).all()
    from central.blobs import uploaded

    with Session(engine) as s:
        assert (uploaded(s, sha, "shangcun"), uploaded(s, sha, "xiacun")) == (len(form), 0)  # what each is told the hub holds
    assert not list((blobs_dir / "parts").rglob("*" + sha))  # the squatter's half is gone with it

    other = b"%PDF-1.7\n" + bytes(range(255, -1, -1)) * 40
    other_sha = hashlib.sha256(other).hexdigest()
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.xiacun.{other_sha}", 0, len(other), bytes(len(other))).startswith("rejected")
    with Session(engine) as s:
        [alert] = s.exec(select(Alert).where(Alert.kind == "blob.mismatch")).all()
    assert alert.node_id == "xiacun"  # a mismatch names the only point whose chunks made it


def test_a_point_cannot_fill_the_hubs_disk_with_uploads_it_never_finishes(engine, tmp_path):
    """Found by the adversarial pass: chunks of files that never complete (offset 0 left empty)
    stayed on the hub's disk for good, without limit. A point may keep MAX_UNFINISHED_UPLOADS;
    the next is refused with one alert against it, and an upload left a week is dropped."""
    from datetime import timedelta

    from central.blobs import MAX_UNFINISHED_UPLOADS, STALE_UPLOAD, receive_chunk
    from central.clock import utcnow
    from central.models import BlobUpload

    blobs_dir = tmp_path / "blobs"
    hashes = [f"{n:064x}" for n in range(MAX_UNFINISHED_UPLOADS + 2)]
    for sha in hashes[:MAX_UNFINISHED_UPLOADS]:
        assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", 1000, 20_000, b"x" * 1000) == "stored"
    for sha in hashes[MAX_UNFINISHED_UPLOADS:]:
        assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{sha}", 1000, 20_000, b"x" * 1000).startswith("rejected")
    with Session(engine) as s:
        assert len(s.exec(select(Alert).where(Alert.kind == "blob.too_many", Alert.node_id == "shangcun")).all()) == 1  # once, not per chunk
        first = s.get(BlobUpload, (hashes[0], "shangcun"))
        first.updated_at = utcnow(-STALE_UPLOAD - timedelta(minutes=1))  # a week without a chunk
        s.add(first)
        s.commit()
    assert receive_chunk(engine, blobs_dir, f"yiwang.blob.shangcun.{hashes[-1]}", 1000, 20_000, b"x" * 1000) == "stored"
    assert not (blobs_dir / "parts" / "shangcun" / hashes[0]).exists()
    assert len(list((blobs_dir / "parts" / "shangcun").iterdir())) == MAX_UNFINISHED_UPLOADS


@pytest.mark.parametrize(
    "poison, reason",
    [
        (
            lambda key: bytes(key.sign(b'{"v":1,"node":"xiacun","records":' + b"[" * 100_000 + b"]" * 100_000 + b"}")),
            "malformed",
        ),  # deeper than Python's stack
        (lambda key: bytes(key.sign(b'{"v":1,"node":"xiacun","seq":' + b"9" * 5000 + b"}")), "malformed"),  # 5,000 digits
        (
            lambda key: seal_next(
                "xiacun",
                "up",
                GENESIS,
                [
                    Record(
                        "materials.attached",
                        "m1",
                        T,
                        {"application_id": "x1", "material": "m", "sha256": "ab" * 32, "size": 10**30, "media_type": "image/jpeg"},
                    )
                ],
                T,
                key,
            )[0],
            "invalid_record",
        ),
        (
            lambda key: seal_next(
                "xiacun",
                "up",
                GENESIS,
                [Record("node.heartbeat", "h1", T, {"app_version": "x", "catalog_version": 1, "outbox_depth": 2**63, "clock": T})],
                T,
                key,
            )[0],
            "invalid_record",
        ),
    ],
)
def test_a_poisoned_batch_is_quarantined_and_the_rest_of_its_fetch_applied(engine, poison, reason):
    """A point's signed batch that no database or decoder can take (an integer past SQLite's, an
    integer of thousands of digits, nesting past the stack) is that point's batch quarantined —
    never an exception that rolls back the whole fetch and crash-loops the hub's ingest."""
    other = SigningKey(bytes(range(50, 82)))
    with Session(engine) as s:
        s.add(Node(id="xiacun", name="下村", kind="village", public_key=verify_key_to_text(other.verify_key), enrolled_at=T))
        s.commit()
    good = chain([received(1)])[0]
    verdicts = ingest_batches(engine, [("yiwang.up.xiacun", poison(other), None), ("yiwang.up.shangcun", good, None)])
    assert isinstance(verdicts[0], Rejected) and verdicts[0].reason == reason, verdicts[0]
    assert isinstance(verdicts[1], Accepted)
    with Session(engine) as s:
        assert s.get(Node, "shangcun").up_seq == 1 and s.get(Node, "xiacun").up_seq == 0
        assert [q.node_id for q in s.exec(select(Quarantine)).all()] == ["xiacun"]


def test_a_batch_applied_before_a_key_rotation_arriving_again_is_a_duplicate(engine):
    """Found by the chaos soak: resends and replays of batches a point sent before it rotated its
    key were verified with today's key and quarantined as bad signatures (thousands of them, and
    the same-stream replays the run expects to be recognised). An exact copy of an applied batch
    verifies with the key in force at its position and is a duplicate; anything new signed by a
    retired key is still refused."""
    from central.models import NodeKey
    from sync_protocol import NODE_KEY_ROTATED, user_nkey_from_seed, user_seed_from_raw

    new_key = SigningKey(bytes(range(5, 37)))
    with Session(engine) as s:
        s.add(NodeKey(node_id="shangcun", from_seq=1, public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    rotation = Record(
        NODE_KEY_ROTATED,
        "rot",
        T,
        {"public_key": verify_key_to_text(new_key.verify_key), "nats_public_key": user_nkey_from_seed(user_seed_from_raw(bytes(32)))},
    )
    first, second = chain([received(1)], [rotation])
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", first), Accepted)
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", second), Accepted)
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", first), Duplicate)  # a copy, signed by the retired key
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", second), Duplicate)
    with Session(engine) as s:
        head = s.get(Node, "shangcun")
        pos = ChainPos(head.up_seq, head.up_head)
    late, _ = seal_next("shangcun", "up", pos, [received(3)], T, NODE_KEY)  # new, but signed by the retired key
    verdict = ingest_batch(engine, "yiwang.up.shangcun", late)
    assert isinstance(verdict, Rejected) and verdict.reason == "bad_signature"
    assert count(engine, Quarantine) == 1
