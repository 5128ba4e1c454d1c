"""The one place where errors become HTTP responses, for both apps: RFC 9457 problems
(``application/problem+json``) under ``/api``, Chinese error pages elsewhere. Unexpected
exceptions are logged with a reference the person can quote and never leak internals."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template

from .errors import NotAuthenticated, ServiceError
from .throttle import TooManyAttempts

__all__ = ["PROBLEM_BASE", "STATUS_TEXT", "exception_handlers", "is_api", "problem"]

PROBLEM_BASE = "https://yiwang.example/problems/"
STATUS_TEXT = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "没有找到",
    405: "不支持的操作",
    409: "状态冲突",
    413: "内容过大",
    415: "格式不支持",
    429: "尝试次数过多",
    500: "系统内部错误",
    503: "暂时不可用",
}
CSRF_FAILED = "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试"
INVALID_INPUT = "请求内容不符合要求，请检查必填项和格式"
BAD_ENCODING = "请求中有无法识别的文字（应为 UTF-8 编码），请检查后重新提交"
INTERNAL = "系统内部错误，请记下编号并联系县级运维人员：{ref}"

AnyRequest = Request[Any, Any, Any]
Handler = Callable[[AnyRequest, Any], Response[Any]]


def problem(request: AnyRequest, status: int, slug: str, detail: str, **extra: Any) -> Response[Any]:
    """An RFC 9457 problem; ``extra`` members that are None are left out."""
    body = {"type": PROBLEM_BASE + slug, "title": STATUS_TEXT.get(status, "错误"), "status": status, "detail": detail, "instance": request.url.path}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(body, status_code=status, media_type="application/problem+json")


def is_api(request: AnyRequest) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _page(request: AnyRequest, status: int, slug: str, message: str, **extra: Any) -> Response[Any]:
    return Template(
        "error.html",
        # the signed-in user's own header and navigation (a clerk refused a page is still signed in)
        context={"status": status, "title": STATUS_TEXT.get(status, "错误"), "message": message, "user": request.scope.get("user")},
        status_code=status,
        media_type=MediaType.HTML,
    )


def _either(request: AnyRequest, status: int, slug: str, message: str, **extra: Any) -> Response[Any]:
    """A problem under /api (with ``extra`` members), else the Chinese error page: for what fails
    before a router is chosen (no such path, method not allowed)."""
    return (problem if is_api(request) else _page)(request, status, slug, message, **extra)


RENDER: dict[str, Callable[..., Response[Any]]] = {"api": problem, "pages": _page, "app": _either}


def exception_handlers(log: logging.Logger, where: str = "app") -> dict[int | type[Exception], Handler]:
    """The exception-handler map of the API router (``where="api"``: problems), of the pages
    router (``"pages"``: error pages, and the login page for an expired session) or of the app
    (``"app"``: by path). ``log`` names the app in the lines it writes."""
    render = RENDER[where]

    def handle_service_error(request: AnyRequest, exc: ServiceError) -> Response[Any]:
        if isinstance(exc, NotAuthenticated) and where != "api" and not is_api(request):
            return Redirect("/login")
        return render(request, exc.status, exc.type_slug, exc.message, field=exc.field)

    def handle_http_exception(request: AnyRequest, exc: HTTPException) -> Response[Any]:
        if isinstance(exc, ValidationException):
            return render(request, 400, "invalid-input", INVALID_INPUT, errors=exc.extra)
        status = exc.status_code
        message = CSRF_FAILED if status == 403 else STATUS_TEXT.get(status, str(exc.detail))
        response = render(request, status, f"http-{status}", message)
        response.headers.update(exc.headers or {})  # a 405's Allow (RFC 9110 section 15.5.6)
        return response

    def handle_too_many(request: AnyRequest, exc: TooManyAttempts) -> Response[Any]:
        """429 with Retry-After: a throttled login or lookup (weblayer.throttle)."""
        response = render(request, 429, "too-many-attempts", exc.message, retry_after_s=exc.retry_after_s)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    def handle_bad_encoding(request: AnyRequest, exc: UnicodeDecodeError) -> Response[Any]:
        """Form or multipart text that is not UTF-8: Litestar's form parser (CSRF reads every form
        first) lets the UnicodeDecodeError out, which was a 500 anybody could cause."""
        return render(request, 400, "invalid-input", BAD_ENCODING)

    def handle_unexpected(request: AnyRequest, exc: Exception) -> Response[Any]:
        ref = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", ref, request.method, request.url.path)
        return render(request, 500, "internal", INTERNAL.format(ref=ref), reference=ref)

    return {
        TooManyAttempts: handle_too_many,
        ServiceError: handle_service_error,
        HTTPException: handle_http_exception,
        UnicodeDecodeError: handle_bad_encoding,
        Exception: handle_unexpected,
    }
