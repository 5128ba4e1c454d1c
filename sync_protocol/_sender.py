"""Send side: turn the next run of records into signed wire bytes linked to the chain head."""

from __future__ import annotations

from typing import Iterable

from nacl.signing import SigningKey

from ._chain import ChainPos
from ._envelope import Batch, Direction, Record
from ._signing import batch_hash, sign_batch


def seal_next(
    node: str,
    direction: Direction,
    after: ChainPos,
    records: Iterable[Record],
    created: str,
    key: SigningKey,
) -> tuple[bytes, ChainPos]:
    """Sign the batch that follows ``after``; return its wire bytes and the new chain position.

    The caller stores the wire bytes with the new position in one transaction and re-sends those
    same bytes on every retry: Ed25519 is deterministic, but the bytes are the record."""
    batch = Batch(node=node, direction=direction, seq=after.seq + 1, prev=after.head, created=created, records=tuple(records))
    wire = sign_batch(batch, key)
    return wire, ChainPos(batch.seq, batch_hash(wire))
