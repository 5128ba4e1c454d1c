"""What the OpenAPI documents of both APIs say beyond the handlers' own types: every error is an
RFC 9457 problem (``application/problem+json``), and every route not marked public takes a
bearer token from ``POST /api/login``. Litestar 2 sets responses and security per handler only,
so :func:`document` sets them on each handler of the API controllers before they are registered."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme

from .auth import PUBLIC
from .problems import STATUS_TEXT

__all__ = ["BEARER", "Problem", "document", "openapi_config"]

BEARER = "bearer"


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem, as weblayer.problems writes it."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None  # the request field at fault
    retry_after_s: int | None = None  # 429: when to try again
    reference: str | None = None  # 500: what to quote to the county's operators
    errors: list[dict[str, Any]] | None = None  # 400 from parameter validation: each parameter at fault


def _problem(status: int) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=STATUS_TEXT[status], media_type="application/problem+json", generate_examples=False)


ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 500, 503)


def document(controllers: list[type[Controller]]) -> list[type[Controller]]:
    """Give each handler of ``controllers`` the problem responses and, unless it or its controller
    is public, the bearer requirement. Returns ``controllers``."""
    for controller in controllers:
        public = bool((vars(controller).get("opt") or {}).get(PUBLIC))
        for handler in vars(controller).values():
            if isinstance(handler, HTTPRouteHandler):
                handler.responses = {status: _problem(status) for status in ERRORS} | dict(handler.responses or {})
                if not (public or handler.opt.get(PUBLIC)):
                    handler.security = [{BEARER: []}]
    return controllers


def openapi_config(title: str, version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=title,
        version=version,
        path="/api/schema",
        components=Components(security_schemes={BEARER: SecurityScheme(type="http", scheme="bearer", description="POST /api/login 返回的 token")}),
    )
