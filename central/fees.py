"""Fees as the county sees them: applied from the nodes' fee.* records, summarised per node so an
operator can tell whether every fen collected was closed and remitted."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from sync_protocol import DAILY_CLOSED, FEE_COLLECTED, FEE_REFUNDED, FEE_REMITTED, FEE_VOIDED, Record

from .models import Application, CatalogItem, DailyClose, FeeReceipt, Remittance

FEE_KINDS = {FEE_COLLECTED, FEE_VOIDED, FEE_REFUNDED, DAILY_CLOSED, FEE_REMITTED}
REFUNDED_OUTCOMES = ("not_accepted", "denied", "revoked")  # the applicant gets the fee back: the point refunds it


def apply_fee_record(session: Session, node_id: str, record: Record) -> None:
    """Inside the ingest transaction. Idempotent per receipt / close / remittance id."""
    d = record.data
    if record.kind == FEE_COLLECTED:
        if session.get(FeeReceipt, d["fee_receipt_no"]) is None:
            session.add(
                FeeReceipt(
                    receipt_no=d["fee_receipt_no"],
                    node_id=node_id,
                    application_id=d.get("application_id"),
                    amount_fen=d["amount_fen"],
                    method=d["method"],
                    reference=d.get("reference", ""),
                    agent=d["agent"],
                    collected_at=record.at,
                )
            )
    elif record.kind in (FEE_VOIDED, FEE_REFUNDED):
        session.flush()
        receipt = session.get(FeeReceipt, d["fee_receipt_no"])
        if receipt is None or receipt.node_id != node_id:
            raise KeyError(f"{record.kind} for unknown receipt {d['fee_receipt_no']}")
        if record.kind == FEE_VOIDED:
            receipt.status = "voided"
        else:
            receipt.refunded_fen += d["amount_fen"]
            receipt.status = "refunded" if receipt.refunded_fen >= receipt.amount_fen else receipt.status
        session.add(receipt)
    elif record.kind == DAILY_CLOSED:
        if session.get(DailyClose, d["close_id"]) is None:
            session.add(
                DailyClose(
                    close_id=d["close_id"],
                    node_id=node_id,
                    agent=d["agent"],
                    business_date=d["business_date"],
                    totals_json=json.dumps(d["totals_fen"]),
                    cash_expected_fen=d["cash_expected_fen"],
                    cash_counted_fen=d["cash_counted_fen"],
                    discrepancy_fen=d["discrepancy_fen"],
                    note=d.get("note", ""),
                )
            )
    elif record.kind == FEE_REMITTED:
        if session.get(Remittance, d["remittance_id"]) is None:
            session.add(
                Remittance(
                    remittance_id=d["remittance_id"],
                    node_id=node_id,
                    amount_fen=d["amount_fen"],
                    close_ids_json=json.dumps(d["close_ids"]),
                    bank_reference=d["bank_reference"],
                    agent=d["agent"],
                    remitted_at=record.at,
                )
            )
            session.flush()
            for close_id in d["close_ids"]:
                close = session.get(DailyClose, close_id)
                if close is not None:
                    close.remittance_id = d["remittance_id"]
                    session.add(close)


def case_fees(session: Session, app: Application) -> dict[str, Any]:
    """A case's fee as the clerk must see it: what the item charges, every receipt of the case
    (paid, voided, refunded), whether it is paid, and whether the point owes the applicant a
    refund (the case was not accepted or refused and money is still held)."""
    item = session.get(CatalogItem, app.item_code)
    required = item.fee_fen if item else 0
    receipts = list(session.exec(select(FeeReceipt).where(FeeReceipt.application_id == app.id)).all())
    held = sum(r.amount_fen - r.refunded_fen for r in receipts if r.status != "voided")
    return {
        "required_fen": required,
        "receipts": receipts,
        "paid": required == 0 or held >= required,
        "refund_due_fen": held if app.outcome in REFUNDED_OUTCOMES else 0,
    }


def fee_summary(engine: Engine) -> list[dict[str, Any]]:
    """Per node, in fen: collected (net of voids), refunded, cash counted at closes, discrepancies,
    remitted, and what was counted but not yet remitted; and whether the cash reached the county.
    E-payments settle to the county account directly; cash reaches it by remittance. Of
    cash collected − cash refunded − remitted: what is above 0 is outstanding (the point still
    holds it); what is below 0 is cash the point refunded out of its own till after remitting it,
    which the county returns or the next remittance offsets (cash_to_return)."""
    with Session(engine) as session:
        receipts = session.exec(select(FeeReceipt)).all()
        closes = session.exec(select(DailyClose)).all()
        remitted = dict(session.exec(select(Remittance.node_id, func.sum(Remittance.amount_fen)).group_by(Remittance.node_id)).all())
    out = []
    for node_id in sorted({r.node_id for r in receipts} | {c.node_id for c in closes}):
        mine = [r for r in receipts if r.node_id == node_id]
        days = [c for c in closes if c.node_id == node_id]
        kept = [r for r in mine if r.status != "voided"]
        cash = [r for r in mine if r.method == "cash"]
        paid_in = remitted.get(node_id) or 0
        cash_collected = sum(r.amount_fen for r in kept if r.method == "cash")
        cash_refunded = sum(r.refunded_fen for r in cash)
        net = cash_collected - cash_refunded - paid_in
        out.append(
            {
                "node_id": node_id,
                "receipts": len(mine),
                "voided": len(mine) - len(kept),
                "collected_fen": sum(r.amount_fen for r in kept),
                "refunded_fen": sum(r.refunded_fen for r in mine),
                "closes": len(days),
                "cash_counted_fen": sum(c.cash_counted_fen for c in days),
                "discrepancy_fen": sum(c.discrepancy_fen for c in days),
                "remitted_fen": paid_in,
                "unremitted_fen": sum(c.cash_counted_fen for c in days if not c.remittance_id),
                "cash_collected_fen": cash_collected,
                "cash_refunded_fen": cash_refunded,
                "epay_collected_fen": sum(r.amount_fen for r in kept if r.method != "cash") - sum(r.refunded_fen for r in mine if r.method != "cash"),
                "cash_outstanding_fen": max(net, 0),
                "cash_to_return_fen": max(-net, 0),
                "closes_with_discrepancy": sum(1 for c in days if c.discrepancy_fen != 0),
                "all_reached_county": net <= 0,
            }
        )
    return out
