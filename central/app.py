"""create_app(settings): the hub's only composition root."""

from __future__ import annotations

import asyncio
import json
import contextlib
import secrets
from pathlib import Path
from typing import AsyncIterator

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.openapi import OpenAPIConfig
from litestar.template import TemplateConfig

from . import blobs
from .db import create_schema, make_engine
from .keys import load_hub_key, write_secret
from .settings import Settings
from .sync import HubSync
from .web import api, pages
from .web.display import local_time
from .web.context import HubContext
from .web.errors import EXCEPTION_HANDLERS

TEMPLATES = Path(__file__).parent / "web" / "templates"


# The API takes bearer tokens only, never the session cookie, so CSRF has nothing to guard there.
# Litestar matches exclude patterns anywhere in the path (re.findall): anchored, or a page whose
# path merely contains "/api" (a point named "api…") would skip the check (issue 18 finding 2).
API_ONLY = r"^/api/"

def _web_secret(data_dir: Path) -> str:
    """CSRF secret kept across restarts (0600), so open forms stay valid after a restart."""
    path = data_dir / "web.secret"
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def _register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["local_time"] = local_time
    engine.engine.filters["from_json"] = json.loads


def create_app(settings: Settings) -> Litestar:
    engine = make_engine(settings.database_url)
    create_schema(engine)
    blobs.forget_shared_parts(settings.blobs_dir)
    key = load_hub_key(settings.key_path)
    sync = HubSync(engine, key, settings.nats_url, settings.blobs_dir, settings.nats_dir)
    context = HubContext(settings=settings, engine=engine, key=key, sync=sync)
    web_secret = _web_secret(settings.data_dir)

    @contextlib.asynccontextmanager
    async def run_sync(app: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(sync.run(), name="hub-sync")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            engine.dispose()

    app = Litestar(
        # one Router: Litestar 2.x registers a handler twice when a bare handler shares its path
        # with another (GET and POST /login), wrapping a sync handler in sync_to_thread twice so it
        # returns an un-awaited coroutine (fixed upstream for v3 only, litestar PR #4738)
        route_handlers=[Router(path="/", route_handlers=[*api.ROUTES, *pages.ROUTES])],
        lifespan=[run_sync],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=_register_filters),
        csrf_config=CSRFConfig(secret=web_secret, exclude=[API_ONLY], cookie_httponly=True),
        openapi_config=OpenAPIConfig(title="yiwang county hub", version="0.1.0", path="/api/schema"),
        logging_config=None,  # the CLI configures logging once, in one format, for every logger
        debug=False,
    )
    app.state.hub = context
    return app
