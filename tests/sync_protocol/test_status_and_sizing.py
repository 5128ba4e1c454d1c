"""Link status messages (signed, outside the chain) and batches sealed to fit a byte budget."""

from __future__ import annotations

import os

import pytest
from nacl.signing import SigningKey

from sync_protocol import (
    GENESIS,
    HUB_REPLY_FIELDS,
    MAX_STATUS_BYTES,
    NODE_STATUS_FIELDS,
    BadSignature,
    Malformed,
    Record,
    TooLarge,
    open_batch,
    open_status,
    seal_status,
    seal_within,
    status_subject,
)

NODE = SigningKey(bytes(range(32)))
T = "2026-12-03T08:00:00.000000Z"
FIELDS = {"node": "shangcun", "at": T, "up_seq": 3, "outbox_depth": 0, "app_version": "0.2.0", "catalog_version": 1}


def test_a_status_round_trips_and_ignores_fields_it_does_not_know():
    raw = seal_status(FIELDS | {"from_the_future": [1, 2]}, NODE)
    got = open_status(raw, NODE.verify_key, NODE_STATUS_FIELDS, "shangcun")
    assert got["up_seq"] == 3 and got["v"] == 1 and got["from_the_future"] == [1, 2]
    assert status_subject("shangcun") == "yiwang.status.shangcun"


@pytest.mark.parametrize(
    "raw, error",
    [
        (seal_status(FIELDS, SigningKey(bytes(range(1, 33)))), BadSignature),
        (seal_status(FIELDS | {"node": "xiacun"}, NODE), Malformed),
        (seal_status({k: v for k, v in FIELDS.items() if k != "up_seq"}, NODE), Malformed),
        (seal_status(FIELDS | {"up_seq": "3"}, NODE), Malformed),
        (seal_status(FIELDS | {"up_seq": True}, NODE), Malformed),
        (bytes(NODE.sign(b"[1]")), Malformed),
        (b"x" * (MAX_STATUS_BYTES + 1), TooLarge),
        (b"short", BadSignature),
    ],
)
def test_a_bad_status_is_refused(raw, error):
    with pytest.raises(error):
        open_status(raw, NODE.verify_key, NODE_STATUS_FIELDS, "shangcun")


def test_a_reply_needs_its_own_fields_and_an_oversized_status_is_not_made():
    with pytest.raises(Malformed):
        open_status(seal_status(FIELDS, NODE), NODE.verify_key, HUB_REPLY_FIELDS, "shangcun")  # no up_applied
    with pytest.raises(TooLarge):
        seal_status(FIELDS | {"note": "x" * MAX_STATUS_BYTES}, NODE)


def record(i: int, size: int = 300) -> Record:
    return Record("complaint.filed", f"r{i}", T, {"complaint_id": f"c{i}", "text": os.urandom(size // 2).hex()})


@pytest.mark.parametrize("budget", [2_000, 10_000, 40_000])
def test_seal_within_takes_the_longest_run_that_fits(budget):
    records = [record(i) for i in range(300)]
    wire, pos, count = seal_within("shangcun", "up", GENESIS, records, T, NODE, budget, compress=True)
    assert len(wire) <= budget and 1 <= count < 300
    longer, _, _ = seal_within("shangcun", "up", GENESIS, records[: count + 1], T, NODE, 10**9, compress=True)
    assert len(longer) > budget  # one more record would not have fitted
    assert [r.id for r in open_batch(wire, NODE.verify_key).records] == [r.id for r in records[:count]]
    assert pos.seq == 1


def test_seal_within_seals_a_single_record_larger_than_the_budget_alone():
    wire, _, count = seal_within("shangcun", "up", GENESIS, [record(0, 20_000), record(1)], T, NODE, 1_000)
    assert count == 1 and len(wire) > 1_000
    whole, _, all_of_them = seal_within("shangcun", "up", GENESIS, [record(i) for i in range(5)], T, NODE, 10**6)
    assert all_of_them == 5 and len(open_batch(whole, NODE.verify_key).records) == 5
