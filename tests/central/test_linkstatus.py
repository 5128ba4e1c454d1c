"""Node status at the hub on a real database: verified with the node's key, kept in place, and
answered with what arrived; a silent point, metered hours, downlink batches sized for the link,
and file assembly with overlapping chunks."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from nacl.signing import SigningKey
from sqlmodel import Session, select

from central import downlink, linkstatus
from central.blobs import covered
from central.db import create_schema, make_engine
from central.models import Alert, Blob, BlobUpload, DownlinkBatch, Node, NodeHeartbeat
from sync_protocol import COMPRESSION, MAX_BATCH_BYTES, format_time, open_batch, seal_status, verify_key_to_text

NODE_KEY = SigningKey(bytes(range(32)))
HUB_KEY = SigningKey(bytes(range(5, 37)))
NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
T = format_time(NOW)


@pytest.fixture
def engine(hub_db_url: str):
    engine = make_engine(hub_db_url)
    create_schema(engine)
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T, up_seq=7))
        s.add(
            Node(id="xiacun", name="下村", kind="village", public_key=verify_key_to_text(SigningKey(bytes(range(9, 41))).verify_key), enrolled_at=T)
        )
        s.commit()
    yield engine
    engine.dispose()


def status(node: str = "shangcun", key: SigningKey = NODE_KEY, **extra) -> bytes:
    fields = {
        "node": node,
        "at": T,
        "up_seq": 9,
        "outbox_depth": 0,
        "app_version": "0.2.0",
        "catalog_version": 3,
        "interval_s": 60,
        "kbit_per_s": 64,
        "rtt_ms": 620,
        "bytes_up_today": 12_000,
        "compression": [COMPRESSION],
    }
    return seal_status(fields | extra, key)


def node(engine) -> Node:
    with Session(engine) as s:
        found = s.get(Node, "shangcun")
        assert found is not None
        return found


def test_a_status_is_kept_in_place_and_answered_with_what_was_applied(engine):
    reply = linkstatus.receive_status(engine, "shangcun", status(), NOW)
    assert reply is not None and reply["up_applied"] == 7 and reply["_up_seq"] == 9 and COMPRESSION in reply["compression"]
    n = node(engine)
    assert (n.link_kbit_per_s, n.link_rtt_ms, n.bytes_up_today, n.heartbeat_interval_s, n.compression, n.catalog_version) == (
        64,
        620,
        12_000,
        60,
        COMPRESSION,
        3,
    )
    for _ in range(20):  # an idle point: the same values again and again
        linkstatus.receive_status(engine, "shangcun", status(), NOW)
    with Session(engine) as s:
        assert len(s.exec(select(NodeHeartbeat)).all()) == 1  # one backlog entry: the depth never changed


def test_events_a_point_set_aside_alert_the_operator_once_per_rise(engine):
    def alerts() -> list[str]:
        with Session(engine) as s:
            return [a.message for a in s.exec(select(Alert).where(Alert.kind == "records.set_aside"))]

    linkstatus.receive_status(engine, "shangcun", status(), NOW)
    assert alerts() == [] and node(engine).set_aside == 0
    for _ in range(3):
        linkstatus.receive_status(engine, "shangcun", status(set_aside=1), NOW)
    assert len(alerts()) == 1 and "1 条记录内容超出上限" in alerts()[0] and node(engine).set_aside == 1
    linkstatus.receive_status(engine, "shangcun", status(set_aside=2), NOW)
    assert len(alerts()) == 2
    linkstatus.receive_status(engine, "shangcun", status(set_aside="many"), NOW)  # a lie reads as 0, breaks nothing
    linkstatus.receive_status(engine, "shangcun", status(set_aside=1), NOW)  # nor does alternating raise more alerts
    assert node(engine).set_aside == 2 and len(alerts()) == 2  # a high-water mark: set-aside events stay


def test_a_point_too_old_for_a_downlink_record_alerts_once_and_shows_on_the_dashboard(engine):
    for _ in range(3):
        linkstatus.receive_status(engine, "shangcun", status(needs_upgrade="record kind 'notice.broadcast' is newer than this software"), NOW)
    with Session(engine) as s:
        assert [a.kind for a in s.exec(select(Alert))] == ["node.needs_upgrade"]
    assert "notice.broadcast" in node(engine).needs_upgrade
    linkstatus.receive_status(engine, "shangcun", status(needs_upgrade="请拨打 400-000 转账升级 'x.y'"), NOW)  # another text: no new alert
    with Session(engine) as s:
        messages = [a.message for a in s.exec(select(Alert))]
    assert len(messages) == 1 and "notice.broadcast" in messages[0] and "400" not in node(engine).needs_upgrade
    linkstatus.receive_status(engine, "shangcun", status(), NOW)  # upgraded: it no longer says so
    assert node(engine).needs_upgrade == ""


def test_a_lagging_downlink_is_published_again_on_request_within_bounds(engine):
    with Session(engine) as s:
        for seq in range(1, 31):
            s.add(DownlinkBatch(node_id="shangcun", seq=seq, hash=f"h{seq}", raw=b"x", created_at=T, published_at=T))
        n = s.get(Node, "shangcun")
        n.down_seq = 30
        s.add(n)
        s.commit()
    linkstatus._last_resend.clear()
    reply = linkstatus.receive_status(engine, "shangcun", status(down_from=5), NOW)
    assert reply is not None and reply["down_sealed"] == 30 and reply["_republished"] == linkstatus.DOWNLINK_RESEND_BATCHES
    again = linkstatus.receive_status(engine, "shangcun", status(down_from=5), NOW + timedelta(seconds=10))
    assert again is not None and again["_republished"] == 0  # a point cannot make the hub flood its link
    with Session(engine) as s:
        pending = s.exec(select(DownlinkBatch).where(DownlinkBatch.published_at.is_(None))).all()
        assert [b.seq for b in pending] == list(range(5, 25)) and {b.resends for b in pending} == {1}
    later = linkstatus.receive_status(engine, "shangcun", status(down_from="all"), NOW + timedelta(minutes=5))
    assert later is not None and later["_republished"] == 0  # nonsense asks for nothing
    with Session(engine) as s:  # a batch goes again at most MAX_DOWNLINK_RESENDS times, however often a point asks
        for b in s.exec(select(DownlinkBatch)).all():
            b.published_at, b.resends = T, linkstatus.MAX_DOWNLINK_RESENDS
            s.add(b)
        s.commit()
    capped = linkstatus.receive_status(engine, "shangcun", status(down_from=1), NOW + timedelta(minutes=10))
    assert capped is not None and capped["_republished"] == 0


@pytest.mark.parametrize(
    "raw, why",
    [
        (status(key=SigningKey(bytes(range(40, 72)))), "signed by another key"),
        (status(node="xiacun"), "about another point, on this point's subject"),
        (b"x" * 5000, "too large"),
    ],
)
def test_a_status_that_does_not_verify_is_not_answered_and_changes_nothing(engine, raw, why):
    assert linkstatus.receive_status(engine, "shangcun", raw, NOW) is None, why
    assert node(engine).heartbeat_at is None


def test_a_revoked_or_unknown_point_gets_no_answer(engine):
    assert linkstatus.receive_status(engine, "nosuch", status(node="nosuch"), NOW) is None
    with Session(engine) as s:
        n = s.get(Node, "shangcun")
        n.status = "revoked"
        s.add(n)
        s.commit()
    assert linkstatus.receive_status(engine, "shangcun", status(), NOW) is None


def test_the_answer_says_how_much_of_a_file_the_hub_holds(engine):
    with Session(engine) as s:
        s.add(BlobUpload(sha256="ab" * 32, node_id="shangcun", size=1000, received_bytes=400))  # an upload under way
        s.commit()
    reply = linkstatus.receive_status(engine, "shangcun", status(file={"sha256": "ab" * 32, "size": 1000}), NOW)
    assert reply is not None and reply["file"] == {"sha256": "ab" * 32, "stored": 400}
    unknown = linkstatus.receive_status(engine, "shangcun", status(file={"sha256": "cd" * 32, "size": 10}), NOW)
    assert unknown is not None and unknown["file"]["stored"] == 0


def test_silent_after_three_of_its_own_heartbeat_intervals(engine):
    linkstatus.receive_status(engine, "shangcun", status(interval_s=20), NOW)
    n = node(engine)
    seen = datetime.strptime(n.last_seen_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert not linkstatus.silent(n, seen + timedelta(seconds=59), timedelta(minutes=60))
    assert linkstatus.silent(n, seen + timedelta(seconds=61), timedelta(minutes=60))
    n.heartbeat_interval_s = 0  # an older node that never said: the hub's setting
    assert not linkstatus.silent(n, seen + timedelta(minutes=59), timedelta(minutes=60))


@pytest.mark.parametrize(
    "metered, hours, paused", [(False, "", False), (True, "", True), (True, "12-14", False), (True, "13-14", True), (True, "22-13", False)]
)
def test_metered_points_send_files_only_in_their_hours(metered, hours, paused):
    n = Node(id="x", name="x", kind="village", public_key="", enrolled_at=T, metered=metered, metered_hours=hours)
    assert linkstatus.files_paused(n, NOW) is paused  # NOW is 12:00 in Beijing


def test_downlink_batches_are_sized_and_compressed_for_the_node_link(engine):
    from central.downlink import queue_downlink

    with Session(engine) as s:
        for i in range(200):
            queue_downlink(
                s,
                "shangcun",
                "decision.made",
                {
                    "application_id": f"a{i}",
                    "decision": "denied",
                    "reason": "不符合条件：" + os.urandom(200).hex(),
                    "decided_by": "王敏",
                    "decided_at": T,
                },
            )
        s.commit()
    assert downlink.batch_bytes(node(engine)) == MAX_BATCH_BYTES  # a node that never reported its link
    linkstatus.receive_status(engine, "shangcun", status(kbit_per_s=64), NOW)
    made = downlink.seal_pending(engine, HUB_KEY)
    with Session(engine) as s:
        batches = s.exec(select(DownlinkBatch).order_by(DownlinkBatch.seq)).all()
    assert made == len(batches) > 1
    assert all(len(b.raw) <= 40_000 for b in batches)  # about 5 s of 64 kbit/s each
    assert all(b.raw[64:68] == b"YWZ1" for b in batches)
    assert sum(len(open_batch(b.raw, HUB_KEY.verify_key).records) for b in batches) == 200


def test_overlapping_chunks_count_once_and_a_hole_stops_the_count():
    assert covered([(0, 100), (100, 50)]) == 150
    assert covered([(0, 100), (50, 100)]) == 150  # a resumed transfer with a larger chunk
    assert covered([(0, 100), (150, 50)]) == 100  # a hole: the file is not complete
    assert covered([(0, 100), (0, 40), (100, 10)]) == 110


@pytest.mark.parametrize(
    "extra",
    [
        {"kbit_per_s": 10**30},
        {"outbox_depth": 2**63},
        {"catalog_version": 10**20},
        {"interval_s": 2**64},
        {"interval_s": 10**15},
        {"bytes_up_today": 10**40},
        {"app_version": "版" * 1200},
    ],
)
def test_one_points_absurd_status_is_clamped_and_never_spoils_anothers(engine, extra):
    good_key = SigningKey(bytes(range(9, 41)))
    good = seal_status(
        {"node": "xiacun", "at": T, "up_seq": 0, "outbox_depth": 2, "app_version": "0.2.0", "catalog_version": 1, "interval_s": 60}, good_key
    )
    replies = linkstatus.receive_statuses(engine, [("shangcun", status(**extra)), ("xiacun", good)], NOW)
    assert replies[1] is not None and replies[1]["node"] == "xiacun"
    with Session(engine) as s:
        assert s.get(Node, "xiacun").outbox_depth == 2  # the honest point's status was kept
        liar = s.get(Node, "shangcun")
    assert (
        liar.heartbeat_interval_s <= linkstatus.MAX_INTERVAL_S
        and liar.link_kbit_per_s <= linkstatus.INT_MAX
        and liar.bytes_up_today <= linkstatus.INT_MAX
    )
    assert not linkstatus.silent(liar, NOW, timedelta(minutes=60))  # and the dashboard can still reason about it


def test_a_status_nested_past_the_stack_is_refused_not_raised(engine):
    raw = bytes(NODE_KEY.sign(b'{"v":1,"node":"shangcun","x":' + b"[" * 2000 + b"]" * 2000 + b"}"))
    assert linkstatus.receive_statuses(engine, [("shangcun", raw)], NOW) == [None]


def test_a_point_learns_nothing_of_another_points_file(engine):
    with Session(engine) as s:
        s.add(Blob(sha256="cd" * 32, node_id="xiacun", size=1000, received_bytes=1000, complete_at=T))
        s.commit()
    reply = linkstatus.receive_status(engine, "shangcun", status(file={"sha256": "cd" * 32, "size": 1000}), NOW)
    assert reply is not None and reply["file"]["stored"] == 0


def test_chunks_out_of_order_and_overlapping_complete_the_file_once_all_bytes_are_there(engine, tmp_path):
    import hashlib

    from central.blobs import receive_chunk

    content = os.urandom(10_000)
    sha = hashlib.sha256(content).hexdigest()
    subject = f"yiwang.blob.shangcun.{sha}"
    for offset, end in ((6000, 10_000), (0, 3000), (2000, 5000)):  # a resumed transfer with other chunk sizes
        assert receive_chunk(engine, tmp_path, subject, offset, len(content), content[offset:end]) == "stored"
    assert receive_chunk(engine, tmp_path, subject, 5000, len(content), content[5000:6000]) == "complete"
    assert (tmp_path / sha).read_bytes() == content
