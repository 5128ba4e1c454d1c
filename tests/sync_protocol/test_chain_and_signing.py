"""Signing and chain checks: tampering, a wrong key, a replay and a skipped batch are each detected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from sync_protocol import (
    GENESIS,
    UNKNOWN_KIND,
    Accepted,
    BadSignature,
    ChainPos,
    Duplicate,
    Fork,
    Gap,
    IngestCursor,
    Record,
    Rejected,
    UnencodableValue,
    canonical_bytes,
    open_batch,
    seal_next,
)

NODE_KEY = SigningKey(bytes(range(32)))
OTHER_KEY = SigningKey(bytes(range(1, 33)))
T = "2026-11-23T08:00:00.000000Z"


def application_data(i: int) -> dict:
    return {
        "application_id": f"a{i}",
        "receipt_no": f"R{i}",
        "item_code": "MZ-003",
        "applicant_name": "张三",
        "applicant_id_number": "11010519491231002X",
        "agent": "agent",
    }


def make_chain(n: int, key: SigningKey = NODE_KEY, node: str = "shangcun") -> list[bytes]:
    pos, wires = GENESIS, []
    for i in range(n):
        rec = Record("application.received", f"r{i}", T, application_data(i))
        wire, pos = seal_next(node, "up", pos, [rec], T, key)
        wires.append(wire)
    return wires


class History:
    """The receiver's applied batches, as a database would hold them."""

    def __init__(self) -> None:
        self.hashes: dict[int, str] = {}

    def receive(self, cursor: IngestCursor, raw: bytes):
        verdict = cursor.receive(raw, self.hashes.get)
        if isinstance(verdict, Accepted):
            self.hashes[verdict.batch.seq] = verdict.hash
        return verdict


def fresh_cursor(key: SigningKey = NODE_KEY) -> IngestCursor:
    return IngestCursor("shangcun", "up", key.verify_key, GENESIS)


def test_chain_in_order_is_accepted_and_advances():
    cursor, hist = fresh_cursor(), History()
    for i, wire in enumerate(make_chain(3), start=1):
        verdict = hist.receive(cursor, wire)
        assert isinstance(verdict, Accepted)
        assert verdict.batch.seq == i
    assert cursor.pos.seq == 3


@pytest.mark.parametrize("offset", [0, 1, 63, 64, 70, -1])
def test_any_tampered_byte_is_rejected(offset):
    wire = bytearray(make_chain(1)[0])
    wire[offset] ^= 0x01
    verdict = fresh_cursor().receive(bytes(wire), {}.get)
    assert verdict == Rejected("bad_signature", verdict.detail)


def test_wrong_key_is_rejected():
    forged = make_chain(1, key=OTHER_KEY)[0]
    verdict = fresh_cursor().receive(forged, {}.get)
    assert isinstance(verdict, Rejected) and verdict.reason == "bad_signature"
    with pytest.raises(BadSignature):
        open_batch(forged, NODE_KEY.verify_key)


def test_replayed_batch_is_a_duplicate_and_changes_nothing():
    cursor, hist = fresh_cursor(), History()
    wires = make_chain(2)
    for w in wires:
        hist.receive(cursor, w)
    assert hist.receive(cursor, wires[0]) == Duplicate(1)
    assert cursor.pos.seq == 2


def test_skipped_batch_is_a_gap_and_does_not_advance():
    cursor, hist = fresh_cursor(), History()
    wires = make_chain(3)
    hist.receive(cursor, wires[0])
    assert hist.receive(cursor, wires[2]) == Gap(expected=2, got=3)
    assert cursor.pos.seq == 1
    assert isinstance(hist.receive(cursor, wires[1]), Accepted)
    assert isinstance(hist.receive(cursor, wires[2]), Accepted)


def test_different_batch_at_an_applied_position_is_a_fork():
    cursor, hist = fresh_cursor(), History()
    hist.receive(cursor, make_chain(1)[0])
    other = seal_next("shangcun", "up", GENESIS, [Record("application.received", "x", T, application_data(9))], T, NODE_KEY)[0]
    verdict = hist.receive(cursor, other)
    assert isinstance(verdict, Fork) and verdict.seq == 1 and verdict.known == hist.hashes[1]


