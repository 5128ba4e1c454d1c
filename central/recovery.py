"""After `yiwang hub restore` (central/backup.py): the downlink goes on where each point stands,
and the batches the restored database lost come back from the points that applied them.

The restored database may lack downlink batches a point applied (sealed after the backup). A
batch sealed from the restored position would reuse their positions, and the point would set it
aside as a fork. So nothing is sealed for a point (``Node.down_resync``) until the hub knows where
the point's chain stands. The point's status says the seq and hash of the last batch it applied
(adopt_down_head); when that is later than the restored position, the hub asks the point for
that batch by its hash (a batch's chain hash is the SHA-256 of its bytes), and the point sends it
as a file, over the same resumable, link-sized channel as material photos. Only once it verifies
with the hub's own key, names that point and sits at that position does the hub continue after
it (collect): the hub continues from a batch it signed itself, never from a point's word. Each
batch names the one before it, which is asked for in turn until the chain joins the restored
one; `yiwang hub audit verify` then finds no hole.

A point can only hold up its own downlink this way (what it claims is checked against the hub's
own signature). A point too old to send ``down_head`` stays held until it is upgraded.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from nacl.signing import VerifyKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import (
    APPLICATION_ACCEPTED,
    APPLICATION_NOT_ACCEPTED,
    CLOCK_RESUMED,
    CLOCK_SUSPENDED,
    DECISION_MADE,
    DECISION_REVOKED,
    RESULT_ISSUED,
    SUPPLEMENT_REQUESTED,
    Batch,
    SyncError,
    batch_hash,
    open_batch,
)

from .clock import utcnow
from .db import transaction
from .models import Alert, Application, Blob, DownlinkBatch, DownlinkEvent, DownlinkReturn, Node

log = logging.getLogger("yiwang.hub.recovery")
HEAD_PATTERN = re.compile(r"[0-9a-f]{64}")
PER_REPLY = 10  # hashes named in one status answer


MAX_SEQ = 2**31 - 1  # a downlink position the database can hold (PostgreSQL integer)


def adopt_down_head(session: Session, node: Node, applied: Any, head: Any) -> None:
    """In the transaction of the point's status: where is its downlink? No later than the hub's:
    sealing goes on at once. Later: the hub asks for that batch back and goes on after it once
    it has verified it (collect)."""
    if not node.down_resync or not isinstance(applied, int) or isinstance(applied, bool) or not 0 <= applied <= MAX_SEQ:
        return
    if applied <= node.down_seq:
        node.down_resync = False  # it lacks nothing this database has: the next batch follows on
        return
    if not isinstance(head, str) or not HEAD_PATTERN.fullmatch(head) or session.get(DownlinkReturn, (node.id, head)) is not None:
        return  # asked already (or refused: a point that names a batch the hub did not sign stays held)
    session.add(DownlinkReturn(node_id=node.id, sha256=head, seq=applied, joins_at=node.down_seq, requested_at=utcnow(), head=True))
    log.warning(
        "downlink of %s held: it applied up to seq %d, this hub's restored database to %d; asking for its batch %d",
        node.id,
        applied,
        node.down_seq,
        applied,
    )


def wanted(session: Session, node_id: str) -> list[str]:
    """The hashes of lost batches to ask this point for (its status answer)."""
    rows = session.exec(
        select(DownlinkReturn.sha256)
        .where(DownlinkReturn.node_id == node_id, col(DownlinkReturn.returned_at).is_(None))
        .order_by(col(DownlinkReturn.seq).desc())
        .limit(PER_REPLY)
    ).all()
    return list(rows)


def collect(engine: Engine, blobs_dir: Path, hub_key: VerifyKey) -> int:
    """Keep every asked-for batch whose file has arrived; return how many were kept."""
    with Session(engine) as look:  # a read first: the downlink loop calls this every few seconds, and a restore is rare
        if look.exec(select(DownlinkReturn.node_id).where(col(DownlinkReturn.returned_at).is_(None)).limit(1)).first() is None:
            return 0
    kept = 0
    with transaction(engine) as session:
        waiting = session.exec(
            select(DownlinkReturn, Blob)
            .join(Blob, col(Blob.sha256) == col(DownlinkReturn.sha256))
            .where(col(DownlinkReturn.returned_at).is_(None), col(Blob.complete_at).is_not(None))
        ).all()
        for want, _ in waiting:
            kept += _keep(session, want, blobs_dir / want.sha256, hub_key)
    return kept


def _keep(session: Session, want: DownlinkReturn, path: Path, hub_key: VerifyKey) -> int:
    want.returned_at = utcnow()
    session.add(want)
    raw = path.read_bytes() if path.exists() else b""
    try:
        batch = open_batch(raw, hub_key)
    except SyncError as exc:
        return _refuse(session, want, f"does not verify with this hub's key ({exc})")
    if batch_hash(raw) != want.sha256 or batch.node != want.node_id or batch.direction != "down" or batch.seq != want.seq:
        return _refuse(session, want, f"is {batch.node}/{batch.direction}/{batch.seq}, not {want.node_id}/down/{want.seq}")
    session.merge(DownlinkBatch(node_id=want.node_id, seq=batch.seq, hash=want.sha256, raw=raw, created_at=batch.created, published_at=utcnow()))
    _steps_lost(session, want.node_id, batch)
    path.unlink(missing_ok=True)  # kept in the database, as every downlink batch is
    node = session.get(Node, want.node_id, with_for_update=True)
    if want.head and node is not None and node.down_resync and batch.seq > node.down_seq:
        log.warning("downlink of %s continues after its seq %d, a batch this hub signed before its restore", node.id, batch.seq)
        message = f"恢复备份后，节点已有下行批次 {want.joins_at + 1}–{batch.seq}：本中枢已从第 {batch.seq} 批接续，并向节点取回其余批次"
        session.add(Alert(kind="downlink.resumed", node_id=node.id, message=message, created_at=utcnow()))
        node.down_seq, node.down_head, node.down_resync = batch.seq, want.sha256, False
        session.add(node)
    if batch.seq - 1 > want.joins_at:
        session.merge(DownlinkReturn(node_id=want.node_id, sha256=batch.prev, seq=batch.seq - 1, joins_at=want.joins_at, requested_at=utcnow()))
    else:
        joined = session.get(DownlinkBatch, (want.node_id, want.joins_at))
        if want.joins_at and (joined is None or joined.hash != batch.prev):
            return _refuse(session, want, f"does not follow this hub's batch {want.joins_at}")
        log.info("downlink of %s whole again: batches %d and on returned by the point", want.node_id, want.joins_at + 1)
    return 1


# what a clerk did that a point applied: a restore that lost it leaves the point ahead of the county
STEPS = {
    APPLICATION_ACCEPTED: "受理",
    APPLICATION_NOT_ACCEPTED: "不予受理",
    SUPPLEMENT_REQUESTED: "补正告知",
    DECISION_MADE: "决定",
    DECISION_REVOKED: "撤销决定",
    RESULT_ISSUED: "出具结果",
    CLOCK_SUSPENDED: "中止计时",
    CLOCK_RESUMED: "恢复计时",
}
LISTED = 20  # cases named in one alert


def _steps_lost(session: Session, node_id: str, batch: Batch) -> None:
    """Name the cases whose steps came back in a returned batch: the point shows them done, the
    restored hub does not (the new-user pass found nothing to find them by). A step whose event
    the restored database still holds is sealed again, not lost."""
    kept = set(session.exec(select(DownlinkEvent.id).where(col(DownlinkEvent.id).in_([r.id for r in batch.records]))).all())
    steps = [(r.data.get("application_id"), STEPS[r.kind]) for r in batch.records if r.kind in STEPS and r.id not in kept]
    ids = {case for case, _ in steps if isinstance(case, str)}
    if not ids:
        return
    receipts = dict(session.exec(select(Application.id, Application.receipt_no).where(col(Application.id).in_(ids))).all())
    named = [f"{receipts[case]}（{step}）" for case, step in steps if case in receipts]
    if named:
        more = f" 等 {len(named)} 项" if len(named) > LISTED else ""
        message = f"恢复备份后，服务点已执行、本中枢已丢失的办理环节（下行第 {batch.seq} 批）：{'、'.join(named[:LISTED])}{more}。请在办件页核对并重新办理，服务点将收到新的结果"
        session.add(Alert(kind="restore.steps_lost", node_id=node_id, message=message, created_at=utcnow()))


def _refuse(session: Session, want: DownlinkReturn, why: str) -> int:
    log.warning("downlink batch %d returned by %s refused: it %s", want.seq, want.node_id, why)
    message = f"节点交回的下行批次 {want.seq} 未被采用：{why}"
    session.add(Alert(kind="downlink.return_refused", node_id=want.node_id, message=message, created_at=utcnow()))
    return 0
