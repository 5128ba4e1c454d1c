"""Exports for the county's offices (issue 22 item 6): cases, fees, the action log and the
supervision figures as tables — CSV in UTF-8 with a BOM (Excel opens it in Chinese) or XLSX —
filtered by period, point and department; and an incremental JSON feed of cases for BI tools.

Personal data: the tables name applicants but mask their ID numbers, as every list does; the
feed carries no name and no ID number at all.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import format_time
from weblayer.display import BEIJING, local_time, mask_id
from weblayer.errors import InvalidInput

from . import actions, figures
from .models import Application, Department, FeeReceipt, Node
from .procedure import STATES

MAX_ROWS = 100_000  # a table stops here and says so in its last row (a county's year is far less)
FEED_LIMIT = 1000  # the most items one feed page carries
# the feed serves changes older than this: a transaction committing up to a minute after it stamped its change is not skipped
SETTLED = timedelta(seconds=60)
METHODS = {"cash": "现金", "wechat": "微信支付", "alipay": "支付宝", "unionpay": "银联"}
FEE_STATES = {"paid": "已收", "voided": "已作废", "refunded": "已退费"}
OUTCOMES = {"approved": "批准", "denied": "不予批准", "not_accepted": "不予受理", "": ""}


@dataclass(frozen=True)
class Scope:
    """Which rows: a period of Beijing dates (both included), a point, a department."""

    first: date
    last: date
    node: str = ""
    department: str = ""

    @property
    def start(self) -> str:
        return format_time(datetime.combine(self.first, time(), BEIJING).astimezone(UTC))

    @property
    def end(self) -> str:
        return format_time(datetime.combine(self.last + timedelta(days=1), time(), BEIJING).astimezone(UTC))


@dataclass
class Table:
    name: str  # in the file's name: cases, fees, actions, supervision
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    money: tuple[str, ...] = ()  # columns in 元: two decimals (380.00, not 380.0)
    rates: tuple[str, ...] = ()  # columns that are shares (0–1): a percentage
    tenths: tuple[str, ...] = ()  # columns to one decimal (average working days)

    def shown(self, column: int, value: Any) -> Any:
        """A value as the CSV writes it."""
        if isinstance(value, int | float) and not isinstance(value, bool) and column < len(self.columns):
            if self.columns[column] in self.money:
                return f"{value:.2f}"
            if self.columns[column] in self.rates:
                return f"{value:.1%}"
            if self.columns[column] in self.tenths:
                return f"{value:.1f}"
        return value

    def add(self, row: list[Any]) -> bool:
        """Add a row; False once MAX_ROWS are there (a last row then says the table stops)."""
        if len(self.rows) >= MAX_ROWS:
            self.rows.append([f"（只导出前 {MAX_ROWS} 行：请缩小时间范围）"])
            return False
        self.rows.append(row)
        return True


def _points(session: Session) -> dict[str, str]:
    return dict(session.exec(select(Node.id, Node.name)).all())


def _departments(session: Session) -> dict[str, str]:
    return dict(session.exec(select(Department.code, Department.name)).all()) | {"unrouted": "（未分派）", "township": "乡镇"}


def cases(engine: Engine, scope: Scope) -> Table:
    table = Table(
        "cases",
        "办件",
        [
            "受理编号",
            "事项编码",
            "事项",
            "部门",
            "服务点",
            "申请人",
            "身份证号",
            "代办人",
            "状态",
            "结果",
            "收件",
            "受理",
            "办结",
            "送达",
            "承诺时限（工作日）",
            "上门办理",
        ],
    )
    with Session(engine) as session:
        points, departments = _points(session), _departments(session)
        query = select(Application).where(col(Application.received_at) >= scope.start, col(Application.received_at) < scope.end)
        query = query.where(Application.node_id == scope.node) if scope.node else query
        query = query.where(Application.department == scope.department) if scope.department else query
        for a in session.exec(query.order_by(col(Application.received_at), col(Application.id))).yield_per(500):
            row: list[Any] = [
                a.receipt_no,
                a.item_code,
                a.item_name,
                departments.get(a.department, a.department),
                points.get(a.node_id, a.node_id),
                a.applicant_name,
                mask_id(a.applicant_id_number),
            ]
            row += [a.proxy_agent, STATES.get(a.status, a.status), OUTCOMES.get(a.outcome, a.outcome)]
            row += [local_time(t, "") for t in (a.received_at, a.accepted_at, a.decided_at, a.delivered_at)]
            if not table.add([*row, a.limit_days or "", a.home_visit or "否"]):
                break
    return table


def fees(engine: Engine, scope: Scope) -> Table:
    columns = ["收据号", "服务点", "受理编号", "部门", "金额（元）", "退费（元）", "方式", "交易号", "收费人", "收费时间", "状态"]
    table = Table("fees", "收费", columns, money=("金额（元）", "退费（元）"))
    with Session(engine) as session:
        points, departments = _points(session), _departments(session)
        query = (
            select(FeeReceipt, Application)
            .join(Application, col(Application.id) == col(FeeReceipt.application_id), isouter=True)
            .where(col(FeeReceipt.collected_at) >= scope.start, col(FeeReceipt.collected_at) < scope.end)
        )
        query = query.where(FeeReceipt.node_id == scope.node) if scope.node else query
        query = query.where(Application.department == scope.department) if scope.department else query
        for r, a in session.exec(query.order_by(col(FeeReceipt.collected_at), col(FeeReceipt.receipt_no))).yield_per(500):
            row: list[Any] = [
                r.receipt_no,
                points.get(r.node_id, r.node_id),
                a.receipt_no if a else "",
                departments.get(a.department, a.department) if a else "",
            ]
            row += [r.amount_fen / 100, r.refunded_fen / 100, METHODS.get(r.method, r.method), r.reference, r.agent, local_time(r.collected_at, "")]
            if not table.add([*row, FEE_STATES.get(r.status, r.status)]):
                break
    return table


def action_log(engine: Engine, scope: Scope, what: actions.Filter | None = None) -> Table:
    table = Table("actions", "操作日志", ["时间", "操作人", "账号", "动作", "对象", "详情"])
    wanted = actions.Filter(scope.start, scope.end, *((what.actor, what.action, what.target) if what else ("", "", "")))
    for e in reversed(actions.search(engine, wanted, MAX_ROWS + 1)):
        if not table.add([local_time(e["at"], ""), e["actor_name"], e["actor"], e["action_name"], e["target_name"], e["detail"]]):
            break
    return table


SUPERVISION_COLUMNS = {  # the department table's columns, as an office reads them
    "code": "部门代码",
    "name": "部门",
    "decided": "办结环节数",
    "on_time": "按时办结数",
    "on_time_rate": "按时率",
    "average_working_days": "平均用时（工作日）",
    "yellow_cards": "黄牌",
    "red_cards": "红牌",
    "orders": "督办单",
    "orders_replied_late": "逾期回复",
    "orders_unanswered": "未回复",
}


def supervision(engine: Engine, scope: Scope) -> Table:
    table = Table(
        "supervision",
        "电子监察",
        ["期间", *SUPERVISION_COLUMNS.values()],
        rates=(SUPERVISION_COLUMNS["on_time_rate"],),
        tenths=(SUPERVISION_COLUMNS["average_working_days"],),
    )
    period = f"{scope.first}—{scope.last}"
    for row in figures.figures(engine, scope.first, scope.last)["departments"]:
        if not scope.department or row["code"] == scope.department:
            table.add([period, *(row[c] if row[c] is not None else "" for c in SUPERVISION_COLUMNS)])
    return table


KINDS: dict[str, tuple[str, Callable[[Engine, Scope], Table]]] = {
    "cases": ("办件", cases),
    "fees": ("收费", fees),
    "actions": ("操作日志", action_log),
    "supervision": ("电子监察", supervision),
}


def _inert(value: Any) -> Any:
    """A text Excel would take for a formula (``=HYPERLINK(…)`` typed as a name at a window)
    starts with an apostrophe instead: shown as typed, never run (OWASP, CSV injection)."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _width(value: Any) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows([_inert(table.shown(n, v)) for n, v in enumerate(row)] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM: Excel then reads it as UTF-8


