"""Fees collected at the window (代收费), in integer fen, with gap-free receipt numbers.

Rules:
- A fee is collected in the same transaction as the intake it pays for (``collect_fee`` takes
  the caller's connection); its receipt number comes from a per-node counter in that transaction,
  so numbers have no gaps and are never reused — a voided receipt keeps its number.
- Electronic payments (WeChat Pay, Alipay, UnionPay) carry the provider's transaction reference.
- Void (作废: same business day, before the agent's daily close) and refund (退费: any time, up to
  what was paid) each need a reason and a SECOND person's approval, proven by their password.
- A daily close per agent and business day totals every method, compares the cash counted with
  the cash expected, and keeps any discrepancy. Closed receipts can no longer be voided.
- Every one of these writes its outbox event in the same transaction.
Business days are Beijing dates (UTC+8).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any

from sync_protocol import DAILY_CLOSED, FEE_COLLECTED, FEE_REFUNDED, FEE_REMITTED, FEE_VOIDED, MAX_FEN, parse_time
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound
from weblayer.numbers import digits
from weblayer.passwords import check_password

from .store import Store, add_outbox, get_meta, next_counter, utcnow

METHODS = {"cash": "现金", "wechat": "微信支付", "alipay": "支付宝", "unionpay": "银联"}
BEIJING = timezone(timedelta(hours=8))


def business_date(ts: str) -> str:
    return parse_time(ts).astimezone(BEIJING).strftime("%Y-%m-%d")


def yuan(fen: int) -> str:
    """380.00 — for people; the data is always integer fen."""
    return f"{fen // 100}.{fen % 100:02d}" if fen >= 0 else f"-{yuan(-fen)}"


def parse_fen(text: str, field: str) -> int:
    """'380', '380.5', '380.50' (yuan) -> 38050 fen, exactly; anything else is refused."""
    value = str(text).strip().replace(",", "")
    whole, _, frac = value.partition(".")
    if not digits(whole) or (frac and (not digits(frac) or len(frac) > 2)):
        raise InvalidInput("金额格式不正确，请输入如 380 或 380.50 的金额（元）", field=field)
    return int(whole) * 100 + int((frac or "0").ljust(2, "0"))


def within_bound(amount_fen: int, field: str) -> int:
    """Refuse an amount no window handles (and no batch may carry: sync_protocol.MAX_FEN)."""
    if abs(amount_fen) > MAX_FEN:
        raise InvalidInput(f"金额超出上限（单笔最多 {yuan(MAX_FEN)} 元），请核对后重新输入", field=field)
    return amount_fen


def check_payment(amount_fen: int, method: str, reference: str) -> None:
    if amount_fen <= 0:
        raise InvalidInput("收费金额必须大于 0", field="amount")
    within_bound(amount_fen, "amount")
    if method not in METHODS:
        raise InvalidInput(f"应收 {yuan(amount_fen)} 元：请选择收费方式（现金、微信支付、支付宝或银联）", field="payment_method")
    if method != "cash" and not reference.strip():
        raise InvalidInput(f"{METHODS[method]}收款请填写交易单号（在付款截图或商户账单上）", field="payment_reference")


def collect_fee(
    conn: sqlite3.Connection,
    amount_fen: int,
    method: str,
    reference: str,
    payer_name: str,
    agent: Mapping[str, str],
    application_id: str | None = None,
    item_code: str = "",
) -> dict[str, Any]:
    """Inside the caller's transaction: the receipt row and its fee.collected event."""
    check_payment(amount_fen, method, reference)
    now = utcnow()
    receipt = {
        "receipt_no": f"{get_meta(conn, 'node_id')}-F{next_counter(conn, 'fee'):06d}",
        "application_id": application_id,
        "item_code": item_code,
        "payer_name": payer_name,
        "amount_fen": amount_fen,
        "method": method,
        "reference": reference.strip(),
        "agent_username": agent["username"],
        "collected_at": now,
        "business_date": business_date(now),
        "status": "paid",
    }
    conn.execute(f"INSERT INTO fee_receipts ({', '.join(receipt)}) VALUES ({', '.join('?' * len(receipt))})", tuple(receipt.values()))
    data = {"fee_receipt_no": receipt["receipt_no"], "amount_fen": amount_fen, "method": method, "agent": agent["username"]}
    data |= {k: v for k, v in (("application_id", application_id), ("reference", receipt["reference"])) if v}
    add_outbox(conn, FEE_COLLECTED, data, at=now)
    return receipt


