"""After a restore, the downlink batches the hub lost come back from the point that applied them
(central/recovery.py): kept only when they verify with the hub's own key, are that point's, sit
at the asked position and chain back to the restored database. A point that lies about its head
can only hold up its own downlink; its forged batch is refused with an alert."""

from __future__ import annotations

from pathlib import Path

from nacl.signing import SigningKey
from sqlmodel import Session, select

from central import downlink, recovery
from central.audit import verify_all
from central.models import Alert, Blob, DownlinkBatch, Node
from sync_protocol import GENESIS_HEAD, RESEND_REQUEST, Batch, Record, batch_hash, sign_batch
from tests.support.builders import NODE_KEY, T

HUB = SigningKey(b"h" * 32)


def chain(n: int, key: SigningKey = HUB, node: str = "shangcun") -> list[bytes]:
    out, prev = [], GENESIS_HEAD
    for seq in range(1, n + 1):
        raw = sign_batch(Batch(node, "down", seq, prev, T, (Record(RESEND_REQUEST, f"e{seq}", T, {"from_seq": seq}),)), key)
        out.append(raw)
        prev = batch_hash(raw)
    return out


def arrive(session: Session, blobs: Path, raw: bytes) -> None:
    """The point's file, complete at the hub (as the file channel leaves it)."""
    sha = batch_hash(raw)
    (blobs / sha).write_bytes(raw)
    session.merge(Blob(sha256=sha, node_id="shangcun", size=len(raw), received_bytes=len(raw), complete_at=T))


def restored(engine, batches: list[bytes], kept: int) -> None:
    """A hub restored with the first ``kept`` batches; the point applied all of them."""
    with Session(engine) as s:
        node = s.get(Node, "shangcun")
        for seq, raw in enumerate(batches[:kept], start=1):
            s.add(DownlinkBatch(node_id="shangcun", seq=seq, hash=batch_hash(raw), raw=raw, created_at=T, published_at=T))
        node.down_seq, node.down_head, node.down_resync = kept, batch_hash(batches[kept - 1]), True
        s.add(node)
        s.commit()


def test_lost_batches_come_back_one_by_one_until_the_chain_is_whole(engine, tmp_path: Path):
    batches = chain(4)
    restored(engine, batches, kept=1)
    with Session(engine) as s:
        recovery.adopt_down_head(s, s.get(Node, "shangcun"), 4, batch_hash(batches[3]))
        s.commit()
        node = s.get(Node, "shangcun")
        assert (node.down_seq, node.down_resync) == (1, True)  # held until the hub has its own batch 4 back
        assert recovery.wanted(s, "shangcun") == [batch_hash(batches[3])]
    for seq in (4, 3, 2):
        with Session(engine) as s:
            arrive(s, tmp_path, batches[seq - 1])
            s.commit()
        assert recovery.collect(engine, tmp_path, HUB.verify_key) == 1
        with Session(engine) as s:
            node = s.get(Node, "shangcun")
            assert (node.down_seq, node.down_resync) == (4, False)  # the next batch follows the point's last
            assert recovery.wanted(s, "shangcun") == ([batch_hash(batches[seq - 2])] if seq > 2 else [])
    reports = {r.direction: r for r in verify_all(engine, HUB.verify_key)}
    assert reports["down"].ok and reports["down"].batches == 4


def test_a_forged_head_holds_up_only_that_points_own_downlink(engine, tmp_path: Path):
    batches = chain(2)
    restored(engine, batches, kept=1)
    forged = chain(3, key=NODE_KEY)[2]  # signed by the point's own key, not the hub's
    with Session(engine) as s:
        recovery.adopt_down_head(s, s.get(Node, "shangcun"), 2**31 - 1, batch_hash(forged))  # the highest position there is
        arrive(s, tmp_path, forged)
        s.commit()
    assert recovery.collect(engine, tmp_path, HUB.verify_key) == 0
    with Session(engine) as s:
        node = s.get(Node, "shangcun")
        assert (node.down_seq, node.down_resync) == (1, True)  # its word moved nothing: it stays held, alone
        assert s.get(DownlinkBatch, ("shangcun", 2**31 - 1)) is None
        assert [a.kind for a in s.exec(select(Alert)).all()] == ["downlink.return_refused"]
        assert recovery.wanted(s, "shangcun") == []  # asked once, not again and again
        recovery.adopt_down_head(s, s.get(Node, "shangcun"), 2**31 - 1, batch_hash(forged))
        recovery.adopt_down_head(s, s.get(Node, "shangcun"), 2**63 - 1, batch_hash(forged))  # beyond any column: ignored
        s.commit()
        assert recovery.wanted(s, "shangcun") == []
    assert downlink.seal_pending(engine, HUB) == 0  # sealing goes on (for the others), without an error


def test_a_point_too_old_to_say_its_head_stays_held(engine):
    batches = chain(2)
    restored(engine, batches, kept=1)
    with Session(engine) as s:
        recovery.adopt_down_head(s, s.get(Node, "shangcun"), 2, None)
        assert s.get(Node, "shangcun").down_resync  # nothing is sealed for it: no fork
        recovery.adopt_down_head(s, s.get(Node, "shangcun"), 1, None)  # it lacks nothing the hub has
        assert not s.get(Node, "shangcun").down_resync


def test_the_cases_whose_steps_a_restore_lost_are_named_for_the_clerk(engine, tmp_path: Path):
    """New-user pass: after a restore the village showed 不予批准 while the hub had the case waiting
    for 受理 again, and the only alert named batch numbers: the clerk had nothing to find it by."""
    from central.ingest import ingest_batch
    from central.models import DownlinkEvent
    from sync_protocol import APPLICATION_ACCEPTED, DECISION_MADE
    from tests.support.builders import chain as uplink
    from tests.support.builders import received

    ingest_batch(engine, "yiwang.up.shangcun", uplink([received(1), received(2)])[0])
    accepted = Record(APPLICATION_ACCEPTED, "acc-1", T, {"application_id": "app1", "by": "clerk-mzj", "at": T})
    denied = Record(DECISION_MADE, "dec-1", T, {"application_id": "app1", "decision": "deny", "decided_by": "clerk-mzj", "decided_at": T})
    resealed = Record(APPLICATION_ACCEPTED, "acc-2", T, {"application_id": "app2", "by": "clerk-mzj", "at": T})
    batches = chain(1)
    batches.append(sign_batch(Batch("shangcun", "down", 2, batch_hash(batches[0]), T, (accepted, denied, resealed)), HUB))
    restored(engine, batches, kept=1)
    with Session(engine) as s:  # the restored database still holds app2's 受理, not yet sealed: it goes again, it is not lost
        s.add(DownlinkEvent(id="acc-2", node_id="shangcun", kind=APPLICATION_ACCEPTED, data_json="{}", created_at=T))
        recovery.adopt_down_head(s, s.get(Node, "shangcun"), 2, batch_hash(batches[1]))
        s.commit()
        arrive(s, tmp_path, batches[1])
        s.commit()
    assert recovery.collect(engine, tmp_path, HUB.verify_key) == 1
    with Session(engine) as s:
        [lost] = s.exec(select(Alert).where(Alert.kind == "restore.steps_lost")).all()
    assert lost.node_id == "shangcun" and "shangcun-000001（受理）、shangcun-000001（决定）" in lost.message and "000002" not in lost.message
