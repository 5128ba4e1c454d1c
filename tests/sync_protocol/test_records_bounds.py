"""Money in a record is whole fen within MAX_FEN, whoever sends it: a hostile point's batch with
an amount past what the hub's columns hold is malformed, not a failed insert (issue 18 finding 4)."""

from __future__ import annotations

import pytest

from sync_protocol import MAX_FEN, Record, record_problem

CLOSE = {
    "close_id": "shangcun-C20261204-agent-1",
    "business_date": "2026-12-04",
    "agent": "agent",
    "totals_fen": {"cash": 100},
    "cash_expected_fen": 100,
    "cash_counted_fen": 100,
    "discrepancy_fen": 0,
}


@pytest.mark.parametrize(
    "change",
    [
        {"cash_counted_fen": MAX_FEN + 1},
        {"discrepancy_fen": -MAX_FEN - 1},
        {"totals_fen": {"cash": 2**63}},
        {"totals_fen": {"cash": "100"}},
        {"totals_fen": {"cash": True}},
    ],
)
def test_an_amount_past_the_bound_is_malformed(change):
    assert "at most" in (record_problem(Record("fee.daily_closed", "r1", "2026-12-04T08:00:00.000000Z", CLOSE | change), "up") or "")


def test_amounts_within_the_bound_are_fine():
    assert record_problem(Record("fee.daily_closed", "r1", "2026-12-04T08:00:00.000000Z", CLOSE | {"discrepancy_fen": -MAX_FEN}), "up") is None