def _second_person(store: Store, agent: Mapping[str, str], approver: str, password: str) -> str:
    """The approver must be ANOTHER account at this point, proving it with their password."""
    approver = approver.strip()
    if not approver or approver == agent["username"]:
        raise Forbidden("作废和退费须由另一名工作人员核准：请由第二人输入其用户名和密码")
    row = store.one("SELECT username, password_hash FROM users WHERE username = ?", (approver,))
    if row is None or not check_password(row["password_hash"], password):
        raise Forbidden("核准人的用户名或密码不正确")
    return row["username"]


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("请填写原因", field="reason")
    return reason


def get_receipt(store: Store, receipt_no: str) -> sqlite3.Row:
    """A receipt as printed: with the item's name and the payee's (the agent's) name."""
    row = store.one(
        "SELECT r.*, c.name AS item_name, u.display_name AS payee_name FROM fee_receipts r "
        "LEFT JOIN catalog_items c ON c.code = r.item_code LEFT JOIN users u ON u.username = r.agent_username WHERE r.receipt_no = ?",
        (receipt_no,),
    )
    if row is None:
        raise NotFound("没有这张收费收据")
    return row


def mark_refund_due(conn: sqlite3.Connection, application_id: str, why: str) -> None:
    """The case ended without the result it was paid for: its fee is to be given back (a task on
    the fees page until refunded or voided). Inside the downlink transaction; once."""
    conn.execute(
        "UPDATE fee_receipts SET refund_due = ? WHERE application_id = ? AND status = 'paid' AND refunded_fen < amount_fen AND refund_due IS NULL",
        (why, application_id),
    )


def refunds_due(store: Store) -> list[sqlite3.Row]:
    """Fees still to give back, oldest first."""
    return store.query(
        "SELECT r.*, a.receipt_no AS case_receipt_no FROM fee_receipts r LEFT JOIN applications a ON a.id = r.application_id "
        "WHERE r.refund_due IS NOT NULL AND r.status = 'paid' AND r.refunded_fen < r.amount_fen ORDER BY r.collected_at"
    )


def unpaid_fen(conn: sqlite3.Connection, application_id: str) -> int:
    """What the case's item charges and is not held for it (voided or refunded): 0 when paid."""
    row = conn.execute(
        "SELECT c.fee_fen, (SELECT COALESCE(SUM(r.amount_fen - r.refunded_fen), 0) FROM fee_receipts r WHERE r.application_id = a.id AND r.status != 'voided') AS held "
        "FROM applications a JOIN catalog_items c ON c.code = a.item_code WHERE a.id = ?",
        (application_id,),
    ).fetchone()
    return max(row["fee_fen"] - row["held"], 0) if row else 0


def void_receipt(store: Store, receipt_no: str, reason: str, agent: Mapping[str, str], approver: str, approver_password: str) -> sqlite3.Row:
    reason = _reason(reason)
    approved_by = _second_person(store, agent, approver, approver_password)
    with store.write() as conn:
        row = conn.execute("SELECT * FROM fee_receipts WHERE receipt_no = ?", (receipt_no,)).fetchone()
        if row is None:
            raise NotFound("没有这张收费收据")
        if row["status"] != "paid" or row["refunded_fen"]:
            raise Conflict("这张收据已作废或已退费，不能作废")
        if row["close_id"] or row["business_date"] != business_date(utcnow()):
            raise Conflict("只能作废当日、未日结的收据；已日结的请办理退费")
        now = utcnow()
        conn.execute(
            "UPDATE fee_receipts SET status = 'voided', void_reason = ?, void_approved_by = ?, voided_at = ? WHERE receipt_no = ?",
            (reason, approved_by, now, receipt_no),
        )
        add_outbox(conn, FEE_VOIDED, {"fee_receipt_no": receipt_no, "reason": reason, "approved_by": approved_by, "agent": agent["username"]}, at=now)
    return get_receipt(store, receipt_no)


