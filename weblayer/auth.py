"""Who is asking, for both apps: a session token becomes ``request.user`` in middleware (a bearer
token under ``/api``, the session cookie on pages) and guards check roles per controller, before
any body is read. A handler that anybody may call says so with ``opt={PUBLIC: True}`` (a
controller's ``opt`` covers all its handlers); every other handler is reached only with a live
session. The app's accounts are its :class:`weblayer.site.Site`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from .decoding import Body, Line
from .errors import Forbidden, NotAuthenticated
from .site import Site
from .throttle import client_address

__all__ = ["PUBLIC", "LoginIn", "api_log_in", "authenticated", "requires_role"]

PUBLIC = "public"  # a handler's (or controller's) opt key: no session needed
EXPIRED = "登录已失效，请重新登录"


class LoginIn(Body):
    username: Line
    password: Line


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


class SessionAuth(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` from the session (the app's ``state.site`` looks it up), or raises
    NotAuthenticated: a 401 problem under /api, a redirect to the login page elsewhere (the
    router's exception handlers decide). The API takes bearer tokens only, so no cookie reaches
    it and CSRF has nothing to guard there; pages take the session cookie."""

    def __init__(self, app: ASGIApp, api: bool) -> None:
        # OPTIONS too (Litestar leaves it out by default): its guards need the user, and no browser
        # preflight reaches these apps (no CORS)
        super().__init__(app, exclude_from_auth_key=PUBLIC, exclude_http_methods=())
        self.api = api

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        site: Site = connection.app.state.site
        token = bearer_token(connection) if self.api else connection.cookies.get(site.cookie)
        user = await asyncio.to_thread(site.user_for_token, token) if token else None
        if user is None:
            raise NotAuthenticated(EXPIRED)
        return AuthenticationResult(user=user, auth=token)


def authenticated(*, api: bool) -> DefineMiddleware:
    """The middleware of the API router (``api=True``) or of the pages router."""
    return DefineMiddleware(SessionAuth, api=api)


def requires_role(*roles: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard: the signed-in user's role is one of ``roles``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        site: Site = connection.app.state.site
        if site.role_of(connection.user) not in roles:
            raise Forbidden("您的账号没有这项操作的权限")

    return guard


def api_log_in(request: Request[Any, Any, Any], site: Site, data: LoginIn) -> tuple[Any, str]:
    """POST /api/login's work: throttled per account and address; the app shapes the answer."""
    return site.logins.attempt(data.username, client_address(request), lambda: site.log_in(data.username, data.password), NotAuthenticated)
