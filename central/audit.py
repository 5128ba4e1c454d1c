"""Re-verify the audit trail: every stored batch of every node, from its raw bytes.

The signed batches kept at the hub *are* the record (全程留痕、过往可溯). This walks each node's
uplink chain with the key in force at each position (a replaced device's key takes over where the
old one stopped) and its downlink chain with the hub key, from genesis, through the
same IngestCursor the ingest used, and checks the stored hash and the node's live cursor too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nacl.signing import VerifyKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import GENESIS, Accepted, ChainPos, Direction, IngestCursor, batch_hash, verify_key_from_text

from .models import DownlinkBatch, Node, NodeKey, UplinkBatch


@dataclass(frozen=True)
class ChainReport:
    node_id: str
    direction: Direction
    batches: int
    head: ChainPos
    first_bad: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def _walk(
    node_id: str, direction: Direction, keys: list[tuple[int, VerifyKey]], rows: Iterable[tuple[int, str, bytes]], expected_head: ChainPos
) -> ChainReport:
    """``keys``: (from_seq, key) in order; each batch is verified with the key in force at its seq."""
    cursor = IngestCursor(node_id, direction, keys[0][1], GENESIS)
    hashes: dict[int, str] = {}
    count = 0
    for seq, stored_hash, raw in rows:
        count += 1
        cursor.verify_key = next(key for from_seq, key in reversed(keys) if from_seq <= seq) if seq >= keys[0][0] else None
        if seq != cursor.pos.seq + 1:
            return ChainReport(
                node_id, direction, count, cursor.pos, cursor.pos.seq + 1, f"batch {cursor.pos.seq + 1} is missing (next stored is {seq})"
            )
        verdict = cursor.receive(raw, hashes.get)
        if not isinstance(verdict, Accepted):
            return ChainReport(node_id, direction, count, cursor.pos, seq, f"does not verify: {verdict}")
        if stored_hash != batch_hash(raw):
            return ChainReport(node_id, direction, count, cursor.pos, seq, "stored hash does not match the stored bytes")
        hashes[seq] = verdict.hash
    if cursor.pos != expected_head:
        return ChainReport(
            node_id,
            direction,
            count,
            cursor.pos,
            cursor.pos.seq + 1,
            f"the live cursor says {expected_head.seq}/{expected_head.head[:12]}…, the stored chain ends at {cursor.pos.seq}",
        )
    return ChainReport(node_id, direction, count, cursor.pos)


def verify_all(engine: Engine, hub_key: VerifyKey) -> list[ChainReport]:
    """One report per node and direction, in node order."""
    reports = []
    with Session(engine) as session:
        for node in session.exec(select(Node).order_by(Node.id)).all():
            up = session.execute(
                select(UplinkBatch.seq, UplinkBatch.hash, UplinkBatch.raw).where(UplinkBatch.node_id == node.id).order_by(col(UplinkBatch.seq))
            ).yield_per(200)
            keys = session.exec(select(NodeKey).where(NodeKey.node_id == node.id).order_by(col(NodeKey.from_seq))).all()
            key_history = [(k.from_seq, verify_key_from_text(k.public_key)) for k in keys] or [(1, verify_key_from_text(node.public_key))]
            reports.append(_walk(node.id, "up", key_history, up, ChainPos(node.up_seq, node.up_head)))
            down = session.execute(
                select(DownlinkBatch.seq, DownlinkBatch.hash, DownlinkBatch.raw)
                .where(DownlinkBatch.node_id == node.id)
                .order_by(col(DownlinkBatch.seq))
            ).yield_per(200)
            reports.append(_walk(node.id, "down", [(1, hub_key)], down, ChainPos(node.down_seq, node.down_head)))
    return reports


def format_reports(reports: list[ChainReport]) -> str:
    lines = [f"{'node':<20} {'dir':<5} {'batches':>8}  {'head':<28} result"]
    for r in reports:
        head = f"{r.head.seq}/{r.head.head[:16]}…"
        result = "ok" if r.ok else f"FIRST BAD at seq {r.first_bad}: {r.problem}"
        lines.append(f"{r.node_id:<20} {r.direction:<5} {r.batches:>8}  {head:<28} {result}")
    bad = [r for r in reports if not r.ok]
    lines.append(f"{len(reports) - len(bad)} of {len(reports)} chains verify" + ("" if not bad else f"; {len(bad)} do NOT — see above"))
    return "\n".join(lines)
