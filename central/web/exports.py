"""The action log an operator can read, and exports (issue 22 item 6): the /actions page with
filters, /exports with its downloads (CSV, XLSX), and the same in the API plus the BI feed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template
from sqlmodel import Session, col, select

from weblayer.auth import requires_role
from weblayer.errors import InvalidInput, NotFound, ServiceError

from .. import actions, exports
from ..models import Department, Node
from ..workdays import today
from .context import Ctx, HubContext, HubRequest, page
from .esupervision import month_of, period_of
from .schemas import ActionOut, shaped

PAGE_SIZE = 200


def _scope(ctx: HubContext, start: str | None, end: str | None, node: str | None, department: str | None, month: str | None = None) -> exports.Scope:
    """What was asked for, or a 400 that says what is wrong: a month (YYYY-MM, as the monthly report
    takes it) was ignored and this month's rows came instead; an unknown point gave an empty table."""
    if month and (start or end):
        raise InvalidInput("期间请用 month（YYYY-MM），或用 start 和 end，不要同时用", field="month")
    first, last = month_of(month) if month else period_of(start, end)
    node, department = (node or "").strip(), (department or "").strip()
    with Session(ctx.engine) as session:
        if node and session.get(Node, node) is None:
            raise InvalidInput(f"没有服务点 {node}", field="node")
        if department and session.get(Department, department) is None:
            raise InvalidInput(f"没有部门 {department}", field="department")
    return exports.Scope(first, last, node, department)


def _download(ctx: HubContext, kind: str, fmt: str, scope: exports.Scope) -> Response[bytes]:
    if kind not in exports.KINDS or fmt not in exports.FORMATS:
        raise NotFound(f"没有这种导出：{kind}.{fmt}（可选 {'、'.join(exports.KINDS)}；csv 或 xlsx）")
    table = exports.KINDS[kind][1](ctx.engine, scope)
    render, media = exports.FORMATS[fmt]
    name = f"yiwang-{kind}-{scope.first}-{scope.last}.{fmt}"
    return Response(render(table), media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _filter(start: str | None, end: str | None, actor: str, action: str, target: str, before: int | None) -> tuple[actions.Filter, exports.Scope]:
    """The page's filter: the last 30 days unless a period is given."""
    scope = exports.Scope(*period_of(start or str(today() - timedelta(days=30)), end))
    return _wanted(scope, actor, action, target, before), scope


def _wanted(scope: exports.Scope | None, actor: str, action: str, target: str, before: int | None) -> actions.Filter:
    """What the page and the API filter the action log by (no scope: all of it)."""
    before = before if before is not None and 0 < before < 2**53 else None  # (a number past any id: the newest page)
    return actions.Filter(scope.start if scope else "", scope.end if scope else "", actor.strip(), action.strip(), target.strip(), before)


class ExportApi(Controller):
    guards = [requires_role("operator")]

    @get("/exports/{name:str}", sync_to_thread=True, media_type="application/octet-stream")
    def api_export(
        self,
        ctx: Ctx,
        name: FromPath[str],
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        node: FromQuery[str | None] = None,
        department: FromQuery[str | None] = None,
        month: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """``cases``, ``fees``, ``actions`` or ``supervision``, as ``.csv`` (UTF-8 with a BOM) or
        ``.xlsx``, for Beijing dates ``start``–``end`` or a ``month`` (YYYY-MM; default: this month
        so far), one point, one department."""
        kind, _, fmt = name.partition(".")
        return _download(ctx, kind, fmt, _scope(ctx, start, end, node, department, month))

    @get("/actions", sync_to_thread=True)
    def api_actions(
        self,
        ctx: Ctx,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        target: FromQuery[str] = "",
        before: FromQuery[int | None] = None,
    ) -> list[ActionOut]:
        """The action log, newest first, 500 at a time (``before``: the last ``id`` of the page
        before), with the raw codes; filtered as the /actions page filters (Beijing dates
        ``start``–``end``, a person, an action or its group, a receipt number or part of one, a
        point with its cases, an account)."""
        scope = exports.Scope(*period_of(start, end)) if start or end else None
        return [shaped(ActionOut, a) for a in actions.find(ctx.engine, _wanted(scope, actor, action, target, before), 500)]

    @get("/feed/cases", sync_to_thread=True)
    def api_feed(self, ctx: Ctx, since: FromQuery[str] = "", limit: FromQuery[int] = 100) -> dict[str, Any]:
        """Cases changed after ``since`` (the last page's ``next``), oldest first, at most ``limit``
        (≤ 1000); no personal data. A case that changes again comes again: its key is ``id``."""
        if limit < 1:
            raise InvalidInput("limit 至少为 1", field="limit")
        return exports.feed(ctx.engine, since, limit)


def _choices(ctx: HubContext) -> dict[str, Any]:
    with Session(ctx.engine) as session:
        return {
            "points": list(session.exec(select(Node.id, Node.name).order_by(col(Node.id))).all()),
            "departments": list(session.exec(select(Department.code, Department.name).order_by(col(Department.code))).all()),
        }


class ExportPages(Controller):
    guards = [requires_role("operator")]

    @get("/exports", sync_to_thread=True)
    def exports_page(self, request: HubRequest, ctx: Ctx) -> Template:
        return page(
            "exports.html", user=request.user, kinds=exports.KINDS, this_month=str(today().replace(day=1)), today=str(today()), **_choices(ctx)
        )

    @get("/exports/{name:str}", sync_to_thread=True, media_type="application/octet-stream")
    def download(
        self,
        request: HubRequest,
        ctx: Ctx,
        name: FromPath[str],
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        node: FromQuery[str | None] = None,
        department: FromQuery[str | None] = None,
        kind: FromQuery[str] = "",
        fmt: FromQuery[str] = "",
    ) -> Response[Any]:
        """A download; ``download`` takes the kind and format from the page's form."""
        if name != "download":
            kind, _, fmt = name.partition(".")
        try:
            return _download(ctx, kind, fmt, _scope(ctx, start, end, node, department))
        except ServiceError as exc:
            return page(
                "exports.html",
                status_code=exc.status,
                user=request.user,
                kinds=exports.KINDS,
                error=exc.message,
                this_month=start,
                today=end,
                **_choices(ctx),
            )

    @get("/actions", sync_to_thread=True)
    def actions_page(
        self,
        request: HubRequest,
        ctx: Ctx,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        target: FromQuery[str] = "",
        before: FromQuery[int | None] = None,
    ) -> Template:
        """The action log in words: who (by name), did what (in Chinese), to what (a receipt
        number, a point, an account), with filters; 200 at a time, older ones a page further."""
        error = None
        try:
            what, scope = _filter(start, end, actor, action, target, before)
        except ServiceError as exc:
            error = exc.message
            what, scope = _filter(None, None, actor, action, target, before)
        entries = actions.search(ctx.engine, what, PAGE_SIZE)
        asked = {"start": str(scope.first), "end": str(scope.last), "actor": what.actor, "action": what.action, "target": what.target}
        older = urlencode(asked | {"before": entries[-1]["id"]}) if len(entries) == PAGE_SIZE else None
        groups = sorted({a.split(".")[0] for a in actions.ACTION_NAMES})
        return page(
            "actions.html",
            user=request.user,
            entries=entries,
            asked=asked,
            names=actions.ACTION_NAMES,
            groups=groups,
            older=older,
            export=urlencode({k: v for k, v in asked.items() if k in ("start", "end")}),
            error=error,
        )


API = [ExportApi]
PAGES = [ExportPages]
