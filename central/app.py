"""create_app(settings): the hub's only composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar

from weblayer.config import app_config, app_version

from . import blobs
from .db import create_schema, make_engine
from .keys import load_hub_key
from .settings import Settings
from .sync import HubSync
from .web import api, pages
from .web.context import HubContext, HubSite

TEMPLATES = Path(__file__).parent / "web" / "templates"


def create_app(settings: Settings) -> Litestar:
    engine = make_engine(settings.database_url)
    create_schema(engine)
    blobs.forget_shared_parts(settings.blobs_dir)
    key = load_hub_key(settings.key_path)
    sync = HubSync(engine, key, settings.nats_url, settings.blobs_dir, settings.nats_dir)
    context = HubContext(settings=settings, engine=engine, key=key, sync=sync)

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

    return Litestar(
        lifespan=[run_sync],
        **app_config(
            api=api.CONTROLLERS,
            pages=pages.CONTROLLERS,
            site=HubSite(context),
            provide={"ctx": context},
            templates=TEMPLATES,
            data_dir=settings.data_dir,
            title="yiwang county hub",
            version=app_version(),
            log=logging.getLogger("yiwang.hub.web"),
        ),
    )
