"""Reconcile a payment provider's statement (CSV export) with the receipts issued at this point.

The statement is the provider's word, a boundary we do not own; its format varies, so the
columns are found by header name (Chinese or English) and amounts are read as yuan strings and
turned into fen exactly. The report has four parts: matched, amount differs, missing from the
statement (we issued a receipt the provider does not show), and extra (the provider shows money we
issued no receipt for).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from weblayer.errors import InvalidInput

from .fees import METHODS, parse_fen
from .store import Store

REFERENCE_HEADERS = ("reference", "交易单号", "商户订单号", "交易号", "支付单号", "流水号")
AMOUNT_HEADERS = ("amount", "金额", "金额(元)", "金额（元）", "交易金额", "订单金额")
TIME_HEADERS = ("time", "交易时间", "支付时间")


@dataclass(frozen=True)
class StatementLine:
    line: int
    reference: str
    amount_fen: int
    time: str


def parse_statement(text: str) -> list[StatementLine]:
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as exc:  # a field over 128 KiB, a NUL byte: not a provider's statement
        raise InvalidInput(f"对账单不是有效的 CSV 文件（{exc}），请从支付平台重新导出", field="file") from None
    if not rows:
        raise InvalidInput("对账单是空的", field="file")
    header = [h.strip() for h in rows[0]]

    def column(names: tuple[str, ...], required: bool) -> int | None:
        for name in names:
            if name in header:
                return header.index(name)
        if required:
            raise InvalidInput(f"对账单缺少“{names[1]}”列（表头可用：{'、'.join(names)}）", field="file")
        return None

    ref_col, amount_col, time_col = column(REFERENCE_HEADERS, True), column(AMOUNT_HEADERS, True), column(TIME_HEADERS, False)
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            reference, amount = row[ref_col].strip().lstrip("`'"), row[amount_col]  # type: ignore[index]
        except IndexError:
            raise InvalidInput(f"对账单第 {number} 行列数不够", field="file") from None
        try:
            fen = parse_fen(amount.replace("¥", "").replace("￥", ""), "file")
        except InvalidInput:
            raise InvalidInput(f"对账单第 {number} 行的金额“{amount}”无法识别", field="file") from None
        lines.append(StatementLine(number, reference, fen, row[time_col].strip() if time_col is not None and time_col < len(row) else ""))
    return lines


def reconcile_lines(receipts: list[dict[str, Any]], lines: list[StatementLine]) -> dict[str, Any]:
    """Pure: match by transaction reference, then compare amounts (net of refunds) to the fen."""
    ours = {r["reference"]: r for r in receipts if r["reference"]}
    theirs = {line.reference: line for line in lines}
    matched, differs, missing = [], [], []
    for ref, r in ours.items():
        line = theirs.get(ref)
        expected = r["amount_fen"] - r["refunded_fen"]
        if line is None:
            missing.append({"receipt_no": r["receipt_no"], "reference": ref, "amount_fen": expected})
        elif line.amount_fen == expected:
            matched.append({"receipt_no": r["receipt_no"], "reference": ref, "amount_fen": expected})
        else:
            differs.append({"receipt_no": r["receipt_no"], "reference": ref, "ours_fen": expected, "statement_fen": line.amount_fen})
    extra = [
        {"reference": line.reference, "amount_fen": line.amount_fen, "line": line.line, "time": line.time}
        for ref, line in theirs.items()
        if ref not in ours
    ]
    return {
        "matched": matched,
        "amount_differs": differs,
        "missing_from_statement": missing,
        "extra_in_statement": extra,
        "totals_fen": {
            "ours": sum(r["amount_fen"] - r["refunded_fen"] for r in ours.values()),
            "statement": sum(line.amount_fen for line in theirs.values()),
            "matched": sum(m["amount_fen"] for m in matched),
        },
        "balanced": not differs and not missing and not extra,
    }


def reconcile(store: Store, method: str, text: str, date_from: str, date_to: str) -> dict[str, Any]:
    if method not in METHODS or method == "cash":
        raise InvalidInput("请选择对账的支付渠道：微信支付、支付宝或银联", field="method")
    receipts = [
        dict(r)
        for r in store.query(
            "SELECT * FROM fee_receipts WHERE method = ? AND status != 'voided' AND business_date BETWEEN ? AND ? ORDER BY receipt_no",
            (method, date_from, date_to),
        )
    ]
    return reconcile_lines(receipts, parse_statement(text)) | {"method": method, "date_from": date_from, "date_to": date_to}
