"""电子监察 on the web: supervision orders (督办单) for the departments to answer, the figures per
department and per clerk for a period, and the monthly report for the provincial platform
(central/cards.py, central/figures.py; docs/integration.md, "E-supervision report")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Response, Template

from weblayer.auth import requires_role
from weblayer.decoding import Body, Text
from weblayer.errors import InvalidInput, ServiceError

from .. import cards, catalog, exports, figures, services, supervision
from ..clock import utcnow
from ..exports import SUPERVISION_COLUMNS
from ..workdays import today
from .context import Ctx, HubContext, HubRequest, page

YEARS = (2000, 2100)  # the periods figures are asked for: a year outside overflows the date arithmetic


class ReplyIn(Body):
    reply: Text


class OrderOut(msgspec.Struct):
    id: int
    number: str  # 督办〔2026〕第 N 号
    application_id: str
    department: str
    issued_at: str
    reply_due: str  # a date; moved on at each escalation
    reply: str
    replied_at: str | None
    replied_by: str | None
    escalations: int  # how many levels it went up unanswered
    escalated_to: str  # the level it is at now ("" before any escalation)


class ServiceFiguresOut(msgspec.Struct):
    node_id: str
    name: str
    consultations: int
    consultations_with_case: int
    home_visits: int
    home_visits_by_proxy: int
    portal: int
    window: int
    served: int
    no_show: int
    cancelled: int


class TallyOut(msgspec.Struct):
    code: str  # department code, or the clerk's username
    name: str
    decided: int
    on_time: int
    on_time_rate: float | None
    average_working_days: float | None
    yellow_cards: int
    red_cards: int
    orders: int
    orders_replied_late: int
    orders_unanswered: int


class ReportCardOut(msgspec.Struct):
    receipt_no: str
    department: str
    colour: str
    clock: str
    stage: int
    due: str
    rule: str
    issued_at: str


class ReportOrderOut(msgspec.Struct):
    number: str
    receipt_no: str
    department: str
    issued_at: str
    reply_due: str
    replied_at: str | None
    escalations: int


class ReportOut(msgspec.Struct):
    """The monthly e-supervision report, ``yiwang.e-supervision.v1`` (docs/integration.md)."""

    format: str
    county: str
    month: str
    generated_at: str
    departments: list[TallyOut]
    clerks: list[TallyOut]
    cards: list[ReportCardOut]
    orders: list[ReportOrderOut]


class FiguresOut(msgspec.Struct):
    from_: str = msgspec.field(name="from")
    to: str = ""
    departments: list[TallyOut] = []
    clerks: list[TallyOut] = []


def order_out(order: Any) -> OrderOut:
    level = cards.ESCALATION[min(order.escalations, len(cards.ESCALATION)) - 1] if order.escalations else ""
    return msgspec.convert(order.model_dump() | {"escalated_to": level}, OrderOut)


def period_of(start: str | None, end: str | None) -> tuple[date, date]:
    """The period asked for; this month so far by default."""
    now = today()
    try:
        first = date.fromisoformat(start) if start else now.replace(day=1)
        last = date.fromisoformat(end) if end else now
    except ValueError:
        raise InvalidInput("日期格式应为 YYYY-MM-DD", field="start") from None
    if not (YEARS[0] <= first.year and last.year <= YEARS[1]):
        raise InvalidInput(f"统计期间须在 {YEARS[0]} 年到 {YEARS[1]} 年之间", field="start")
    if last < first or (last - first).days > 366:
        raise InvalidInput("统计期间须从早到晚，且不超过一年", field="end")
    return first, last


def month_of(month: str) -> tuple[date, date]:
    """A month given as YYYY-MM: its first and last days."""
    try:
        first, last = figures.month_bounds(month)
    except (ValueError, OverflowError):  # 9999-12 has no next month to end it
        raise InvalidInput("月份格式应为 YYYY-MM，如 2026-11", field="month") from None
    if not YEARS[0] <= first.year <= YEARS[1]:
        raise InvalidInput(f"月份须在 {YEARS[0]} 年到 {YEARS[1]} 年之间", field="month")
    return first, last


def _csv(report: dict[str, Any]) -> bytes:
    """The report's department table as CSV, written as every export is (central/exports.py)."""
    rows = [[report["month"], *(row[c] if row[c] is not None else "" for c in SUPERVISION_COLUMNS)] for row in report["departments"]]
    return exports.to_csv(exports.Table("supervision", "电子监察", ["月份", *SUPERVISION_COLUMNS.values()], rows))


class SupervisionOrdersApi(Controller):
    guards = [requires_role("clerk", "operator")]

    @get("/supervision/orders", sync_to_thread=True)
    def api_orders(self, request: HubRequest, ctx: Ctx, open: FromQuery[bool] = False) -> list[OrderOut]:
        """督办单, newest first: a clerk's department's, or every one for an operator;
        ``open=true``: only those still to answer."""
        user = request.user
        return [order_out(o) for o in cards.orders_of(ctx.engine, user.department if user.role == "clerk" else None, open)]

    @post("/supervision/orders/{order_id:int}/reply", sync_to_thread=True, status_code=200)
    def api_reply(self, request: HubRequest, ctx: Ctx, order_id: FromPath[int], data: JSONBody[ReplyIn]) -> OrderOut:
        """The department's answer: why the case was late and what it did (a township's, by an operator)."""
        return order_out(cards.reply(ctx.engine, request.user, order_id, data.reply))


