"""Property: any reordering, duplication or loss of batches on the way converges to the same
applied state once the sender resends from the receiver's cursor. The receiver below follows the
hub's algorithm (central/ingest.py): apply Accepted, hold a Gap, drain held batches after each
Accepted, and ask for a resend from the cursor."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from sync_protocol import GENESIS, Accepted, Duplicate, Fork, Gap, IngestCursor, Record, Rejected, seal_next

KEY = SigningKey(bytes(range(32)))
T = "2026-11-23T08:00:00.000000Z"
N = 12


def sender_history() -> list[bytes]:
    pos, wires = GENESIS, []
    for i in range(N):
        record = Record(
            "application.received",
            f"r{i}",
            T,
            {
                "application_id": f"a{i}",
                "receipt_no": f"R{i}",
                "item_code": "MZ-003",
                "applicant_name": "张三",
                "applicant_id_number": "11010519491231002X",
                "agent": "agent",
            },
        )
        wire, pos = seal_next("shangcun", "up", pos, [record], T, KEY)
        wires.append(wire)
    return wires


WIRES = sender_history()


class Receiver:
    def __init__(self) -> None:
        self.cursor = IngestCursor("shangcun", "up", KEY.verify_key, GENESIS)
        self.hashes: dict[int, str] = {}
        self.held: dict[int, bytes] = {}
        self.applied: list[str] = []
        self.resend_from: int | None = None

    def deliver(self, raw: bytes) -> None:
        verdict = self.cursor.receive(raw, self.hashes.get)
        while True:
            assert not isinstance(verdict, (Fork, Rejected)), verdict  # an honest sender never causes these
            if isinstance(verdict, Gap):
                self.held.setdefault(verdict.got, raw)
                self.resend_from = verdict.expected
                return
            if isinstance(verdict, Duplicate):
                return
            assert isinstance(verdict, Accepted)
            self.hashes[verdict.batch.seq] = verdict.hash
            self.applied.extend(r.id for r in verdict.batch.records)
            raw = self.held.pop(self.cursor.pos.seq + 1, None)
            if raw is None:
                return
            verdict = self.cursor.receive(raw, self.hashes.get)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, N - 1), max_size=3 * N))
def test_any_delivery_order_converges_after_resend(deliveries):
    receiver = Receiver()
    for index in deliveries:  # the network: any order, duplicates, losses
        receiver.deliver(WIRES[index])
    for raw in WIRES[receiver.cursor.pos.seq :]:  # the sender answers a resend request from the cursor
        receiver.deliver(raw)
    assert receiver.applied == [f"r{i}" for i in range(N)]  # everything, once, in order
    assert receiver.cursor.pos.seq == N and not receiver.held


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(N))))
def test_a_complete_delivery_in_any_order_needs_no_resend(order):
    receiver = Receiver()
    for index in order:
        receiver.deliver(WIRES[index])
    assert receiver.applied == [f"r{i}" for i in range(N)]
