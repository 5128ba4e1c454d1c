"""Server-rendered Chinese UI of the node: login, case list, intake, receipt slip, pickup."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Response, Template

from .. import auth, cases, catalog
from ..errors import NodeError
from ..intake import mask_id
from .context import SESSION_COOKIE, node, page_user, sync_status



def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Template:
    ctx = node(request)
    context.update(sync=sync_status(ctx), point_name=ctx.identity.name, status_text=cases.STATUS_TEXT, mask_id=mask_id)
    return Template(name, context=context, status_code=status_code, media_type=MediaType.HTML)


@get("/", sync_to_thread=True)
def home(request: Request) -> Response:
    ctx = node(request)
    user = auth.user_for_token(ctx.store, request.cookies.get(SESSION_COOKIE))
    if user is None:
        return Redirect("/login")
    rows = ctx.store.query("SELECT * FROM applications ORDER BY created_at DESC LIMIT 200")
    return page(request, "home.html", user=user, apps=rows)


@get("/login", sync_to_thread=True)
def login_form(request: Request) -> Template:
    return page(request, "login.html", user=None, error=None, username="")


@post("/login", sync_to_thread=True)
def login_submit(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    try:
        _, token = auth.log_in(node(request).store, data.get("username", ""), data.get("password", ""))
    except NodeError as exc:
        return page(request, "login.html", status_code=401, user=None, error=exc.message, username=data.get("username", ""))
    response = Redirect("/")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", max_age=int(auth.SESSION_LIFETIME.total_seconds()))
    return response


@post("/logout", sync_to_thread=True)
def logout(request: Request) -> Response:
    auth.log_out(node(request).store, request.cookies.get(SESSION_COOKIE))
    response = Redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


def _intake_page(request: Request, user: dict[str, str], form: dict[str, str], error: NodeError | None = None) -> Template:
    return page(
        request, "intake.html", status_code=error.status if error else 200, user=user,
        items=catalog.list_items(node(request).store), form=form, error=error,
    )


@get("/applications/new", sync_to_thread=True)
def intake_form(request: Request) -> Template:
    return _intake_page(request, page_user(request), {})


@post("/applications", sync_to_thread=True)
def intake_submit(request: Request, data: URLEncodedBody[dict[str, str]]) -> Response:
    user = page_user(request)
    ctx = node(request)
    try:
        app = cases.submit_application(ctx.store, data, user)
    except NodeError as exc:
        return _intake_page(request, user, data, exc)
    ctx.sync.wake_uplink()
    return Redirect(f"/applications/{app['id']}/receipt")


@get("/applications/{application_id:str}/receipt", sync_to_thread=True)
def receipt(request: Request, application_id: FromPath[str]) -> Template:
    user = page_user(request)
    return page(request, "receipt.html", user=user, app=cases.get_application(node(request).store, application_id))


@get("/applications/{application_id:str}", sync_to_thread=True)
def detail(request: Request, application_id: FromPath[str]) -> Template:
    user = page_user(request)
    return page(request, "case.html", user=user, app=cases.get_application(node(request).store, application_id), error=None)


@post("/applications/{application_id:str}/pickup", sync_to_thread=True)
def pickup(request: Request, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
    user = page_user(request)
    ctx = node(request)
    try:
        cases.record_pickup(ctx.store, application_id, data.get("collector_name", ""), user)
    except NodeError as exc:
        return page(request, "case.html", status_code=exc.status, user=user, app=cases.get_application(ctx.store, application_id), error=exc.message)
    ctx.sync.wake_uplink()
    return Redirect(f"/applications/{application_id}")


ROUTES = [home, login_form, login_submit, logout, intake_form, intake_submit, receipt, detail, pickup]