def refund(
    store: Store, receipt_no: str, amount_fen: int, reason: str, agent: Mapping[str, str], approver: str, approver_password: str
) -> sqlite3.Row:
    reason = _reason(reason)
    if amount_fen <= 0:
        raise InvalidInput("退费金额必须大于 0", field="amount")
    within_bound(amount_fen, "amount")
    approved_by = _second_person(store, agent, approver, approver_password)
    with store.write() as conn:
        row = conn.execute("SELECT * FROM fee_receipts WHERE receipt_no = ?", (receipt_no,)).fetchone()
        if row is None:
            raise NotFound("没有这张收费收据")
        if row["status"] == "voided":
            raise Conflict("这张收据已作废，不能退费")
        if amount_fen > row["amount_fen"] - row["refunded_fen"]:
            raise InvalidInput(f"退费金额不能超过可退金额 {yuan(row['amount_fen'] - row['refunded_fen'])} 元", field="amount")
        now = utcnow()
        conn.execute(
            "UPDATE fee_receipts SET refunded_fen = refunded_fen + ?, status = CASE WHEN refunded_fen + ? = amount_fen THEN 'refunded' ELSE status END WHERE receipt_no = ?",
            (amount_fen, amount_fen, receipt_no),
        )
        conn.execute(
            "INSERT INTO fee_refunds (receipt_no, amount_fen, method, reason, approved_by, agent_username, refunded_at, business_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (receipt_no, amount_fen, row["method"], reason, approved_by, agent["username"], now, business_date(now)),
        )
        add_outbox(
            conn,
            FEE_REFUNDED,
            {"fee_receipt_no": receipt_no, "amount_fen": amount_fen, "reason": reason, "approved_by": approved_by, "agent": agent["username"]},
            at=now,
        )
    return get_receipt(store, receipt_no)


def day_totals(conn: sqlite3.Connection | Store, agent_username: str, day: str, unclosed_only: bool = False) -> dict[str, Any]:
    """What an agent took in on a business day, per method, net of refunds paid out that day
    (``unclosed_only``: only what no close has covered yet)."""
    query = conn.query if isinstance(conn, Store) else (lambda sql, p: conn.execute(sql, p).fetchall())
    scope = " AND close_id IS NULL" if unclosed_only else ""
    collected, refunded = {m: 0 for m in METHODS}, {m: 0 for m in METHODS}
    for r in query(
        f"SELECT method, SUM(amount_fen) AS s FROM fee_receipts WHERE agent_username = ? AND business_date = ? AND status != 'voided'{scope} GROUP BY method",
        (agent_username, day),
    ):
        collected[r["method"]] = r["s"]
    for r in query(
        f"SELECT method, SUM(amount_fen) AS s FROM fee_refunds WHERE agent_username = ? AND business_date = ?{scope} GROUP BY method",
        (agent_username, day),
    ):
        refunded[r["method"]] = r["s"]
    receipts = query(
        f"SELECT COUNT(*) AS n FROM fee_receipts WHERE agent_username = ? AND business_date = ? AND status != 'voided'{scope}", (agent_username, day)
    )[0]["n"]
    refunds = query(f"SELECT COUNT(*) AS n FROM fee_refunds WHERE agent_username = ? AND business_date = ?{scope}", (agent_username, day))[0]["n"]
    net = {m: collected[m] - refunded[m] for m in METHODS}
    return {"collected": collected, "refunded": refunded, "net": net, "receipts": receipts, "refunds": refunds, "cash_expected_fen": net["cash"]}