class SupervisionFiguresApi(Controller):
    guards = [requires_role("operator")]

    @get("/supervision/figures", sync_to_thread=True)
    def api_figures(self, ctx: Ctx, start: FromQuery[str | None] = None, end: FromQuery[str | None] = None) -> FiguresOut:
        """Per department and per clerk, from ``start`` to ``end`` (dates, Beijing; default this
        month so far): parts decided, on time, average working days, cards and orders."""
        first, last = period_of(start, end)
        return msgspec.convert(figures.figures(ctx.engine, first, last), FiguresOut)

    @get("/services/figures", sync_to_thread=True)
    def api_services(self, ctx: Ctx, start: FromQuery[str | None] = None, end: FromQuery[str | None] = None) -> list[ServiceFiguresOut]:
        """便民服务 per point, from ``start`` to ``end`` (default this month so far): consultations at
        the window (and how many a case followed), home visits (and how many by proxy), appointments
        booked on the portal and by the point, served, no-shows, cancelled."""
        first, last = period_of(start, end)
        return [msgspec.convert(r, ServiceFiguresOut) for r in services.figures(ctx.engine, first, last)]

    @get("/supervision/report", sync_to_thread=True)
    def api_report(self, ctx: Ctx, month: FromQuery[str]) -> ReportOut:
        """The month's e-supervision report for the provincial platform (``yiwang.e-supervision.v1``,
        docs/integration.md), ``month`` as YYYY-MM."""
        return msgspec.convert(_report(ctx, month), ReportOut)

    @get("/supervision/report.csv", sync_to_thread=True, media_type="text/csv")
    def api_report_csv(self, ctx: Ctx, month: FromQuery[str]) -> Response[bytes]:
        """The report's department table as CSV (UTF-8 with BOM, so Excel opens it)."""
        return _csv_response(_report(ctx, month), month)


def _csv_response(report: dict[str, Any], month: str) -> Response[bytes]:
    return Response(_csv(report), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="e-supervision-{month}.csv"'})


def _report(ctx: HubContext, month: str) -> dict[str, Any]:
    month_of(month)
    return figures.monthly_report(ctx.engine, month, ctx.settings.county_name, utcnow())


def _supervision_page(
    ctx: HubContext, user: Any, start: str | None = None, end: str | None = None, status_code: int = 200, error: str | None = None
) -> Template:
    first, last = period_of(start, end)
    own = user.department if user.role == "clerk" else None
    said = supervision.open_items(ctx.engine, datetime.now(UTC), own)
    return page(
        "supervision.html",
        status_code=status_code,
        user=user,
        orders=[order_out(o) for o in cards.orders_of(ctx.engine, own)],
        figures=figures.figures(ctx.engine, first, last) if user.role == "operator" else None,
        departments=catalog.departments(ctx.engine) | {"township": "乡镇"},
        period=(first.isoformat(), last.isoformat()),
        month=first.strftime("%Y-%m"),
        error=error,
        said=said,
        voices=figures.voices(ctx.engine, first, last) if user.role == "operator" else None,
    )


def _acted(ctx: HubContext, user: Any, act: Any) -> Response:
    """One action from the supervision page: back to it, or it with the reason why not."""
    try:
        act(user)
    except ServiceError as exc:
        return _supervision_page(ctx, user, status_code=exc.status, error=exc.message)
    ctx.sync.wake_downlink()
    return Redirect("/supervision")


class SupervisionPages(Controller):
    guards = [requires_role("clerk", "operator")]

    @get("/supervision", sync_to_thread=True)
    def supervision(self, request: HubRequest, ctx: Ctx, start: FromQuery[str | None] = None, end: FromQuery[str | None] = None) -> Template:
        try:
            return _supervision_page(ctx, request.user, start, end)
        except ServiceError as exc:
            return _supervision_page(ctx, request.user, status_code=exc.status, error=exc.message)

    @post("/supervision/orders/{order_id:int}/reply", sync_to_thread=True)
    def reply(self, request: HubRequest, ctx: Ctx, order_id: FromPath[int], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _acted(ctx, request.user, lambda user: cards.reply(ctx.engine, user, order_id, data.get("reply", "")))

    @post("/supervision/complaints/{complaint_id:str}/answer", sync_to_thread=True)
    def answer(self, request: HubRequest, ctx: Ctx, complaint_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        """初步答复 (stage=first) or 办结答复: the department the complaint is routed to, or an operator."""
        final = data.get("stage") != "first"
        return _acted(ctx, request.user, lambda user: supervision.answer_complaint(ctx.engine, user, complaint_id, data.get("answer", ""), final))

    @post("/supervision/evaluations/{application_id:str}/follow-up", sync_to_thread=True, opt={"actions": ()})
    def follow_up(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _acted(ctx, request.user, lambda user: supervision.follow_up_evaluation(ctx.engine, user, application_id, data.get("follow_up", "")))


class SupervisionExportPages(Controller):
    guards = [requires_role("operator")]

    @get("/supervision/report.csv", sync_to_thread=True, media_type="text/csv")
    def report_csv(self, ctx: Ctx, month: FromQuery[str]) -> Response[bytes]:
        """The page's download of the month's report (the department table, as the API's)."""
        return _csv_response(_report(ctx, month), month)


API = [SupervisionOrdersApi, SupervisionFiguresApi]
PAGES = [SupervisionPages, SupervisionExportPages]
