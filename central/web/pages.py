"""Server-rendered Chinese UI of the hub: login, the clerk's queue and case page, the node list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from litestar import MediaType, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import File, Redirect, Response, Template
from sqlmodel import Session, select

from sync_protocol import SyncError, open_licence
from weblayer.display import mask_id, qr_svg
from weblayer.errors import NotAuthenticated, NotFound, ServiceError
from weblayer.throttle import TooManyAttempts, client_address

from .. import actions, approval, auth, blobs, catalog, dashboard, enrolment, originals, public, supervision, workdays
from .. import nodes as node_admin
from ..models import Alert, Application, Node
from .api import material_file
from .context import SESSION_COOKIE, hub, page_user

STATUS_TEXT = {
    "received": "待受理",
    "accepted": "已受理",
    "not_accepted": "不予受理",
    "approved": "已批准",
    "denied": "不予批准",
    "delivered": "已送达",
    "dispatched": "已寄出",
    "supplement_requested": "待补正",
}
TASK_TEXT = {"pending": "待审批", "approved": "同意", "denied": "不同意", "closed": "已终止"}


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    context.setdefault("status_text", STATUS_TEXT)
    context.setdefault("task_text", TASK_TEXT)
    context.setdefault("mask_id", mask_id)
    return Template(name, context=context, status_code=status_code, media_type=MediaType.HTML)


@get("/", sync_to_thread=True)
def home(request: Request) -> Response:
    user = auth.user_for_token(hub(request).engine, request.cookies.get(SESSION_COOKIE))
    if user is None:
        return Redirect("/login")
    return Redirect("/dashboard" if user.role == "operator" else "/queue")


@get("/login", sync_to_thread=False)
def login_form() -> Template:
    return page("login.html", error=None, username="")


@post("/login", sync_to_thread=True)
def login_submit(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    ctx, username = hub(request), data.get("username", "")
    try:
        _, token = ctx.throttle.attempt(
            username, client_address(request), lambda: auth.log_in(ctx.engine, username, data.get("password", "")), NotAuthenticated
        )
    except (ServiceError, TooManyAttempts) as exc:
        return page("login.html", status_code=429 if isinstance(exc, TooManyAttempts) else 401, error=exc.message, username=username)
    response = Redirect("/")
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=request.url.scheme == "https", max_age=int(auth.SESSION_LIFETIME.total_seconds())
    )
    return response


@post("/logout", sync_to_thread=True)
def logout(request: Request) -> Response:
    auth.log_out(hub(request).engine, request.cookies.get(SESSION_COOKIE))
    response = Redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@get("/queue", sync_to_thread=True)
def queue(request: Request) -> Template:
    user = page_user(request, "clerk")
    ctx = hub(request)
    rows = approval.queue_with_deadlines(ctx.engine, user)
    return page("queue.html", user=user, rows=rows, department=catalog.departments(ctx.engine).get(user.department or "", ""))


def _case_page(
    request: Request, user: Any, application_id: str, status_code: int = 200, error: str | None = None, full_id: str | None = None
) -> Template:
    ctx = hub(request)
    app = approval.get_application(ctx.engine, user, application_id)
    with Session(ctx.engine) as session:
        materials = blobs.materials_of(session, application_id)
        requested = originals.requests_of(session, application_id)
        point = session.get(Node, app.node_id)
    tasks = approval.case_tasks(ctx.engine, application_id)
    own = next((t for t in tasks if t["department"] == user.department), None)
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
    )


@get("/cases/{application_id:str}", sync_to_thread=True)
def case(request: Request, application_id: FromPath[str]) -> Template:
    return _case_page(request, page_user(request, "clerk", "operator"), application_id)


@post("/cases/{application_id:str}/id-number", sync_to_thread=True)
def case_reveal_id(request: Request, application_id: FromPath[str]) -> Template:
    """查看完整身份证号: for a clerk of a department deciding the case; the view is logged."""
    user = page_user(request, "clerk")
    return _case_page(request, user, application_id, full_id=approval.reveal_id_number(hub(request).engine, user, application_id))


@get("/cases/{application_id:str}/materials/{sha256:str}", sync_to_thread=True, media_type="application/octet-stream")
def case_material(request: Request, application_id: FromPath[str], sha256: FromPath[str]) -> File:
    return material_file(request, page_user(request, "clerk", "operator"), application_id, sha256)


@post("/cases/{application_id:str}/materials/{sha256:str}/original", sync_to_thread=True)
def case_request_original(request: Request, application_id: FromPath[str], sha256: FromPath[str]) -> Response:
    """请求原图: the point sends the photo as taken when its link allows."""
    return _case_action(request, application_id, lambda ctx, user: originals.request_original(ctx.engine, user, application_id, sha256))


def _case_action(request: Request, application_id: str, act: Callable[[Any, Any], Any]) -> Response:
    """Run one clerk action from the case page: back to the case, or the case with the reason why not."""
    user = page_user(request, "clerk")
    ctx = hub(request)
    try:
        act(ctx, user)
    except ServiceError as exc:
        return _case_page(request, user, application_id, status_code=exc.status, error=exc.message)
    ctx.sync.wake_downlink()
    return Redirect(f"/cases/{application_id}")


@post("/cases/{application_id:str}/decision", sync_to_thread=True)
def case_decide(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    return _case_action(
        request,
        application_id,
        lambda ctx, user: approval.decide(ctx.engine, user, application_id, data.get("decision", ""), data.get("reason", ""), ctx.key),
    )


@post("/cases/{application_id:str}/acceptance", sync_to_thread=True)
def case_accept(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    if data.get("accept") == "no":
        return _case_action(request, application_id, lambda ctx, user: approval.not_accept(ctx.engine, user, application_id, data.get("reason", "")))
    return _case_action(request, application_id, lambda ctx, user: approval.accept(ctx.engine, user, application_id))


@post("/cases/{application_id:str}/supplement-request", sync_to_thread=True)
def case_supplement(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    return _case_action(
        request, application_id, lambda ctx, user: approval.request_supplement(ctx.engine, user, application_id, data.get("missing", "").splitlines())
    )


@get("/verify", sync_to_thread=True)
def verify_page(request: Request, licence: FromQuery[str] = "") -> Template:
    """Public: anyone can check an e-licence's text against the hub key."""
    result, error = None, None
    if licence.strip():
        try:
            result = open_licence(licence, hub(request).key.verify_key)
        except SyncError:
            error = "无效：这份电子证照不是县级中枢签发的，或内容已被改动"
    return page("verify.html", user=None, licence=licence, result=result, error=error)


