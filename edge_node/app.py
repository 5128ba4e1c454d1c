"""create_app(settings): the node's only composition root."""

from __future__ import annotations

import asyncio
import json
import contextlib
import logging
import secrets
from pathlib import Path
from typing import AsyncIterator

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.openapi import OpenAPIConfig
from litestar.template import TemplateConfig

from . import intake, materials, rotation
from .catalog import install_catalog_file
from .restore import restore_if_present
from .settings import NodeIdentity, Settings, write_private
from .store import Store, set_meta
from .sync import NodeSync
from .web import api, pages
from .web.display import local_time
from .web.context import NodeContext
from .web.errors import EXCEPTION_HANDLERS

TEMPLATES = Path(__file__).parent / "web" / "templates"
PURGE_INTERVAL = 3600.0
log = logging.getLogger("yiwang.node")


# The API takes bearer tokens only, never the session cookie, so CSRF has nothing to guard there.
# Litestar matches exclude patterns anywhere in the path (re.findall): anchored, or a page whose
# path merely contains "/api" (a point named "api…") would skip the check (issue 18 finding 2).
API_ONLY = r"^/api/"

def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yiwang")
    except PackageNotFoundError:
        return "unknown"


def web_secret(data_dir: Path) -> str:
    """CSRF secret kept across restarts (0600), so open forms stay valid after a reboot."""
    path = data_dir / "web.secret"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def open_store(settings: Settings, identity: NodeIdentity) -> Store:
    store = Store(settings.db_path)
    with store.write() as conn:
        set_meta(conn, "node_id", identity.node_id)
    install_catalog_file(store, settings.data_dir / "catalog.json")
    restore_if_present(store, settings.data_dir, identity)  # a replacement device: rebuild first
    rotation.settle(store, settings.data_dir)  # a crash between sealing a rotation and moving the key file
    return store


async def purge_materials(store: Store, settings: Settings, receipts: asyncio.Event) -> None:
    """Delete confirmed material files past their retention: after each receipt from the hub and
    hourly (retention ends while the node is offline too). Needs no network."""
    while True:
        receipts.clear()
        try:
            await asyncio.to_thread(materials.purge_received, store, settings.blobs_dir, settings.material_retention_days)
        except OSError:
            log.exception("could not delete confirmed material files; trying again later")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(receipts.wait(), timeout=PURGE_INTERVAL)


def _register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["local_time"] = local_time
    engine.engine.filters["from_json"] = json.loads


def create_app(settings: Settings) -> Litestar:
    identity = NodeIdentity.load(settings)
    store = open_store(settings, identity)
    sync = NodeSync(store, identity, settings.data_dir, settings.blobs_dir, settings.heartbeat_seconds, app_version())

    @contextlib.asynccontextmanager
    async def run_sync(app: Litestar) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(sync.run(), name="node-sync"), asyncio.create_task(purge_materials(store, settings, sync.receipts), name="material-purge"),
            asyncio.create_task(asyncio.to_thread(intake.warm_up), name="warm-up"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            store.close()

    app = Litestar(
        # one Router: Litestar 2.x registers a handler twice when a bare handler shares its path
        # with another (GET and POST /login), wrapping a sync handler in sync_to_thread twice so it
        # returns an un-awaited coroutine (fixed upstream for v3 only, litestar PR #4738)
        route_handlers=[Router(path="/", route_handlers=[*api.ROUTES, *pages.ROUTES])],
        lifespan=[run_sync],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=_register_filters),
        csrf_config=CSRFConfig(secret=web_secret(settings.data_dir), exclude=[API_ONLY], cookie_httponly=True),
        openapi_config=OpenAPIConfig(title=f"yiwang edge node {identity.node_id}", version="0.1.0", path="/api/schema"),
        logging_config=None,  # the CLI configures logging once, in one format, for every logger
        debug=False,
    )
    app.state.node = NodeContext(store=store, identity=identity, sync=sync, blobs_dir=settings.blobs_dir, base_url=settings.base_url, material_retention_days=settings.material_retention_days)
    return app
