"""The golden vectors: the code must produce exactly these bytes and reach exactly these verdicts.
A change to the wire format fails here until the vectors are regenerated on purpose
(``python -m tests.sync_protocol.make_vectors``) and docs/protocol.md says what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from sync_protocol import (
    Accepted,
    Batch,
    ChainPos,
    Duplicate,
    Fork,
    Gap,
    IngestCursor,
    Record,
    Rejected,
    batch_hash,
    encode_body,
    inflate_body,
    sign_batch,
    verify_key_from_text,
)

VECTORS = sorted((Path(__file__).parent / "vectors").glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def wire_of(v: dict) -> bytes:
    if "wire_hex" in v:
        return bytes.fromhex(v["wire_hex"])
    spec = v["wire_spec"]
    return bytes.fromhex(spec["signature_hex"]) + bytes.fromhex(spec["body_byte_hex"]) * spec["body_length"]


def batch_from(obj: dict) -> Batch:
    records = tuple(Record(r["kind"], r["id"], r["at"], r["data"]) for r in obj["records"])
    return Batch(node=obj["node"], direction=obj["dir"], seq=obj["seq"], prev=obj["prev"], created=obj["created"], records=records, v=obj["v"])


def test_there_is_a_vector_for_every_verdict():
    kinds = {load(p)["verdict"]["type"] for p in VECTORS}
    reasons = {load(p)["verdict"].get("reason") for p in VECTORS} - {None}
    assert kinds == {"Accepted", "Duplicate", "Gap", "Fork", "Rejected"}
    assert {"bad_signature", "unknown_sender", "wrong_stream", "unsupported_version", "malformed", "too_large", "invalid_record"} <= reasons


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path):
    v = load(path)
    wire = wire_of(v)
    assert batch_hash(wire) == v["hash"]
    if "batch" in v:
        batch = batch_from(v["batch"])
        body = encode_body(batch)
        assert body.hex() == v["body_hex"] and body.decode() == v["body_utf8"]
        key = SigningKey(bytes.fromhex(v["signer_seed"]))
        if "compressed_body_hex" in v:
            # the format is what inflates, not one zlib build's output: the stored bytes must
            # verify and inflate to the canonical body (another zlib may deflate differently)
            sent = bytes.fromhex(v["compressed_body_hex"])
            assert wire[64:] == sent and key.verify_key.verify(wire) == sent and inflate_body(sent) == body
        else:
            assert sign_batch(batch, key) == wire and wire[64:] == body
        assert wire[:64].hex() == v["signature_hex"]
    r = v["receiver"]
    key = verify_key_from_text(r["verify_key"]) if r["verify_key"] else None
    cursor = IngestCursor(r["node"], r["direction"], key, ChainPos(r["pos"]["seq"], r["pos"]["head"]))
    applied = {int(k): h for k, h in r["applied"].items()}
    verdict = cursor.receive(wire, applied.get)
    expected = v["verdict"]
    kind = {"Accepted": Accepted, "Duplicate": Duplicate, "Gap": Gap, "Fork": Fork, "Rejected": Rejected}[expected["type"]]
    assert isinstance(verdict, kind), verdict
    if isinstance(verdict, Accepted):
        assert verdict.batch.seq == expected["seq"] and verdict.hash == v["hash"] and cursor.pos == ChainPos(expected["seq"], v["hash"])
    else:
        assert cursor.pos == ChainPos(r["pos"]["seq"], r["pos"]["head"])  # nothing but Accepted moves the cursor
    if isinstance(verdict, Duplicate):
        assert verdict.seq == expected["seq"]
    if isinstance(verdict, Gap):
        assert (verdict.expected, verdict.got) == (expected["expected"], expected["got"])
    if isinstance(verdict, Fork):
        assert verdict.seq == expected["seq"] and verdict.got == v["hash"]
    if isinstance(verdict, Rejected):
        assert verdict.reason == expected["reason"]


def test_the_generator_reproduces_the_stored_vectors():
    from .make_vectors import build

    assert {v["name"]: v for v in build()} == {load(p)["name"]: load(p) for p in VECTORS}