def test_next_seq_that_does_not_link_to_head_is_a_fork():
    cursor, hist = fresh_cursor(), History()
    hist.receive(cursor, make_chain(1)[0])
    unlinked = seal_next("shangcun", "up", ChainPos(1, "f" * 64), [], T, NODE_KEY)[0]
    assert isinstance(hist.receive(cursor, unlinked), Fork)


def test_batch_for_another_node_is_rejected_even_when_validly_signed():
    wire = make_chain(1, node="xiacun")[0]
    verdict = fresh_cursor().receive(wire, {}.get)
    assert isinstance(verdict, Rejected) and verdict.reason == "wrong_stream"


def test_unknown_sender_is_rejected_without_decoding():
    cursor = IngestCursor("shangcun", "up", None, GENESIS)
    assert cursor.receive(b"anything", {}.get).reason == "unknown_sender"


def test_canonical_bytes_are_sorted_compact_utf8():
    assert canonical_bytes({"b": 1, "a": "乡镇"}) == '{"a":"乡镇","b":1}'.encode()


def test_floats_are_refused():
    with pytest.raises(UnencodableValue):
        canonical_bytes({"fee": 1.5})


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_flipped_bit_is_rejected(data):
    wire = make_chain(1)[0]
    index = data.draw(st.integers(0, len(wire) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(wire)
    tampered[index] ^= 1 << bit
    assert isinstance(fresh_cursor().receive(bytes(tampered), {}.get), Rejected)


def test_hub_signed_downlink_for_one_node_cannot_be_replayed_to_another():
    hub = SigningKey(bytes(range(2, 34)))
    wire, _ = seal_next(
        "shangcun",
        "down",
        GENESIS,
        [Record("decision.made", "d1", T, {"application_id": "a1", "decision": "approved", "decided_by": "王敏", "decided_at": T})],
        T,
        hub,
    )
    other_node = IngestCursor("xiacun", "down", hub.verify_key, GENESIS)
    verdict = other_node.receive(wire, {}.get)
    assert isinstance(verdict, Rejected) and verdict.reason == "wrong_stream"


@pytest.mark.parametrize(
    "record, problem",
    [
        (Record("application.received", "r", T, {"receipt_no": "R1"}), "lacks 'application_id'"),
        (Record("application.received", "r", T, application_data(1) | {"applicant_name": 7}), "must be str"),
        (Record("fee.collected", "r", T, {"fee_receipt_no": "F1", "amount_fen": True, "method": "cash", "agent": "a"}), "must be int"),
        (Record("decision.made", "r", T, {"application_id": "a1", "decision": "approved", "decided_by": "x", "decided_at": T}), "downlink record"),
    ],
)
def test_a_batch_with_a_record_outside_its_kinds_contract_is_rejected_and_not_applied(record, problem):
    wire, _ = seal_next("shangcun", "up", GENESIS, [Record("application.received", "ok", T, application_data(0)), record], T, NODE_KEY)
    cursor = fresh_cursor()
    verdict = cursor.receive(wire, {}.get)
    assert isinstance(verdict, Rejected) and verdict.reason == "invalid_record" and problem in verdict.detail
    assert cursor.pos == GENESIS


def test_a_record_kind_newer_than_this_software_is_its_own_verdict_so_the_receiver_can_hold_it():
    wire, _ = seal_next(
        "shangcun", "up", GENESIS, [Record("application.received", "ok", T, application_data(0)), Record("gossip", "r", T, {})], T, NODE_KEY
    )
    cursor = fresh_cursor()
    verdict = cursor.receive(wire, {}.get)
    assert isinstance(verdict, Rejected) and verdict.reason == UNKNOWN_KIND and "'gossip' is newer" in verdict.detail
    assert cursor.pos == GENESIS


def test_nkey_codec_agrees_with_the_nats_nkeys_library():
    import os

    import nkeys

    from sync_protocol import is_user_nkey, user_nkey_from_seed, user_seed_from_raw

    for _ in range(20):
        raw = os.urandom(32)
        seed = user_seed_from_raw(raw)
        assert seed == nkeys.encode_seed(raw, nkeys.PREFIX_BYTE_USER).decode()
        public = user_nkey_from_seed(seed)
        assert public == nkeys.from_seed(bytearray(seed.encode())).public_key.decode() and is_user_nkey(public)
        assert not is_user_nkey(public[:-1] + ("A" if public[-1] != "A" else "B"))
    with pytest.raises(ValueError):
        user_nkey_from_seed(public)  # a public key is not a seed
