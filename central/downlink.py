"""Hub → node: queue events in the caller's transaction, seal them into signed chained batches."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError
from sqlmodel import Session, col, select

from sync_protocol import COMPRESSION, MAX_BATCH_BYTES, MAX_RECORDS_PER_BATCH, ChainPos, LinkMeter, Record, record_size, seal_within

from .clock import utcnow
from .db import retry_conflicts, transaction
from .models import DownlinkBatch, DownlinkEvent, Node

log = logging.getLogger("yiwang.hub.downlink")


def queue_downlink(session: Session, node_id: str, kind: str, data: dict[str, Any]) -> str:
    """Add a downlink event inside the caller's transaction (atomic with the change it reports).
    An event larger than its kind may be is refused here (ValueError: ingest quarantines the
    batch that caused it), never queued: one record no batch can carry would stop the sealing of
    every point's downlink (issue 19 adversarial pass). Returns the event's id."""
    size, most = record_size(kind, data)
    if size > most:
        raise ValueError(f"downlink {kind} for {node_id} would be {size} bytes; at most {most}")
    event_id = str(uuid.uuid4())
    session.add(DownlinkEvent(id=event_id, node_id=node_id, kind=kind, data_json=json.dumps(data, ensure_ascii=False), created_at=utcnow()))
    return event_id


def batch_bytes(node: Node) -> int:
    """How large a downlink batch for ``node`` may be: about five seconds of the link it last
    reported (its status), or the protocol's limit for a node that never said."""
    return LinkMeter(bytes_per_s=node.link_kbit_per_s * 125).send_bytes() if node.link_kbit_per_s else MAX_BATCH_BYTES


def seal_pending(engine: Engine, key: SigningKey) -> int:
    """Seal every node's unbatched events into batches, each sized for that node's link and
    compressed if the node inflates; return how many batches were made."""
    return retry_conflicts(_seal_pending, engine, key)


def _seal_pending(engine: Engine, key: SigningKey) -> int:
    made = 0
    with transaction(engine) as session:
        node_ids = session.exec(select(DownlinkEvent.node_id).where(col(DownlinkEvent.batch_seq).is_(None)).distinct()).all()
        # in id order, each node's row locked (PostgreSQL) before its chain position is read: two
        # hub processes never seal the same events twice, and never wait on ingest in a cycle
        for node_id in sorted(node_ids):
            node = session.get(Node, node_id, with_for_update=True)
            if node is None or node.down_resync:
                continue  # (after a restore: sealed once the hub knows where the point's chain stands, central/recovery.py)
            try:
                with session.begin_nested():  # one point's failure never holds up the others' downlink
                    made += _seal_node(session, node, key)
            except (ValueError, ArithmeticError, DataError) as exc:
                log.error("downlink of %s not sealed: %s", node_id, exc)
    return made


def _seal_node(session: Session, node: Node, key: SigningKey) -> int:
    made = 0
    while True:
        events = session.exec(
            select(DownlinkEvent)
            .where(DownlinkEvent.node_id == node.id, col(DownlinkEvent.batch_seq).is_(None))
            .order_by(col(DownlinkEvent.created_at))
            .limit(MAX_RECORDS_PER_BATCH)
        ).all()
        if not events:
            return made  # all sealed (or another process sealed them while this one waited for the lock)
        records = [Record(e.kind, e.id, e.created_at, json.loads(e.data_json)) for e in events]
        now = utcnow()
        # the batch names the node whose chain it extends; the hub key signs it
        wire, pos, count = seal_within(
            node.id, "down", ChainPos(node.down_seq, node.down_head), records, now, key, batch_bytes(node), node.compression == COMPRESSION
        )
        session.add(DownlinkBatch(node_id=node.id, seq=pos.seq, hash=pos.head, raw=wire, created_at=now))
        for e in events[:count]:
            e.batch_seq = pos.seq
            session.add(e)
        node.down_seq, node.down_head = pos.seq, pos.head
        session.add(node)
        session.flush()
        made += 1


def unpublished(engine: Engine) -> list[DownlinkBatch]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(DownlinkBatch).where(col(DownlinkBatch.published_at).is_(None)).order_by(col(DownlinkBatch.node_id), col(DownlinkBatch.seq))
            ).all()
        )


def mark_published(engine: Engine, node_id: str, seq: int) -> None:
    with transaction(engine) as session:
        batch = session.get(DownlinkBatch, (node_id, seq))
        if batch is not None and batch.published_at is None:
            batch.published_at = utcnow()
            session.add(batch)
