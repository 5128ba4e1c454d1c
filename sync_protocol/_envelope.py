"""Records and batches, and their canonical body encoding (unsigned)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from ._canonical import canonical_bytes
from ._errors import Malformed, UnsupportedVersion

PROTOCOL_VERSION = 1
MAX_BATCH_BYTES = 900_000  # below NATS' default max_payload of 1 MiB, with room for headers
MAX_RECORDS_PER_BATCH = 500

Direction = Literal["up", "down"]


@dataclass(frozen=True)
class Record:
    """One state change. ``id`` is unique forever (a UUID), so applying it twice is detectable."""

    kind: str
    id: str
    at: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_obj(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "at": self.at, "data": self.data}


@dataclass(frozen=True)
class Batch:
    """A signed unit of sync: ``seq`` counts from 1 per node and direction, ``prev`` is the
    SHA-256 (hex) of the previous batch's wire bytes, or GENESIS_HEAD for seq 1."""

    node: str
    direction: Direction
    seq: int
    prev: str
    created: str
    records: tuple[Record, ...]
    v: int = PROTOCOL_VERSION

    def to_obj(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "node": self.node,
            "dir": self.direction,
            "seq": self.seq,
            "prev": self.prev,
            "created": self.created,
            "records": [r.to_obj() for r in self.records],
        }


def encode_body(batch: Batch) -> bytes:
    return canonical_bytes(batch.to_obj())


def require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Malformed(f"field {key!r} missing or not {getattr(kind, '__name__', kind)}")
    return value


def json_object(body: bytes, what: str = "body") -> dict[str, Any]:
    """The JSON object in verified bytes; Malformed if they are not one."""
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"{what} is not UTF-8 JSON: {exc}") from None
    except (RecursionError, ValueError) as exc:  # nested past Python's stack, or an integer of thousands of digits
        raise Malformed(f"{what} cannot be decoded: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise Malformed(f"{what} is not an object")
    return obj


def decode_body(body: bytes) -> Batch:
    """Decode verified body bytes into a Batch; raise Malformed / UnsupportedVersion."""
    obj = json_object(body)
    if obj.get("v") != PROTOCOL_VERSION:
        raise UnsupportedVersion(obj.get("v"))
    direction = require(obj, "dir", str)
    if direction not in ("up", "down"):
        raise Malformed(f"dir must be 'up' or 'down', got {direction!r}")
    seq = require(obj, "seq", int)
    if seq < 1:
        raise Malformed("seq starts at 1")
    raw_records = require(obj, "records", list)
    if len(raw_records) > MAX_RECORDS_PER_BATCH:
        raise Malformed(f"{len(raw_records)} records, the limit is {MAX_RECORDS_PER_BATCH}")
    records = []
    for raw in raw_records:
        if not isinstance(raw, dict):
            raise Malformed("record is not an object")
        records.append(
            Record(
                kind=require(raw, "kind", str),
                id=require(raw, "id", str),
                at=require(raw, "at", str),
                data=require(raw, "data", dict),
            )
        )
    prev = require(obj, "prev", str)
    if len(prev) != 64:
        raise Malformed("prev must be 64 hex characters")
    return Batch(
        node=require(obj, "node", str),
        direction=direction,
        seq=seq,
        prev=prev,
        created=require(obj, "created", str),
        records=tuple(records),
    )