def to_xlsx(table: Table) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(table.title)
    bold = book.add_format({"bold": True})
    formats = {name: book.add_format({"num_format": "0.00"}) for name in table.money}
    formats |= {name: book.add_format({"num_format": "0.0%"}) for name in table.rates}
    formats |= {name: book.add_format({"num_format": "0.0"}) for name in table.tenths}
    sheet.write_row(0, 0, table.columns, bold)
    for n, row in enumerate(table.rows, start=1):
        sheet.write_row(n, 0, row)
    for n, name in enumerate(table.columns):  # as wide as what it holds (the first rows tell), a Chinese character twice
        widest = max([_width(name), *(_width(row[n]) for row in table.rows[:1000] if n < len(row))])
        sheet.set_column(n, n, max(6, min(60, widest + 2)), formats.get(name))
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


FORMATS: dict[str, tuple[Callable[[Table], bytes], str]] = {
    "csv": (to_csv, "text/csv"),  # (the server adds the charset)
    "xlsx": (to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")  # updated_at as stored (the cursor compares text)


def _cursor(at: str, case_id: str) -> bool:
    """A cursor as the feed gives it: 20261201T000000, 2026-W48 and +08:00 parse as dates, but
    compared as text they read nothing for the rest of the year (second adversarial pass)."""
    return bool(STAMP.fullmatch(at)) and 0 < len(case_id) <= 64 and case_id.isprintable()


def feed(engine: Engine, since: str = "", limit: int = 100, now: datetime | None = None) -> dict[str, Any]:
    """Cases changed after ``since`` (the ``next`` of the page before; "" from the start), oldest
    change first: each item is a case as it is now, without personal data. A case that changes
    again comes again (the key is ``id``). ``next`` goes in the following request."""
    limit = max(1, min(limit, FEED_LIMIT))
    after_at, _, after_id = since.partition("|")
    if since and not _cursor(after_at, after_id):  # a cut or mangled cursor read nothing, forever, without a word
        raise InvalidInput("since 只能是上一页给出的 next 值（从头读取请不带 since）", field="since")
    settled = format_time((now or datetime.now(UTC)) - SETTLED)
    with Session(engine) as session:
        points = _points(session)
        query = select(Application).where(col(Application.updated_at) <= settled)
        if after_at:
            later = col(Application.updated_at) > after_at
            query = query.where(later | ((col(Application.updated_at) == after_at) & (col(Application.id) > after_id)))
        rows = list(session.exec(query.order_by(col(Application.updated_at), col(Application.id)).limit(limit + 1)).all())
    more, rows = len(rows) > limit, rows[:limit]
    items = [
        {
            "id": a.id,
            "receipt_no": a.receipt_no,
            "item_code": a.item_code,
            "item_name": a.item_name,
            "department": a.department,
            "node_id": a.node_id,
            "node_name": points.get(a.node_id, a.node_id),
            "status": a.status,
            "outcome": a.outcome,
            "received_at": a.received_at,
            "accepted_at": a.accepted_at,
            "decided_at": a.decided_at,
            "delivered_at": a.delivered_at,
            "limit_days": a.limit_days,
            "updated_at": a.updated_at,
        }
        for a in rows
    ]
    return {"items": items, "next": f"{rows[-1].updated_at}|{rows[-1].id}" if rows else since, "more": more}
