"""How both apps are wired into Litestar alike: templates (the app's own first, then the shared
layout and pages), display filters, CSRF, the OpenAPI document, the two routers (/api and the
pages) with their authentication and error mapping, dependency injection. Each app's
``create_app`` passes its own controllers, lifespan and context."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Controller, Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.routes import HTTPRoute
from litestar.template import TemplateConfig

from .auth import authenticated
from .decoding import no_nul_in_forms, strict_json
from .display import chinese_date, local_time, mask_id, rmb_capitals, seal_code
from .openapi import document, openapi_config
from .pages import CitizenPages, LoginPages
from .problems import exception_handlers
from .site import Site

__all__ = ["API_ONLY", "SHARED_TEMPLATES", "app_config", "app_version", "web_secret"]

SHARED_TEMPLATES = Path(__file__).parent / "templates"

# The API takes bearer tokens only, never the session cookie, so CSRF has nothing to guard there.
# Litestar matches exclude patterns anywhere in the path (re.findall): anchored, or a page whose
# path merely contains "/api" (a point named "api…") would skip the check (issue 18 finding 2).
API_ONLY = r"^/api/"


def app_version() -> str:
    """The installed yiwang's version (the node reports it in its status; the OpenAPI document shows it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yiwang")
    except PackageNotFoundError:
        return "unknown"


def web_secret(data_dir: Path) -> str:
    """The CSRF secret, kept across restarts in ``web.secret`` (0600), so open forms stay valid."""
    path = data_dir / "web.secret"
    if not path.exists():
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _fresh_allow(app: Litestar) -> None:
    """Litestar 2 answers OPTIONS with the methods of the first handler registered on a path only
    (litestar#4169, fixed in v3): its OPTIONS handler reads the methods of the route it was made
    for, which a later handler on the same path replaces. Point each at the route in force."""
    for route in app.routes:
        if isinstance(route, HTTPRoute) and "OPTIONS" in route.route_handler_map:
            handler = route.route_handler_map["OPTIONS"][0]
            cells = dict(zip(handler.fn.__code__.co_freevars, handler.fn.__closure__ or (), strict=True))
            if handler.fn.__name__ == "options_handler" and "self" in cells:
                cells["self"].cell_contents = route


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["local_time"] = local_time
    engine.engine.filters["chinese_date"] = chinese_date
    engine.engine.filters["seal_code"] = seal_code
    engine.engine.filters["rmb_capitals"] = rmb_capitals
    engine.engine.filters["from_json"] = json.loads
    engine.engine.globals["mask_id"] = mask_id


def app_config(
    *,
    api: list[type[Controller]],
    pages: list[type[Controller]],
    site: Site,
    provide: dict[str, Any],
    templates: Path,
    data_dir: Path,
    title: str,
    version: str,
    log: logging.Logger,
) -> dict[str, Any]:
    """The keyword arguments of ``Litestar(...)``, the same for both apps: the ``api`` controllers
    on the /api router (bearer tokens, strict JSON, problems), the ``pages`` on the / router (session cookie,
    error pages, the shared login and citizen pages), each value of ``provide`` given to handlers
    under its name, as is ``site``."""
    routers = [
        Router(
            "/api",
            route_handlers=document(api),
            middleware=[authenticated(api=True)],
            before_request=strict_json,
            exception_handlers=exception_handlers(log, "api"),
        ),
        Router(
            "/",
            route_handlers=[LoginPages, CitizenPages, *pages],
            include_in_schema=False,  # the OpenAPI document describes the API only
            middleware=[authenticated(api=False)],
            before_request=no_nul_in_forms,
            exception_handlers=exception_handlers(log, "pages"),
        ),
    ]
    values = provide | {"site": site}
    return {
        "route_handlers": routers,
        "dependencies": {name: Provide(_constant(value), sync_to_thread=False, use_cache=True) for name, value in values.items()},
        "state": State(values),  # the same values, for the middleware, guards and tests
        "on_startup": [_fresh_allow],
        "exception_handlers": exception_handlers(log),  # what fails before a router is chosen (no such path)
        "template_config": TemplateConfig(directory=[templates, SHARED_TEMPLATES], engine=JinjaTemplateEngine, engine_callback=_register_filters),
        # named per app, as the session cookie is: browsers share cookies across ports, so the hub
        # and a point on one host (the demo) would overwrite each other's token (new-user pass, issue 20)
        "csrf_config": CSRFConfig(secret=web_secret(data_dir), exclude=[API_ONLY], cookie_httponly=True, cookie_name=f"{site.cookie}_csrf"),
        "openapi_config": openapi_config(title, version),
        "logging_config": None,  # the CLI configures logging once, in one format, for every logger
        "debug": False,
    }
