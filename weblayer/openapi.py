"""What the OpenAPI documents of both APIs say beyond the handlers' own types: every error is an
RFC 9457 problem (``application/problem+json``), and every route not marked public takes a
bearer token from ``POST /api/login``. Litestar 2 sets responses and security per handler only,
so :func:`document` sets them on each handler of the API controllers before they are registered."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from .auth import PUBLIC
from .problems import STATUS_TEXT

__all__ = ["BEARER", "Problem", "ReferencePlugin", "document", "openapi_config"]

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


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: its type, the name of what it refers to, or its alternatives."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "oneOf" in schema or "anyOf" in schema:
        return " | ".join(_type(s) for s in schema.get("oneOf") or schema.get("anyOf") or [])
    if schema.get("type") == "array":
        return f"{_type(schema.get('items') or {})}[]"
    if "enum" in schema:
        return " / ".join(map(str, schema["enum"]))
    kind = schema.get("type", "object")
    return "/".join(kind) if isinstance(kind, list) else str(kind)


SUCCESS = {"200": "成功", "201": "已创建", "202": "已接收", "204": "成功（无内容）", "302": "转到别的页面", "303": "转到别的页面"}


def _area(path: str) -> str:
    """What an operation is about, from its path (/api/applications/{id}/decision: applications),
    where its controller names no tag: the page then lists them by area, not all under one heading."""
    parts = [p for p in path.split("/") if p and p != "api" and not p.startswith("{")]
    word = parts[0].split("-")[0] if parts else ""  # enrolment-codes beside enrolment
    return AREAS.get(word, word or "其他")


AREAS = {"health": "status", "ready": "status", "login": "session", "logout": "session", "me": "session"}  # one-operation areas, together


def _content_type(content: dict[str, Any]) -> str:
    return "；".join(f"{media} {_type(c.get('schema') or {})}" for media, c in content.items())


class ReferencePlugin(OpenAPIRenderPlugin):
    """The API reference as one server-rendered page (``/api/schema``): no script and nothing
    from a CDN, so it works offline and on a 64 kbit/s link — the stock viewers (Swagger,
    Redoc, …) loaded their scripts from public CDNs and showed a blank page at a point."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        from importlib.resources import files

        from jinja2 import Environment

        groups: dict[str, list[dict[str, Any]]] = {}
        for path, methods in openapi_schema.get("paths", {}).items():
            for method, op in methods.items():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                params = [{**p, "type": _type(p.get("schema") or {})} for p in op.get("parameters", [])]
                body = _content_type((op.get("requestBody") or {}).get("content") or {})
                answers = op["responses"]
                responses = [(code, SUCCESS.get(code, r.get("description", ""))) for code, r in answers.items() if code.startswith(("2", "3"))]
                errors = [(code, STATUS_TEXT.get(int(code), r.get("description", ""))) for code, r in answers.items() if code.startswith(("4", "5"))]
                entry = {"method": method.upper(), "path": path, "id": op.get("operationId", ""), "summary": op.get("summary", "")}
                entry |= {
                    "description": op.get("description", ""),
                    "parameters": params,
                    "body": body,
                    "responses": responses,
                    "errors": errors,
                    "public": not op.get("security"),
                }
                groups.setdefault((op.get("tags") or [_area(path)])[0], []).append(entry)
        schemas = [
            (name, [{"name": f, "type": _type(s), "required": f in (spec.get("required") or [])} for f, s in (spec.get("properties") or {}).items()])
            for name, spec in sorted(openapi_schema.get("components", {}).get("schemas", {}).items())
        ]
        template = Environment(autoescape=True).from_string(files("weblayer").joinpath("templates/api_reference.html").read_text(encoding="utf-8"))
        page = template.render(
            info=openapi_schema.get("info", {}),
            openapi=openapi_schema.get("openapi", ""),
            json_url=request.url.path.rstrip("/") + "/openapi.json",
            groups=sorted(groups.items()),
            schemas=schemas,
        )
        return page.encode()


def openapi_config(title: str, version: str) -> OpenAPIConfig:
    return OpenAPIConfig(
        title=title,
        version=version,
        path="/api/schema",
        render_plugins=[ReferencePlugin(), JsonRenderPlugin()],
        components=Components(security_schemes={BEARER: SecurityScheme(type="http", scheme="bearer", description="POST /api/login 返回的 token")}),
    )
