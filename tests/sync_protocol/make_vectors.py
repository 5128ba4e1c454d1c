"""Write the golden vectors in tests/sync_protocol/vectors/ (deterministic: fixed keys and times).

    python -m tests.sync_protocol.make_vectors

Each vector holds the input batch (where the bytes are a faithful encoding of one), the exact body
bytes, the signature made with a fixed test key, the wire bytes and their hash, the receiver's
state, and the verdict the receiver must reach. Regenerate only on purpose: the test compares the
code against these files, so a silent change to the wire format fails it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from sync_protocol import (
    GENESIS,
    MAX_BATCH_BYTES,
    MAX_BODY_BYTES,
    Batch,
    ChainPos,
    Record,
    batch_hash,
    compress_body,
    encode_body,
    seal_next,
    verify_key_to_text,
)

HERE = Path(__file__).parent / "vectors"
NODE_SEED = bytes(range(32))
HUB_SEED = bytes(range(32, 64))
OTHER_SEED = bytes(range(64, 96))
T = "2026-11-23T08:00:00.000000Z"


def application(i: int) -> Record:
    return Record(
        "application.received",
        f"00000000-0000-4000-8000-{i:012d}",
        T,
        {
            "application_id": f"a{i}",
            "receipt_no": f"shangcun-{i:06d}",
            "item_code": "MZ-003",
            "item_name": "高龄津贴申领",
            "applicant_name": "张秀英",
            "applicant_id_number": "11010519491231002X",
            "agent": "agent",
            "proxy_agent": "王秀兰",
        },
    )


def decision(i: int) -> Record:
    return Record(
        "decision.made",
        f"00000000-0000-4000-9000-{i:012d}",
        T,
        {
            "application_id": f"a{i}",
            "decision": "approved",
            "reason": "",
            "decided_by": "王敏",
            "decided_at": T,
        },
    )


def receiver(node: str, direction: str, key: SigningKey | None, pos: ChainPos, applied: dict[int, str]) -> dict[str, Any]:
    return {
        "node": node,
        "direction": direction,
        "verify_key": verify_key_to_text(key.verify_key) if key else None,
        "pos": {"seq": pos.seq, "head": pos.head},
        "applied": {str(k): v for k, v in applied.items()},
    }


def vector(
    name: str,
    description: str,
    wire: bytes,
    recv: dict[str, Any],
    verdict: dict[str, Any],
    batch: Batch | None = None,
    signer: str | None = None,
    compressed: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "description": description}
    if batch is not None:
        body = encode_body(batch)
        out |= {"signer_seed": signer, "batch": batch.to_obj(), "body_utf8": body.decode(), "body_hex": body.hex(), "signature_hex": wire[:64].hex()}
        if compressed:
            out |= {"compressed_body_hex": compress_body(body).hex()}
    if len(wire) > 4096 and len(set(wire[64:])) == 1:  # described, not spelled out: signature || body_length × body_byte
        out |= {"wire_spec": {"signature_hex": wire[:64].hex(), "body_byte_hex": wire[64:65].hex(), "body_length": len(wire) - 64}}
    else:
        out |= {"wire_hex": wire.hex()}
    out |= {"hash": batch_hash(wire), "receiver": recv, "verdict": verdict}
    return out


def build() -> list[dict[str, Any]]:
    node, hub, other = SigningKey(NODE_SEED), SigningKey(HUB_SEED), SigningKey(OTHER_SEED)
    w1, p1 = seal_next("shangcun", "up", GENESIS, [application(1)], T, node)
    w2, p2 = seal_next("shangcun", "up", p1, [application(2), application(3)], T, node)
    w3, _ = seal_next("shangcun", "up", p2, [application(4)], T, node)
    b1 = Batch("shangcun", "up", 1, GENESIS.head, T, (application(1),))
    b2 = Batch("shangcun", "up", 2, p1.head, T, (application(2), application(3)))
    fresh = receiver("shangcun", "up", node, GENESIS, {})
    after1 = receiver("shangcun", "up", node, p1, {1: p1.head})
    after2 = receiver("shangcun", "up", node, p2, {1: p1.head, 2: p2.head})
    fork1, _ = seal_next("shangcun", "up", GENESIS, [application(9)], T, node)
    forged, _ = seal_next("shangcun", "up", GENESIS, [application(1)], T, other)
    tampered = bytearray(w1)
    tampered[100] ^= 0x01
    bad_record, _ = seal_next("shangcun", "up", GENESIS, [Record("application.received", "r", T, {"receipt_no": "x"})], T, node)
    v2 = bytes(node.sign(encode_body(b1).replace(b'"v":1', b'"v":2')))
    not_json = bytes(node.sign("不是 JSON".encode()))
    oversize = bytes(node.sign(b"x" * MAX_BATCH_BYTES))
    d1, _dp1 = seal_next("shangcun", "down", GENESIS, [decision(1)], T, hub)
    db1 = Batch("shangcun", "down", 1, GENESIS.head, T, (decision(1),))
    z1, _ = seal_next("shangcun", "up", GENESIS, [application(1)], T, node, compress=True)
    z2, _ = seal_next("shangcun", "up", p1, [application(2), application(3)], T, node, compress=True)
    zd1, _ = seal_next("shangcun", "down", GENESIS, [decision(1)], T, hub, compress=True)
    bomb = bytes(node.sign(compress_body(b" " * (MAX_BODY_BYTES + 1))))
    truncated = bytes(node.sign(compress_body(encode_body(b1))[:-6]))
    return [
        vector(
            "up-genesis-accepted",
            "the first uplink batch: seq 1, prev is the genesis head",
            w1,
            fresh,
            {"type": "Accepted", "seq": 1},
            b1,
            NODE_SEED.hex(),
        ),
        vector("up-linked-accepted", "seq 2 links to the hash of seq 1", w2, after1, {"type": "Accepted", "seq": 2}, b2, NODE_SEED.hex()),
        vector("up-duplicate", "seq 1 again, byte for byte, after it was applied", w1, after2, {"type": "Duplicate", "seq": 1}),
        vector("up-gap", "seq 3 arrives while the receiver is at seq 1", w3, after1, {"type": "Gap", "expected": 2, "got": 3}),
        vector(
            "up-fork-at-applied-position",
            "a different, validly signed batch at seq 1, which was already applied",
            fork1,
            after1,
            {"type": "Fork", "seq": 1},
        ),
        vector(
            "up-fork-unlinked",
            "seq 2 whose prev is not the receiver's head",
            seal_next("shangcun", "up", ChainPos(1, "f" * 64), [application(2)], T, node)[0],
            after1,
            {"type": "Fork", "seq": 2},
        ),
        vector(
            "up-bad-signature-tampered",
            "one bit of the body flipped after signing",
            bytes(tampered),
            fresh,
            {"type": "Rejected", "reason": "bad_signature"},
        ),
        vector(
            "up-bad-signature-wrong-key",
            "well-formed, but signed by a key that is not the node's",
            forged,
            fresh,
            {"type": "Rejected", "reason": "bad_signature"},
        ),
        vector(
            "up-wrong-stream",
            "validly signed by the node, but for another node's chain",
            seal_next("xiacun", "up", GENESIS, [application(1)], T, node)[0],
            fresh,
            {"type": "Rejected", "reason": "wrong_stream"},
        ),
        vector(
            "up-unknown-sender",
            "no key is enrolled for the sender",
            w1,
            receiver("shangcun", "up", None, GENESIS, {}),
            {"type": "Rejected", "reason": "unknown_sender"},
        ),
        vector("up-unsupported-version", "signed body with v = 2", v2, fresh, {"type": "Rejected", "reason": "unsupported_version"}),
        vector("up-malformed", "signed bytes that are not JSON", not_json, fresh, {"type": "Rejected", "reason": "malformed"}),
        vector(
            "up-too-large",
            "over MAX_BATCH_BYTES: refused before the signature is checked",
            oversize,
            fresh,
            {"type": "Rejected", "reason": "too_large"},
        ),
        vector(
            "up-invalid-record",
            "signed and linked, but a record lacks required fields",
            bad_record,
            fresh,
            {"type": "Rejected", "reason": "invalid_record"},
        ),
        vector(
            "down-genesis-accepted",
            "the first downlink batch, signed by the hub key, naming the recipient node",
            d1,
            receiver("shangcun", "down", hub, GENESIS, {}),
            {"type": "Accepted", "seq": 1},
            db1,
            HUB_SEED.hex(),
        ),
        vector(
            "up-compressed-genesis-accepted",
            "the first uplink batch with its body compressed (YWZ1): the signature covers the compressed bytes",
            z1,
            fresh,
            {"type": "Accepted", "seq": 1},
            b1,
            NODE_SEED.hex(),
            compressed=True,
        ),
        vector(
            "up-compressed-linked-accepted",
            "a compressed seq 2 links to the hash of the plain seq 1's wire bytes",
            z2,
            after1,
            {"type": "Accepted", "seq": 2},
            b2,
            NODE_SEED.hex(),
            compressed=True,
        ),
        vector(
            "up-compressed-bomb", "a signed YWZ1 body that inflates past MAX_BODY_BYTES", bomb, fresh, {"type": "Rejected", "reason": "malformed"}
        ),
        vector(
            "up-compressed-truncated",
            "a signed YWZ1 body whose zlib stream does not end",
            truncated,
            fresh,
            {"type": "Rejected", "reason": "malformed"},
        ),
        vector(
            "down-compressed-accepted",
            "a compressed downlink batch, signed by the hub key",
            zd1,
            receiver("shangcun", "down", hub, GENESIS, {}),
            {"type": "Accepted", "seq": 1},
            db1,
            HUB_SEED.hex(),
            compressed=True,
        ),
        vector(
            "down-replayed-to-another-node",
            "the same hub-signed batch offered to another node",
            d1,
            receiver("xiacun", "down", hub, GENESIS, {}),
            {"type": "Rejected", "reason": "wrong_stream"},
        ),
    ]


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for old in HERE.glob("*.json"):
        old.unlink()
    for v in build():
        (HERE / f"{v['name']}.json").write_text(json.dumps(v, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(list(HERE.glob('*.json')))} vectors to {HERE}")


if __name__ == "__main__":
    main()
