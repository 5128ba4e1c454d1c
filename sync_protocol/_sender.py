"""Send side: turn the next run of records into signed wire bytes linked to the chain head."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nacl.signing import SigningKey

from ._chain import ChainPos
from ._envelope import Batch, Direction, Record
from ._errors import TooLarge
from ._signing import batch_hash, sign_batch


def seal_next(
    node: str,
    direction: Direction,
    after: ChainPos,
    records: Iterable[Record],
    created: str,
    key: SigningKey,
    compress: bool = False,
) -> tuple[bytes, ChainPos]:
    """Sign the batch that follows ``after``; return its wire bytes and the new chain position.

    The caller stores the wire bytes with the new position in one transaction and re-sends those
    same bytes on every retry: Ed25519 is deterministic, but the bytes are the record."""
    batch = Batch(node=node, direction=direction, seq=after.seq + 1, prev=after.head, created=created, records=tuple(records))
    wire = sign_batch(batch, key, compress)
    return wire, ChainPos(batch.seq, batch_hash(wire))


def seal_within(
    node: str,
    direction: Direction,
    after: ChainPos,
    records: Sequence[Record],
    created: str,
    key: SigningKey,
    max_bytes: int,
    compress: bool = False,
) -> tuple[bytes, ChainPos, int]:
    """Seal the longest run of ``records`` from the first whose wire bytes fit ``max_bytes`` (at
    least one record, whatever its size); return the wire bytes, the new position and how many
    records went in. A send sized for the link (``LinkMeter.send_bytes``) then never has to be
    split after it was signed. Binary search: a few encodings of at most 500 records."""
    if not records:
        raise ValueError("nothing to seal")

    def attempt(count: int) -> tuple[bytes, ChainPos] | None:
        """The first ``count`` records sealed, or None if they are over MAX_BATCH_BYTES."""
        try:
            return seal_next(node, direction, after, records[:count], created, key, compress)
        except TooLarge:
            return None

    best = seal_next(node, direction, after, records[:1], created, key, compress)  # TooLarge: no batch can carry this record
    low, high = 1, len(records)
    if len(best[0]) <= max_bytes:
        whole = attempt(high) if high > 1 else best
        if whole is not None and len(whole[0]) <= max_bytes:
            return whole[0], whole[1], high
    else:
        return best[0], best[1], 1
    while high - low > 1:  # records[:low] fits, records[:high] does not
        mid = (low + high) // 2
        sealed = attempt(mid)
        if sealed is not None and len(sealed[0]) <= max_bytes:
            low, best = mid, sealed
        else:
            high = mid
    return best[0], best[1], low