def close_day(store: Store, agent: Mapping[str, str], cash_counted_fen: int, note: str = "", day: str | None = None) -> dict[str, Any]:
    """日结: freeze what the agent collected and refunded that day and no close has covered yet,
    compare the cash counted with the cash expected, and keep any discrepancy (flagged, never
    silently corrected). A later collection the same day is covered by the next close."""
    if cash_counted_fen < 0:
        raise InvalidInput("清点的现金不能为负数", field="cash_counted")
    within_bound(cash_counted_fen, "cash_counted")
    day = day or business_date(utcnow())
    with store.write() as conn:
        totals = day_totals(conn, agent["username"], day, unclosed_only=True)
        # voided receipts count here: their numbers are accounted for by the close, at zero
        unclosed = conn.execute(
            "SELECT COUNT(*) FROM fee_receipts WHERE agent_username = ? AND business_date = ? AND close_id IS NULL", (agent["username"], day)
        ).fetchone()[0]
        if not unclosed and not totals["refunds"]:
            raise Conflict(f"{day} 没有尚未日结的收费或退费")
        discrepancy = cash_counted_fen - totals["cash_expected_fen"]
        if discrepancy and not note.strip():
            raise InvalidInput(f"现金{'多出' if discrepancy > 0 else '短少'} {yuan(abs(discrepancy))} 元：请在备注中说明情况后再日结", field="note")
        earlier = conn.execute(
            "SELECT COUNT(*) FROM daily_closes WHERE agent_username = ? AND business_date = ?", (agent["username"], day)
        ).fetchone()[0]
        close_id = f"{get_meta(conn, 'node_id')}-C{day.replace('-', '')}-{agent['username']}-{earlier + 1}"
        now = utcnow()
        conn.execute(
            "INSERT INTO daily_closes (close_id, agent_username, business_date, totals_json, cash_expected_fen, cash_counted_fen, discrepancy_fen, note, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                close_id,
                agent["username"],
                day,
                json.dumps(totals["net"]),
                totals["cash_expected_fen"],
                cash_counted_fen,
                discrepancy,
                note.strip(),
                now,
            ),
        )
        for table in ("fee_receipts", "fee_refunds"):
            conn.execute(
                f"UPDATE {table} SET close_id = ? WHERE agent_username = ? AND business_date = ? AND close_id IS NULL",
                (close_id, agent["username"], day),
            )
        add_outbox(
            conn,
            DAILY_CLOSED,
            {
                "close_id": close_id,
                "business_date": day,
                "agent": agent["username"],
                "totals_fen": totals["net"],
                "cash_expected_fen": totals["cash_expected_fen"],
                "cash_counted_fen": cash_counted_fen,
                "discrepancy_fen": discrepancy,
                "note": note.strip(),
            },
            at=now,
        )
    return {"close_id": close_id, "business_date": day, "totals": totals, "cash_counted_fen": cash_counted_fen, "discrepancy_fen": discrepancy}


def record_remittance(store: Store, agent: Mapping[str, str], close_ids: list[str], amount_fen: int, bank_reference: str) -> dict[str, Any]:
    """解缴: cash handed to the county account for one or more closed days."""
    if not close_ids:
        raise InvalidInput("请选择要解缴的日结", field="close_ids")
    if not bank_reference.strip():
        raise InvalidInput("请填写银行缴款凭证号", field="bank_reference")
    within_bound(amount_fen, "amount")
    with store.write() as conn:
        rows = [conn.execute("SELECT * FROM daily_closes WHERE close_id = ?", (c,)).fetchone() for c in close_ids]
        if any(r is None for r in rows):
            raise NotFound("有日结记录不存在")
        if any(r["remittance_id"] for r in rows):
            raise Conflict("有日结已经解缴过")
        if amount_fen != sum(r["cash_counted_fen"] for r in rows):
            raise InvalidInput(f"解缴金额应等于所选日结清点的现金合计 {yuan(sum(r['cash_counted_fen'] for r in rows))} 元", field="amount")
        remittance_id = f"{get_meta(conn, 'node_id')}-R{next_counter(conn, 'remittance'):06d}"
        now = utcnow()
        conn.execute(
            "INSERT INTO remittances (remittance_id, amount_fen, close_ids_json, bank_reference, agent_username, remitted_at) VALUES (?, ?, ?, ?, ?, ?)",
            (remittance_id, amount_fen, json.dumps(close_ids), bank_reference.strip(), agent["username"], now),
        )
        conn.executemany("UPDATE daily_closes SET remittance_id = ? WHERE close_id = ?", [(remittance_id, c) for c in close_ids])
        add_outbox(
            conn,
            FEE_REMITTED,
            {
                "remittance_id": remittance_id,
                "amount_fen": amount_fen,
                "close_ids": close_ids,
                "bank_reference": bank_reference.strip(),
                "agent": agent["username"],
            },
            at=now,
        )
    return {"remittance_id": remittance_id, "amount_fen": amount_fen, "close_ids": close_ids}
