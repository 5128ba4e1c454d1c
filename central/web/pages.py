"""Server-rendered Chinese UI of the hub: login, the clerk's queue and case page, the node list."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, MediaType, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import File, Redirect, Response, Template
from prometheus_client import CONTENT_TYPE_LATEST
from sqlmodel import Session, select

from sync_protocol import open_document
from weblayer.auth import PUBLIC, requires_role
from weblayer.display import qr_svg
from weblayer.errors import InvalidInput, NotFound, ServiceError
from weblayer.numbers import level as as_level
from weblayer.site import SiteDep
from weblayer.throttle import client_address

from .. import (
    approval,
    blobs,
    cards,
    catalog,
    certificates,
    clocks,
    commitments,
    dashboard,
    enrolment,
    fees,
    forms,
    originals,
    public,
    services,
    sharing,
    sms,
    supervision,
    suspensions,
    workdays,
)
from .. import documents as document_store
from .. import nodes as node_admin
from ..models import Alert, Application, Evaluation, Node
from . import booking, esupervision, exports, portal, staff
from .api import material_file
from .context import Ctx, HubContext, HubRequest, page


def _case_page(
    ctx: HubContext, user: Any, application_id: str, status_code: int = 200, error: str | None = None, full_id: str | None = None
) -> Template:
    app = approval.get_application(ctx.engine, user, application_id)
    with Session(ctx.engine) as session:
        materials = blobs.materials_of(session, application_id)
        requested = originals.requests_of(session, application_id)
        point = session.get(Node, app.node_id)
        form = forms.case_form(session, app, workdays.today(), reveal=full_id is not None)
    tasks = approval.case_tasks(ctx.engine, application_id)
    own = next((t for t in tasks if t["department"] == user.department), None)
    case_clocks, pauses = clocks.case_clocks(ctx.engine, app)
    with Session(ctx.engine) as session:
        documents = document_store.documents_of(session, application_id)
        fee = fees.case_fees(session, app)
        evaluation = session.get(Evaluation, application_id)
    return page(
        "case.html",
        status_code=status_code,
        user=user,
        app=app,
        materials=materials,
        tasks=tasks,
        own=own,
        error=error,
        licences=approval.licences_used(ctx.engine, app),
        originals_requested=requested,
        original_suffix=originals.SUFFIX,
        point=point,
        full_id=full_id,
        form=form,
        shared=sharing.shared_materials(ctx.engine, app, ctx.sharing),
        clocks=case_clocks,
        pauses=pauses,
        pause_names=clocks.PAUSES,
        special=suspensions.SPECIAL,
        cards=cards.cards_of(ctx.engine, application_id),
        documents=documents,
        notifications=sms.of_case(ctx.engine, application_id),
        fee=fee,
        evaluation=evaluation,
        levels=supervision.LEVELS,
    )


def _case_action(ctx: HubContext, user: Any, application_id: str, act: Callable[[Any, Any], Any]) -> Response:
    """Run one clerk action from the case page: back to the case, or the case with the reason why not."""
    try:
        act(ctx, user)
    except ServiceError as exc:
        return _case_page(ctx, user, application_id, status_code=exc.status, error=exc.message)
    ctx.sync.wake_downlink()
    return Redirect(f"/cases/{application_id}")


def _dashboard(ctx: HubContext, user: Any, status_code: int = 200, error: str | None = None) -> Template:
    board = dashboard.dashboard(ctx.engine, timedelta(minutes=ctx.settings.silent_minutes))
    with Session(ctx.engine) as session:
        alerts = session.exec(select(Alert).order_by(Alert.id.desc()).limit(20)).all()  # type: ignore[union-attr]
    return page(
        "dashboard.html",
        status_code=status_code,
        user=user,
        board=board,
        alerts=alerts,
        error=error,
        hub_nats_connected=ctx.sync.connected,
        silent_minutes=ctx.settings.silent_minutes,
        calendar=workdays.calendar_status(workdays.load_calendar(ctx.engine)),
        certificates=certificates.expiring(ctx.settings.nats_dir),
        now=datetime.now(UTC),
        departments=catalog.departments(ctx.engine),
        services=services.figures(ctx.engine, *services.this_month()),  # 便民服务: this month's (appointments to its end)
    )


def _dashboard_action(ctx: HubContext, user: Any, act: Callable[[Any, Any], Any]) -> Response:
    try:
        act(ctx.engine, user)
    except ServiceError as exc:
        return _dashboard(ctx, user, status_code=exc.status, error=exc.message)
    return Redirect("/dashboard#supervision")


def _item_page(ctx: HubContext, user: Any, item: dict[str, Any] | None, new: bool, status_code: int = 200, error: str | None = None) -> Template:
    return page(
        "catalog_item.html",
        status_code=status_code,
        user=user,
        item=item or {"materials": []},
        new=new,
        error=error,
        departments=catalog.departments(ctx.engine),
        levels=catalog.LEVELS,
        objects=catalog.SERVICE_OBJECTS,
    )


def _nodes_page(ctx: HubContext, user: Any, status_code: int = 200, **extra: Any) -> Template:
    with Session(ctx.engine) as session:
        rows = session.exec(select(Node).order_by(Node.id)).all()
        counts = {n.id: len(session.exec(select(Application.id).where(Application.node_id == n.id)).all()) for n in rows}
        extra["townships"] = enrolment.townships(session)
    extra.setdefault("error", None)
    extra.setdefault("new_code", None)
    extra.setdefault("message", None)
    extra.setdefault("calendar", workdays.calendar_status(workdays.load_calendar(ctx.engine)))
    return page("nodes.html", status_code=status_code, user=user, nodes=rows, counts=counts, **extra)


def _slip(ctx: HubContext, code: str, node_id: str, expires: str, replacement: bool = False) -> dict[str, Any]:
    """The printable enrolment slip (登记单), with the whole command as a QR code for a phone."""
    slip = ctx.enrolment_slip(code, node_id, expires, replacement=replacement)
    return slip | {"qr_svg": qr_svg(slip["command"], box_size=6)}


LOOPBACK = ("127.0.0.1", "::1")  # the hub's own machine, which may scrape /metrics without a token
# … unless a proxy passed the request on (what proxies add; nginx's bare proxy_pass adds none, so
# behind a proxy set YIWANG_METRICS_TOKEN)
PROXIED = ("forwarded", "x-forwarded-for", "x-real-ip", "via", "x-forwarded-host", "x-forwarded-proto", "x-client-ip", "true-client-ip")


class HomePages(Controller):
    @get("/", sync_to_thread=False)
    def home(self, request: HubRequest) -> Response:
        return Redirect("/dashboard" if request.user.role == "operator" else "/queue")


def _post_checks_page(ctx: HubContext, user: Any, status_code: int = 200, error: str | None = None) -> Template:
    rows = commitments.post_checks(ctx.engine, user)
    return page(
        "postchecks.html",
        status_code=status_code,
        user=user,
        rows=[(c, a, commitments.overdue(c), json.loads(c.replaced_json)) for c, a in rows],
        outcomes=commitments.OUTCOMES,
        error=error,
    )


class ClerkPages(Controller):
    guards = [requires_role("clerk")]

    @get("/queue", sync_to_thread=True)
    def queue(self, request: HubRequest, ctx: Ctx) -> Template:
        user = request.user
        rows = approval.queue_with_deadlines(ctx.engine, user)
        orders = cards.orders_of(ctx.engine, user.department, open_only=True)
        return page("queue.html", user=user, rows=rows, orders=orders, department=catalog.departments(ctx.engine).get(user.department or "", ""))

    @get("/postchecks", sync_to_thread=True)
    def post_checks(self, request: HubRequest, ctx: Ctx) -> Template:
        """事后核查: the department's cases decided on the applicant's commitment (告知承诺制)."""
        return _post_checks_page(ctx, request.user)

    @post("/postchecks/{application_id:str}", sync_to_thread=True, opt={"actions": ("revoke",)})
    def post_check_outcome(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        try:
            commitments.record_outcome(ctx.engine, request.user, application_id, data.get("outcome", ""), data.get("reason", ""))
        except ServiceError as exc:
            return _post_checks_page(ctx, request.user, status_code=exc.status, error=exc.message)
        ctx.sync.wake_downlink()
        return Redirect("/postchecks")

    @post("/cases/{application_id:str}/id-number", sync_to_thread=True, opt={"actions": ()})
    def case_reveal_id(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str]) -> Template:
        """查看完整身份证号: for a clerk of a department deciding the case; the view is logged."""
        user = request.user
        return _case_page(ctx, user, application_id, full_id=approval.reveal_id_number(ctx.engine, user, application_id))

    @post("/cases/{application_id:str}/materials/{sha256:str}/original", sync_to_thread=True, opt={"actions": ()})
    def case_request_original(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], sha256: FromPath[str]) -> Response:
        """请求原图: the point sends the photo as taken when its link allows."""
        return _case_action(ctx, request.user, application_id, lambda ctx, user: originals.request_original(ctx.engine, user, application_id, sha256))

    @post("/cases/{application_id:str}/decision", sync_to_thread=True, opt={"actions": ("approve", "deny", "pass_part")})
    def case_decide(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _case_action(
            ctx,
            request.user,
            application_id,
            lambda ctx, user: approval.decide(ctx.engine, user, application_id, data.get("decision", ""), data.get("reason", ""), ctx.key),
        )

    @post("/cases/{application_id:str}/acceptance", sync_to_thread=True, opt={"actions": ("accept", "not_accept")})
    def case_accept(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        if data.get("accept") == "no":
            return _case_action(
                ctx, request.user, application_id, lambda ctx, user: approval.not_accept(ctx.engine, user, application_id, data.get("reason", ""))
            )
        return _case_action(ctx, request.user, application_id, lambda ctx, user: approval.accept(ctx.engine, user, application_id))

    @post("/cases/{application_id:str}/suspension", sync_to_thread=True, opt={"actions": ("suspend",)})
    def case_suspend(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _case_action(
            ctx,
            request.user,
            application_id,
            lambda ctx, user: suspensions.suspend(ctx.engine, user, application_id, data.get("kind", ""), data.get("reason", "")),
        )

    @post("/cases/{application_id:str}/suspension/end", sync_to_thread=True, opt={"actions": ("resume",)})
    def case_resume(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str]) -> Response:
        return _case_action(ctx, request.user, application_id, lambda ctx, user: suspensions.resume(ctx.engine, user, application_id))

    @post("/cases/{application_id:str}/supplement-request", sync_to_thread=True, opt={"actions": ("request_supplement",)})
    def case_supplement(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _case_action(
            ctx,
            request.user,
            application_id,
            lambda ctx, user: approval.request_supplement(ctx.engine, user, application_id, data.get("missing", "").splitlines()),
        )


class CasePages(Controller):
    guards = [requires_role("clerk", "operator")]

    @get("/cases/{application_id:str}/documents/{document_id:int}", sync_to_thread=True)
    def case_document(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], document_id: FromPath[int]) -> Template:
        """A document of record on the case, to print or reprint: as signed, as the point prints it."""
        approval.get_application(ctx.engine, request.user, application_id)  # the clerk's department's case
        document = document_store.get(ctx.engine, application_id, document_id)
        doc = open_document(document.text, ctx.key.verify_key)
        return page("document.html", user=request.user, doc=doc, text=document.text, back=f"/cases/{application_id}")

    @get("/cases/{application_id:str}", sync_to_thread=True)
    def case(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str]) -> Template:
        return _case_page(ctx, request.user, application_id)

    @get("/cases/{application_id:str}/materials/{sha256:str}", sync_to_thread=True, media_type="application/octet-stream")
    def case_material(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], sha256: FromPath[str]) -> File:
        return material_file(ctx, request.user, application_id, sha256)


class DashboardPages(Controller):
    guards = [requires_role("operator")]

    @get("/dashboard", sync_to_thread=True)
    def dashboard_page(self, request: HubRequest, ctx: Ctx) -> Template:
        """The operator's home: which nodes are behind, which cases are late, did every fee reach the county."""
        return _dashboard(ctx, request.user)

    @post("/dashboard/complaints/{complaint_id:str}/answer", sync_to_thread=True)
    def dashboard_answer(self, request: HubRequest, ctx: Ctx, complaint_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _dashboard_action(
            ctx,
            request.user,
            lambda engine, user: supervision.answer_complaint(engine, user, complaint_id, data.get("answer", ""), data.get("stage") != "first"),
        )

    @post("/dashboard/evaluations/{application_id:str}/follow-up", sync_to_thread=True, opt={"actions": ()})
    def dashboard_follow_up(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _dashboard_action(
            ctx, request.user, lambda engine, user: supervision.follow_up_evaluation(engine, user, application_id, data.get("follow_up", ""))
        )


class CatalogPages(Controller):
    guards = [requires_role("operator")]

    @get("/catalog", sync_to_thread=True)
    def catalog_page(self, request: HubRequest, ctx: Ctx) -> Template:
        user = request.user
        engine = ctx.engine
        return page(
            "catalog.html",
            user=user,
            catalog=catalog.published_catalog(engine),
            procedures=catalog.procedures(engine),
            versions=catalog.versions(engine),
            published=request.query_params.get("published"),
        )

    @get("/catalog/new", sync_to_thread=True)
    def catalog_new(self, request: HubRequest, ctx: Ctx) -> Template:
        return _item_page(ctx, request.user, None, new=True)

    @get("/catalog/items/{code:str}", sync_to_thread=True)
    def catalog_item(self, request: HubRequest, ctx: Ctx, code: FromPath[str]) -> Template:
        user = request.user
        item = catalog.item_for_edit(ctx.engine, code)
        if item is None:
            raise NotFound(f"目录中没有事项 {code}")
        return _item_page(ctx, user, item, new=False)

    @post("/catalog/items", sync_to_thread=True)
    def catalog_publish(self, request: HubRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        """Save an item from the edit page and publish the catalog as a new version."""
        user = request.user
        chosen = [code for code in catalog.departments(ctx.engine) if data.get(f"dept_{code}") == "1" or data.get("department") == code]
        try:
            item = catalog.item_from_form(data, chosen, catalog.item_for_edit(ctx.engine, str(data.get("code", ""))))
            published = catalog.publish_item(ctx.engine, user, item, data.get("note", ""))
        except ServiceError as exc:
            return _item_page(
                ctx,
                user,
                dict(data) | {"departments": chosen, "materials": catalog.materials_from_form(data)},
                new=data.get("new") == "1",
                status_code=exc.status,
                error=exc.message,
            )
        ctx.sync.wake_downlink()
        return Redirect(f"/catalog?published={published['version']}")


class NodesPages(Controller):
    guards = [requires_role("operator")]

    @get("/nodes", sync_to_thread=True)
    def nodes(self, request: HubRequest, ctx: Ctx) -> Template:
        user = request.user
        return _nodes_page(ctx, user)

    @post("/nodes/enrolment-codes", sync_to_thread=True)
    def nodes_create_code(self, request: HubRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Template:
        user = request.user
        try:
            code, expires = enrolment.create_code(
                ctx.engine,
                data.get("node_id", "").strip(),
                data.get("name", ""),
                data.get("kind", ""),
                data.get("parent") or None,
                user.username,
            )
            slip = _slip(ctx, code, data.get("node_id", "").strip(), expires)
        except ServiceError as exc:
            return _nodes_page(ctx, user, status_code=exc.status, error=exc.message)
        return _nodes_page(ctx, user, new_code=slip)

    @post("/nodes/calendar", sync_to_thread=True)
    def nodes_load_calendar(self, request: HubRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Template:
        """The year's official holidays and adjusted workdays as the State Council publishes them,
        typed or pasted (dates separated by spaces, commas or new lines): the page the banner
        points at, where it pointed at POST /api/calendar."""
        user = request.user
        try:
            year = data.get("year", "").strip()
            if not year.isdigit() or not 2000 <= int(year) <= 2100:
                raise InvalidInput("年份请填四位数字，如 2027", field="year")
            dates = lambda name: [d for d in re.split(r"[\s,，、；;]+", data.get(name, "")) if d]  # noqa: E731
            stored = workdays.load_year(ctx.engine, int(year), dates("holidays"), dates("workdays"), user.username)
        except ServiceError as exc:
            return _nodes_page(ctx, user, status_code=exc.status, error=exc.message)
        return _nodes_page(ctx, user, message=f"已导入 {year} 年的 {stored} 个节假日和调休上班日")

    @post("/nodes/{node_id:str}/replacement-code", sync_to_thread=True)
    def nodes_replacement_code(self, request: HubRequest, ctx: Ctx, node_id: FromPath[str]) -> Template:
        user = request.user
        try:
            code, expires = enrolment.create_replacement_code(ctx.engine, node_id, user.username)
            slip = _slip(ctx, code, node_id, expires, replacement=True)
        except ServiceError as exc:
            return _nodes_page(ctx, user, status_code=exc.status, error=exc.message)
        return _nodes_page(ctx, user, new_code=slip)

    @post("/nodes/{node_id:str}/revoke", sync_to_thread=True)
    def nodes_revoke(self, request: HubRequest, ctx: Ctx, node_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
        """A stolen laptop: the node's NATS connection is dropped at once (same path as the API)."""
        user = request.user
        try:
            node_admin.revoke_node(ctx.engine, user, node_id, data.get("reason", ""))
        except ServiceError as exc:
            return _nodes_page(ctx, user, status_code=exc.status, error=exc.message)
        ctx.nats_access_changed()
        return _nodes_page(ctx, user, message=f"节点 {node_id} 已吊销：它的联网连接已被切断，之后它签发的批次一律隔离。新设备请生成设备更换码。")

    @post("/nodes/{node_id:str}/link", sync_to_thread=True)
    def nodes_link(self, request: HubRequest, ctx: Ctx, node_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
        """Metered mode for a point on a paid-per-MB link: files only in the hours set."""
        user = request.user
        metered = data.get("metered", "") in ("1", "on", "true")
        try:
            node_admin.set_link_mode(ctx.engine, user, node_id, metered, data.get("hours", ""))
        except ServiceError as exc:
            return _nodes_page(ctx, user, status_code=exc.status, error=exc.message)
        hours = data.get("hours", "").strip()
        said = (
            (f"按流量计费：材料文件只在每天 {hours} 时（北京时间）上传" if hours else "按流量计费：材料文件暂停上传，记录照常")
            if metered
            else "不按流量计费：材料文件随时上传"
        )
        return _nodes_page(ctx, user, message=f"节点 {node_id} 的链路设置已保存（{said}），下次心跳时生效。")


def _rate_page(receipt_no: str, status_code: int = 200, rated: Any = None, error: str | None = None) -> Template:
    """The citizen's rating page: the form (``receipt_no`` filled in), the reason why not, or the thanks."""
    return page("rate.html", status_code=status_code, user=None, receipt_no=receipt_no, levels=supervision.LEVELS, rated=rated, error=error)


class PublicPages(Controller):
    opt = {PUBLIC: True}

    @get("/publicity", sync_to_thread=True)
    def publicity_page(self, ctx: Ctx) -> Template:
        """Public: 结果公示 of the last 90 days, without personal data."""
        return page(
            "publicity.html", user=None, rows=public.publicity(ctx.engine), days=public.PUBLICITY_DAYS, commitments=commitments.published(ctx.engine)
        )

    @get("/rate", sync_to_thread=True)
    def rate_form(self, receipt_no: FromQuery[str] = "") -> Template:
        """Public: 好差评 on the citizen's own phone (the QR code on the pickup slip)."""
        return _rate_page(receipt_no)

    @post("/rate", sync_to_thread=True, status_code=200)
    def rate(self, request: HubRequest, site: SiteDep, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Template:
        receipt_no, level = data.get("receipt_no", ""), data.get("level", "")
        try:
            rated = site.lookups.attempt(
                receipt_no,
                client_address(request),
                lambda: supervision.rate(ctx.engine, receipt_no, data.get("id_last4", ""), as_level(level), data.get("comment", "")),
                NotFound,
            )
        except ServiceError as exc:
            return _rate_page(receipt_no, status_code=exc.status, error=exc.message)
        return _rate_page(receipt_no, rated=rated)

    @get("/metrics", sync_to_thread=True, include_in_schema=False)
    def prometheus_metrics(self, request: HubRequest, ctx: Ctx) -> Response[bytes]:
        """Prometheus scrape target: node health, cases, fees, the process (no personal data; see
        central/metrics.py). With ``YIWANG_METRICS_TOKEN`` set, only a scrape carrying it as a
        bearer token; without, only one from the hub's own machine, not through a proxy (which
        connects from the machine too, for anyone): per-point cash figures are not for the public
        port."""
        expected = ctx.settings.metrics_token
        if expected:  # a scraper is no browser: a plain answer, not the login page
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return Response("读取监控指标需要令牌（YIWANG_METRICS_TOKEN）\n".encode(), status_code=401, media_type=MediaType.TEXT)
        elif client_address(request) not in LOOPBACK or any(h in request.headers for h in PROXIED):
            return Response(
                "没有设置监控令牌（YIWANG_METRICS_TOKEN）时，只有本机可以读取监控指标\n".encode(), status_code=403, media_type=MediaType.TEXT
            )
        return Response(ctx.scrapes.text(), media_type=CONTENT_TYPE_LATEST)


CONTROLLERS = [
    HomePages,
    ClerkPages,
    CasePages,
    DashboardPages,
    CatalogPages,
    NodesPages,
    PublicPages,
    *esupervision.PAGES,
    *portal.PAGES,
    *booking.PAGES,
    *staff.PAGES,
    *exports.PAGES,
]
