"""The one place where errors become HTTP responses: RFC 9457 problems under /api, Chinese pages
elsewhere. Unexpected exceptions are logged with a reference and never leak internals."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template

from weblayer.throttle import TooManyAttempts

from ..errors import NodeError, NotAuthenticated

log = logging.getLogger("yiwang.node.web")

PROBLEM_BASE = "https://yiwang.example/problems/"
_STATUS_TEXT = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "没有找到", 405: "不支持的操作", 409: "状态冲突", 413: "内容过大", 429: "尝试次数过多", 500: "系统内部错误"}


def problem(request: Request, status: int, slug: str, detail: str, **extra: Any) -> Response:
    body = {"type": PROBLEM_BASE + slug, "title": _STATUS_TEXT.get(status, "错误"), "status": status, "detail": detail, "instance": request.url.path}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(body, status_code=status, media_type="application/problem+json")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _page(request: Request, status: int, message: str) -> Response:
    return Template("error.html", context={"status": status, "title": _STATUS_TEXT.get(status, "错误"), "message": message}, status_code=status, media_type=MediaType.HTML)


def handle_node_error(request: Request, exc: NodeError) -> Response:
    if _is_api(request):
        return problem(request, exc.status, exc.type_slug, exc.message, field=exc.field)
    if isinstance(exc, NotAuthenticated):
        return Redirect("/login")
    return _page(request, exc.status, exc.message)


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, ValidationException):
        detail = "请求内容不符合要求，请检查必填项和格式"
        if _is_api(request):
            return problem(request, 400, "invalid-input", detail, errors=exc.extra)
        return _page(request, 400, detail)
    status = exc.status_code
    message = {403: "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试"}.get(status, _STATUS_TEXT.get(status, str(exc.detail)))
    if _is_api(request):
        return problem(request, status, f"http-{status}", message)
    return _page(request, status, message)


def handle_unexpected(request: Request, exc: Exception) -> Response:
    ref = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s on %s %s", ref, request.method, request.url.path)
    message = f"系统内部错误，请记下编号并联系县级运维人员： {ref}"
    if _is_api(request):
        return problem(request, 500, "internal", message, reference=ref)
    return _page(request, 500, message)


def handle_too_many(request: Request, exc: TooManyAttempts) -> Response:
    """429 with Retry-After: a throttled login (weblayer.throttle)."""
    response = problem(request, 429, "too-many-attempts", exc.message, retry_after_s=exc.retry_after_s) if _is_api(request) else _page(request, 429, exc.message)
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


EXCEPTION_HANDLERS = {TooManyAttempts: handle_too_many, NodeError: handle_node_error, HTTPException: handle_http_exception, Exception: handle_unexpected}
