"""Reconcile a payment provider's statement (CSV export) with the receipts issued at this point.

The statement is the provider's word, a boundary we do not own; its format varies, so the
columns are found by header name (Chinese or English) and amounts are read as yuan strings and
turned into fen exactly. The real exports come in GBK as often as UTF-8, with a preamble before
the header row (title, account, period, totals) and a summary after the data (# lines, a
总交易单数 table): both are read as they come (issue 22 item 10). The report has four parts: matched, amount differs, missing from the
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

# the provider's transaction number (what the payer's phone shows, and the agent types) before the merchant's order number
REFERENCE_HEADERS = ("reference", "交易单号", "微信订单号", "支付宝交易号", "业务流水号", "交易号", "支付单号", "流水号", "商户订单号")
AMOUNT_HEADERS = ("amount", "金额", "金额(元)", "金额（元）", "交易金额", "订单金额", "应结订单金额", "收入金额（+元）", "收入金额(+元)")
TIME_HEADERS = ("time", "交易时间", "支付时间", "发生时间", "交易创建时间")
DIRECTION_HEADERS = ("收/支", "收支类型")  # a personal bill's column: 支出 is money out (a refund)
SUMMARY_FIRST_CELLS = ("总交易单数", "收入合计", "支出合计")  # a merchant export's summary table after the data
MAX_PREAMBLE_ROWS = 50  # title, account, period, totals … before the header row


@dataclass(frozen=True)
class StatementLine:
    line: int
    reference: str
    amount_fen: int
    time: str


def statement_text(data: bytes) -> str:
    """A statement file as text: UTF-8 (with or without BOM), else GB18030 (GBK's superset, in
    which the WeChat and Alipay exports come when saved for Excel)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput("对账单的编码无法识别：请从支付平台导出 CSV（UTF-8 或 GBK 均可）", field="file") from None


def _cell(value: str) -> str:
    """A cell as the providers write it: tab-padded, ` or ' before numbers (so Excel keeps them text)."""
    return value.strip().lstrip("`'").strip()


def _header_row(rows: list[list[str]]) -> int:
    """The row naming the columns: the first with a reference and an amount column. The lines
    before it (title, account, period, totals, a ----明细列表---- rule) are the export's preamble."""
    for i, row in enumerate(rows[:MAX_PREAMBLE_ROWS]):
        cells = {_cell(c) for c in row}
        if cells & set(REFERENCE_HEADERS) and cells & set(AMOUNT_HEADERS):
            return i
    names = {_cell(c) for row in rows[:MAX_PREAMBLE_ROWS] for c in row}
    missing = "交易单号" if not names & set(REFERENCE_HEADERS) else "金额"
    raise InvalidInput(f"对账单缺少“{missing}”列（表头可用：交易单号、商户订单号、金额(元)、收入金额（+元）等）", field="file")


def parse_statement(text: str) -> list[StatementLine]:
    """The payments of a provider's statement: from the row naming the columns to the first summary
    line after the data (lines starting with #, a 总交易单数 table), whichever export it is."""
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as exc:  # a field over 128 KiB, a NUL byte: not a provider's statement
        raise InvalidInput(f"对账单不是有效的 CSV 文件（{exc}），请从支付平台重新导出", field="file") from None
    if not any(any(c.strip() for c in row) for row in rows):
        raise InvalidInput("对账单是空的", field="file")
    start = _header_row(rows)
    header = [_cell(h) for h in rows[start]]

    def column(names: tuple[str, ...]) -> int | None:
        return next((header.index(name) for name in names if name in header), None)

    ref_col, amount_col, time_col, way_col = column(REFERENCE_HEADERS), column(AMOUNT_HEADERS), column(TIME_HEADERS), column(DIRECTION_HEADERS)
    assert ref_col is not None and amount_col is not None  # _header_row found both
    lines = []
    for number, row in enumerate(rows[start + 1 :], start=start + 2):
        first = _cell(row[0]) if row else ""
        if first.startswith("#") or first in SUMMARY_FIRST_CELLS:
            break  # the summary after the data
        if not any(cell.strip() for cell in row):
            continue
        try:
            reference, amount = _cell(row[ref_col]), _cell(row[amount_col])
        except IndexError:
            raise InvalidInput(f"对账单第 {number} 行列数不够", field="file") from None
        try:
            fen = parse_fen(amount.replace("¥", "").replace("￥", ""), "file")
        except InvalidInput:
            raise InvalidInput(f"对账单第 {number} 行的金额“{amount}”无法识别", field="file") from None
        if way_col is not None and way_col < len(row) and _cell(row[way_col]) == "支出":
            fen = -fen  # a refund, against the payment of the same reference
        lines.append(StatementLine(number, reference, fen, _cell(row[time_col]) if time_col is not None and time_col < len(row) else ""))
    return lines


def reconcile_lines(receipts: list[dict[str, Any]], lines: list[StatementLine]) -> dict[str, Any]:
    """Pure: match by transaction reference, then compare amounts (net of refunds) to the fen."""
    ours = {r["reference"]: r for r in receipts if r["reference"]}
    theirs: dict[str, StatementLine] = {}
    for item in lines:  # a payment and its refund share a reference: what the provider holds is their sum
        held = theirs.get(item.reference)
        theirs[item.reference] = item if held is None else StatementLine(held.line, item.reference, held.amount_fen + item.amount_fen, held.time)
    matched: list[dict[str, Any]] = []
    differs: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
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
