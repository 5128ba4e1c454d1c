"""Fees as the county sees them: applied from the nodes' fee.* records, summarised per node so an
operator can tell whether every fen collected was closed and remitted."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from sync_protocol import DAILY_CLOSED, FEE_COLLECTED, FEE_REFUNDED, FEE_REMITTED, FEE_VOIDED, Record

from .models import DailyClose, FeeReceipt, Remittance

FEE_KINDS = {FEE_COLLECTED, FEE_VOIDED, FEE_REFUNDED, DAILY_CLOSED, FEE_REMITTED}


def apply_fee_record(session: Session, node_id: str, record: Record) -> None:
    """Inside the ingest transaction. Idempotent per receipt / close / remittance id."""
    d = record.data
    if record.kind == FEE_COLLECTED:
        if session.get(FeeReceipt, d["fee_receipt_no"]) is None:
            session.add(FeeReceipt(receipt_no=d["fee_receipt_no"], node_id=node_id, application_id=d.get("application_id"), amount_fen=d["amount_fen"], method=d["method"], reference=d.get("reference", ""), agent=d["agent"], collected_at=record.at))
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
            session.add(DailyClose(close_id=d["close_id"], node_id=node_id, agent=d["agent"], business_date=d["business_date"], totals_json=json.dumps(d["totals_fen"]), cash_expected_fen=d["cash_expected_fen"], cash_counted_fen=d["cash_counted_fen"], discrepancy_fen=d["discrepancy_fen"], note=d.get("note", "")))
    elif record.kind == FEE_REMITTED:
        if session.get(Remittance, d["remittance_id"]) is None:
            session.add(Remittance(remittance_id=d["remittance_id"], node_id=node_id, amount_fen=d["amount_fen"], close_ids_json=json.dumps(d["close_ids"]), bank_reference=d["bank_reference"], agent=d["agent"], remitted_at=record.at))
            session.flush()
            for close_id in d["close_ids"]:
                close = session.get(DailyClose, close_id)
                if close is not None:
                    close.remittance_id = d["remittance_id"]
                    session.add(close)


def fee_summary(engine: Engine) -> list[dict[str, Any]]:
    """Per node, in fen: collected (net of voids), refunded, cash counted at closes, discrepancies,
    remitted, and what was counted but not yet remitted."""
    out = []
    with Session(engine) as session:
        nodes = sorted(set(session.exec(select(FeeReceipt.node_id).distinct()).all()) | set(session.exec(select(DailyClose.node_id).distinct()).all()))
        for node_id in nodes:
            receipts = session.exec(select(FeeReceipt).where(FeeReceipt.node_id == node_id)).all()
            closes = session.exec(select(DailyClose).where(DailyClose.node_id == node_id)).all()
            remitted = session.exec(select(func.coalesce(func.sum(Remittance.amount_fen), 0)).where(Remittance.node_id == node_id)).one()
            counted = sum(c.cash_counted_fen for c in closes)
            out.append({
                "node_id": node_id,
                "receipts": len(receipts),
                "voided": sum(1 for r in receipts if r.status == "voided"),
                "collected_fen": sum(r.amount_fen for r in receipts if r.status != "voided"),
                "refunded_fen": sum(r.refunded_fen for r in receipts),
                "closes": len(closes),
                "cash_counted_fen": counted,
                "discrepancy_fen": sum(c.discrepancy_fen for c in closes),
                "remitted_fen": remitted,
                "unremitted_fen": sum(c.cash_counted_fen for c in closes if not c.remittance_id),
            })
    return out