@get("/dashboard", sync_to_thread=True)
def dashboard_page(request: Request) -> Template:
    """The operator's home: which nodes are behind, which cases are late, did every fee reach the county."""
    return _dashboard(request, page_user(request, "operator"))


def _dashboard(request: Request, user: Any, status_code: int = 200, error: str | None = None) -> Template:
    ctx = hub(request)
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
    )


def _dashboard_action(request: Request, act: Callable[[Any, Any], Any]) -> Response:
    user = page_user(request, "operator")
    try:
        act(hub(request).engine, user)
    except ServiceError as exc:
        return _dashboard(request, user, status_code=exc.status, error=exc.message)
    return Redirect("/dashboard#supervision")


@post("/dashboard/complaints/{complaint_id:str}/answer", sync_to_thread=True)
def dashboard_answer(request: Request, complaint_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    return _dashboard_action(request, lambda engine, user: supervision.answer_complaint(engine, user, complaint_id, data.get("answer", "")))


@post("/dashboard/evaluations/{application_id:str}/follow-up", sync_to_thread=True)
def dashboard_follow_up(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    return _dashboard_action(request, lambda engine, user: supervision.follow_up_evaluation(engine, user, application_id, data.get("follow_up", "")))


@get("/actions", sync_to_thread=True)
def actions_page(request: Request) -> Template:
    user = page_user(request, "operator")
    return page("actions.html", user=user, entries=actions.recent_actions(hub(request).engine, 500))


@get("/catalog", sync_to_thread=True)
def catalog_page(request: Request) -> Template:
    user = page_user(request, "operator")
    engine = hub(request).engine
    return page(
        "catalog.html",
        user=user,
        catalog=catalog.published_catalog(engine),
        versions=catalog.versions(engine),
        published=request.query_params.get("published"),
    )


def _item_page(request: Request, user: Any, item: dict[str, Any] | None, new: bool, status_code: int = 200, error: str | None = None) -> Template:
    return page(
        "catalog_item.html",
        status_code=status_code,
        user=user,
        item=item or {"materials": []},
        new=new,
        error=error,
        departments=catalog.departments(hub(request).engine),
        levels=catalog.LEVELS,
        objects=catalog.SERVICE_OBJECTS,
    )


@get("/catalog/new", sync_to_thread=True)
def catalog_new(request: Request) -> Template:
    return _item_page(request, page_user(request, "operator"), None, new=True)


@get("/catalog/items/{code:str}", sync_to_thread=True)
def catalog_item(request: Request, code: FromPath[str]) -> Template:
    user = page_user(request, "operator")
    item = catalog.item_for_edit(hub(request).engine, code)
    if item is None:
        raise NotFound(f"目录中没有事项 {code}")
    return _item_page(request, user, item, new=False)


@post("/catalog/items", sync_to_thread=True)
def catalog_publish(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    """Save an item from the edit page and publish the catalog as a new version."""
    user = page_user(request, "operator")
    ctx = hub(request)
    chosen = [code for code in catalog.departments(ctx.engine) if data.get(f"dept_{code}") == "1" or data.get("department") == code]
    try:
        item = catalog.item_from_form(data, chosen)
        published = catalog.publish_item(ctx.engine, user, item, data.get("note", ""))
    except ServiceError as exc:
        return _item_page(
            request,
            user,
            dict(data) | {"departments": chosen, "materials": catalog.materials_from_form(data)},
            new=data.get("new") == "1",
            status_code=exc.status,
            error=exc.message,
        )
    ctx.sync.wake_downlink()
    return Redirect(f"/catalog?published={published['version']}")


@get("/progress", sync_to_thread=True)
def progress_page(request: Request, receipt_no: FromQuery[str] = "", id_last4: FromQuery[str] = "") -> Template:
    """Public, no login: a citizen follows a case from anywhere with its receipt number and the last
    4 characters of the ID number."""
    result, error = None, None
    if id_last4:  # the slip's QR code carries the receipt number alone: the form, filled in, no error yet
        ctx = hub(request)
        try:
            result = ctx.lookups.attempt(receipt_no, client_address(request), lambda: public.progress(ctx.engine, receipt_no, id_last4), NotFound)
        except (ServiceError, TooManyAttempts) as exc:
            error = exc.message
    return page("progress.html", user=None, receipt_no=receipt_no, result=result, error=error)


@get("/publicity", sync_to_thread=True)
def publicity_page(request: Request) -> Template:
    """Public: 结果公示 of the last 90 days, without personal data."""
    return page("publicity.html", user=None, rows=public.publicity(hub(request).engine), days=public.PUBLICITY_DAYS)


@get("/nodes", sync_to_thread=True)
def nodes(request: Request) -> Template:
    user = page_user(request, "operator")
    return _nodes_page(request, user)


def _nodes_page(request: Request, user: Any, status_code: int = 200, **extra: Any) -> Template:
    with Session(hub(request).engine) as session:
        rows = session.exec(select(Node).order_by(Node.id)).all()
        counts = {n.id: len(session.exec(select(Application.id).where(Application.node_id == n.id)).all()) for n in rows}
    extra.setdefault("error", None)
    extra.setdefault("new_code", None)
    extra.setdefault("message", None)
    extra.setdefault("calendar", workdays.calendar_status(workdays.load_calendar(hub(request).engine)))
    return page("nodes.html", status_code=status_code, user=user, nodes=rows, counts=counts, **extra)


def _slip(request: Request, code: str, node_id: str, expires: str, replacement: bool = False) -> dict[str, Any]:
    """The printable enrolment slip (登记单), with the whole command as a QR code for a phone."""
    slip = hub(request).enrolment_slip(code, node_id, expires, replacement=replacement)
    return slip | {"qr_svg": qr_svg(slip["command"], box_size=6)}


@post("/nodes/enrolment-codes", sync_to_thread=True)
def nodes_create_code(request: Request, data: URLEncodedBody[dict[str, str]]) -> Template:
    user = page_user(request, "operator")
    try:
        code, expires = enrolment.create_code(
            hub(request).engine,
            data.get("node_id", "").strip(),
            data.get("name", ""),
            data.get("kind", ""),
            data.get("parent") or None,
            user.username,
        )
        slip = _slip(request, code, data.get("node_id", "").strip(), expires)
    except ServiceError as exc:
        return _nodes_page(request, user, status_code=exc.status, error=exc.message)
    return _nodes_page(request, user, new_code=slip)


@post("/nodes/{node_id:str}/replacement-code", sync_to_thread=True)
def nodes_replacement_code(request: Request, node_id: FromPath[str]) -> Template:
    user = page_user(request, "operator")
    try:
        code, expires = enrolment.create_replacement_code(hub(request).engine, node_id, user.username)
        slip = _slip(request, code, node_id, expires, replacement=True)
    except ServiceError as exc:
        return _nodes_page(request, user, status_code=exc.status, error=exc.message)
    return _nodes_page(request, user, new_code=slip)


@post("/nodes/{node_id:str}/revoke", sync_to_thread=True)
def nodes_revoke(request: Request, node_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
    """A stolen laptop: the node's NATS connection is dropped at once (same path as the API)."""
    user = page_user(request, "operator")
    try:
        node_admin.revoke_node(hub(request).engine, user, node_id, data.get("reason", ""))
    except ServiceError as exc:
        return _nodes_page(request, user, status_code=exc.status, error=exc.message)
    hub(request).nats_access_changed()
    return _nodes_page(request, user, message=f"节点 {node_id} 已吊销：它的联网连接已被切断，之后它签发的批次一律隔离。新设备请生成设备更换码。")


@post("/nodes/{node_id:str}/link", sync_to_thread=True)
def nodes_link(request: Request, node_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
    """Metered mode for a point on a paid-per-MB link: files only in the hours set."""
    user = page_user(request, "operator")
    metered = data.get("metered", "") in ("1", "on", "true")
    try:
        node_admin.set_link_mode(hub(request).engine, user, node_id, metered, data.get("hours", ""))
    except ServiceError as exc:
        return _nodes_page(request, user, status_code=exc.status, error=exc.message)
    hours = data.get("hours", "").strip()
    said = (
        (f"按流量计费：材料文件只在每天 {hours} 时（北京时间）上传" if hours else "按流量计费：材料文件暂停上传，记录照常")
        if metered
        else "不按流量计费：材料文件随时上传"
    )
    return _nodes_page(request, user, message=f"节点 {node_id} 的链路设置已保存（{said}），下次心跳时生效。")


ROUTES = [
    verify_page,
    progress_page,
    publicity_page,
    home,
    dashboard_page,
    dashboard_answer,
    dashboard_follow_up,
    actions_page,
    login_form,
    login_submit,
    logout,
    queue,
    case,
    case_reveal_id,
    case_material,
    case_request_original,
    case_decide,
    case_accept,
    case_supplement,
    catalog_page,
    catalog_new,
    catalog_item,
    catalog_publish,
    nodes,
    nodes_create_code,
    nodes_replacement_code,
    nodes_revoke,
    nodes_link,
]
