"""Receive-side cursor: classify one incoming batch against what has been applied.

Rules of this file:
- It never does I/O. The caller loads the position (and, for old positions, the stored hash)
  from its database, asks for a verdict, and — only for Accepted — applies the records and stores
  the new position in the same transaction.
- Every batch is exactly one of Accepted, Duplicate, Gap, Fork or Rejected.
- Records are checked against their kind's fields only for a batch about to be accepted: a
  duplicate is harmless whatever it holds, and a fork is a security event whatever it holds.
- The signature is checked before anything in the body is believed; a batch whose signer is
  unknown or revoked is Rejected without being decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nacl.signing import VerifyKey

from ._chain import ChainPos
from ._envelope import Batch, Direction
from ._errors import RemoteProtocolError
from ._records import RECORD_SPECS, record_problem
from ._signing import batch_hash, open_batch

UNKNOWN_KIND = "unknown_kind"  # a Rejected reason: the batch is fine, this software is too old for it


@dataclass(frozen=True)
class Accepted:
    batch: Batch
    hash: str

    @property
    def new_pos(self) -> ChainPos:
        return ChainPos(self.batch.seq, self.hash)


@dataclass(frozen=True)
class Duplicate:
    """Already applied, byte for byte: acknowledge and change nothing."""

    seq: int


@dataclass(frozen=True)
class Gap:
    """Ahead of the cursor: batches ``expected`` .. ``got - 1`` have not arrived."""

    expected: int
    got: int


@dataclass(frozen=True)
class Fork:
    """A different batch at a position already applied (or one that does not link to the
    head): the sender's history diverges from ours. A security event."""

    seq: int
    known: str | None
    got: str


@dataclass(frozen=True)
class Rejected:
    reason: str
    detail: str = ""


Verdict = Accepted | Duplicate | Gap | Fork | Rejected


class IngestCursor:
    """One node's chain in one direction, as seen by its receiver. ``verify_key`` is the node's
    key for uplink and the hub's key for downlink; ``node`` always names the node whose chain it
    is, so a hub-signed batch for one node cannot be replayed to another."""

    def __init__(self, node: str, direction: Direction, verify_key: VerifyKey | None, pos: ChainPos) -> None:
        self.node = node
        self.direction = direction
        self.verify_key = verify_key
        self.pos = pos

    def receive(self, raw: bytes, hash_at: Callable[[int], str | None]) -> Verdict:
        """Classify ``raw``. ``hash_at(seq)`` returns the stored hash of an applied batch."""
        if self.verify_key is None:
            return Rejected("unknown_sender", f"no trusted key for {self.node!r}/{self.direction}")
        try:
            batch = open_batch(raw, self.verify_key)
        except RemoteProtocolError as exc:
            return Rejected(exc.reason, str(exc))
        if batch.node != self.node or batch.direction != self.direction:
            return Rejected("wrong_stream", f"batch is for {batch.node}/{batch.direction}, arrived on {self.node}/{self.direction}")
        digest = batch_hash(raw)
        if batch.seq <= self.pos.seq:
            known = hash_at(batch.seq)
            if known == digest:
                return Duplicate(batch.seq)
            return Fork(batch.seq, known, digest)
        if batch.seq > self.pos.seq + 1:
            return Gap(self.pos.seq + 1, batch.seq)
        if batch.prev != self.pos.head:
            return Fork(batch.seq, None, digest)
        for record in batch.records:
            if record.kind not in RECORD_SPECS:
                # signed and in order, but newer than this code: the receiver holds it until it is
                # upgraded (docs/protocol.md, Versioning), never drops it
                return Rejected(UNKNOWN_KIND, f"record kind {record.kind!r} is newer than this software")
            problem = record_problem(record, self.direction)
            if problem is not None:
                return Rejected("invalid_record", problem)
        self.pos = ChainPos(batch.seq, digest)
        return Accepted(batch, digest)
