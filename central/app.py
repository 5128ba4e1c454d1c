"""create_app(settings): the hub's only composition root."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path
from typing import AsyncIterator

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.openapi import OpenAPIConfig
from litestar.template import TemplateConfig

from .db import create_schema, make_engine
from .keys import load_hub_key
from .settings import Settings
from .sync import HubSync
from .web import api, pages
from .web.context import HubContext
from .web.errors import EXCEPTION_HANDLERS

TEMPLATES = Path(__file__).parent / "web" / "templates"


def create_app(settings: Settings) -> Litestar:
    engine = make_engine(settings.database_url)
    create_schema(engine)
    key = load_hub_key(settings.key_path)
    sync = HubSync(engine, key, settings.nats_url)
    context = HubContext(settings=settings, engine=engine, key=key, sync=sync)
    secret_file = settings.data_dir / "web.secret"
    web_secret = secret_file.read_text().strip() if secret_file.exists() else secrets.token_urlsafe(32)

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
        route_handlers=[*api.ROUTES, *pages.ROUTES],
        lifespan=[run_sync],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        csrf_config=CSRFConfig(secret=web_secret, exclude=["/api"], cookie_httponly=True),
        openapi_config=OpenAPIConfig(title="yiwang county hub", version="0.1.0", path="/api/schema"),
        debug=False,
    )
    app.state.hub = context
    return app
