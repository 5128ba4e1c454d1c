"""Per-node, per-direction hash chain positions."""

from __future__ import annotations

from dataclasses import dataclass

GENESIS_HEAD = "0" * 64


@dataclass(frozen=True)
class ChainPos:
    """The last applied batch: its ``seq`` and the hash of its wire bytes (``head``)."""

    seq: int
    head: str

    def next_after(self, head: str) -> ChainPos:
        return ChainPos(self.seq + 1, head)


GENESIS = ChainPos(0, GENESIS_HEAD)
