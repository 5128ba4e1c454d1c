"""Server-rendered Chinese UI of the hub: login, the clerk's queue and case page, the node list."""

from __future__ import annotations

from typing import Any, Callable

from litestar import MediaType, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import File, Redirect, Response, Template
from sqlmodel import Session, select

from .. import approval, auth, blobs, catalog, enrolment, workdays
from sync_protocol import SyncError, open_licence

from ..errors import HubError
from ..models import Alert, Application, Node
from .api import mask_id, material_file
from .context import SESSION_COOKIE, hub, page_user

STATUS_TEXT = {
    "received": "待受理", "accepted": "已受理", "not_accepted": "不予受理", "approved": "已批准", "denied": "不予批准",
    "delivered": "已送达", "dispatched": "已寄出", "supplement_requested": "待补正",
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
    return Redirect("/nodes" if user.role == "operator" else "/queue")


@get("/login", sync_to_thread=False)
def login_form() -> Template:
    return page("login.html", error=None, username="")


@post("/login", sync_to_thread=True)
def login_submit(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    try:
        _, token = auth.log_in(hub(request).engine, data.get("username", ""), data.get("password", ""))
    except HubError as exc:
        return page("login.html", status_code=401, error=exc.message, username=data.get("username", ""))
    response = Redirect("/")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", max_age=int(auth.SESSION_LIFETIME.total_seconds()))
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


def _case_page(request: Request, user: Any, application_id: str, status_code: int = 200, error: str | None = None) -> Template:
    ctx = hub(request)
    app = approval.get_application(ctx.engine, user, application_id)
    with Session(ctx.engine) as session:
        materials = blobs.materials_of(session, application_id)
    tasks = approval.case_tasks(ctx.engine, application_id)
    own = next((t for t in tasks if t["department"] == user.department), None)
    return page("case.html", status_code=status_code, user=user, app=app, materials=materials, tasks=tasks, own=own, error=error)


@get("/cases/{application_id:str}", sync_to_thread=True)
def case(request: Request, application_id: FromPath[str]) -> Template:
    return _case_page(request, page_user(request, "clerk", "operator"), application_id)


@get("/cases/{application_id:str}/materials/{sha256:str}", sync_to_thread=True, media_type="application/octet-stream")
def case_material(request: Request, application_id: FromPath[str], sha256: FromPath[str]) -> File:
    return material_file(request, page_user(request, "clerk", "operator"), application_id, sha256)


def _case_action(request: Request, application_id: str, act: Callable[[Any, Any], Any]) -> Response:
    """Run one clerk action from the case page: back to the case, or the case with the reason why not."""
    user = page_user(request, "clerk")
    ctx = hub(request)
    try:
        act(ctx, user)
    except HubError as exc:
        return _case_page(request, user, application_id, status_code=exc.status, error=exc.message)
    ctx.sync.wake_downlink()
    return Redirect(f"/cases/{application_id}")


@post("/cases/{application_id:str}/decision", sync_to_thread=True)
def case_decide(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    return _case_action(request, application_id, lambda ctx, user: approval.decide(ctx.engine, user, application_id, data.get("decision", ""), data.get("reason", ""), ctx.key))


@post("/cases/{application_id:str}/acceptance", sync_to_thread=True)
def case_accept(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    if data.get("accept") == "no":
        return _case_action(request, application_id, lambda ctx, user: approval.not_accept(ctx.engine, user, application_id, data.get("reason", "")))
    return _case_action(request, application_id, lambda ctx, user: approval.accept(ctx.engine, user, application_id))


@post("/cases/{application_id:str}/supplement-request", sync_to_thread=True)
def case_supplement(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    return _case_action(request, application_id, lambda ctx, user: approval.request_supplement(ctx.engine, user, application_id, data.get("missing", "").splitlines()))


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


@get("/nodes", sync_to_thread=True)
def nodes(request: Request) -> Template:
    user = page_user(request, "operator")
    return _nodes_page(request, user)


def _nodes_page(request: Request, user: Any, status_code: int = 200, **extra: Any) -> Template:
    with Session(hub(request).engine) as session:
        rows = session.exec(select(Node).order_by(Node.id)).all()
        counts = {n.id: len(session.exec(select(Application.id).where(Application.node_id == n.id)).all()) for n in rows}
        alerts = session.exec(select(Alert).order_by(Alert.id.desc()).limit(20)).all()  # type: ignore[union-attr]
    extra.setdefault("error", None)
    extra.setdefault("new_code", None)
    extra.setdefault("calendar", workdays.calendar_status(workdays.load_calendar(hub(request).engine)))
    return page("nodes.html", status_code=status_code, user=user, nodes=rows, counts=counts, alerts=alerts, **extra)


@post("/nodes/enrolment-codes", sync_to_thread=True)
def nodes_create_code(request: Request, data: URLEncodedBody[dict[str, str]]) -> Template:
    user = page_user(request, "operator")
    try:
        code, expires = enrolment.create_code(hub(request).engine, data.get("node_id", "").strip(), data.get("name", ""), data.get("kind", ""), data.get("parent") or None)
    except HubError as exc:
        return _nodes_page(request, user, status_code=exc.status, error=exc.message)
    return _nodes_page(request, user, new_code={"code": code, "expires_at": expires, "node_id": data.get("node_id")})


ROUTES = [verify_page, home, login_form, login_submit, logout, queue, case, case_material, case_decide, case_accept, case_supplement, nodes, nodes_create_code]
