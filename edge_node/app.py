"""create_app(settings): the node's only composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from litestar import Litestar

from weblayer.config import app_config, app_version
from weblayer.lifespan import background

from . import intake, materials, rotation
from .catalog import install_catalog_file
from .restore import restore_if_present
from .settings import NodeIdentity, Settings
from .store import Store, set_meta
from .sync import NodeSync
from .web import api, pages
from .web.context import NodeContext, NodeSite

TEMPLATES = Path(__file__).parent / "web" / "templates"
PURGE_INTERVAL = 3600.0
log = logging.getLogger("yiwang.node")


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


def create_app(settings: Settings) -> Litestar:
    identity = NodeIdentity.load(settings)
    store = open_store(settings, identity)
    sync = NodeSync(store, identity, settings.data_dir, settings.blobs_dir, settings.heartbeat_seconds, app_version())

    def work() -> dict[str, Coroutine[Any, Any, Any]]:
        return {
            "node-sync": sync.run(),
            "material-purge": purge_materials(store, settings, sync.receipts),
            "warm-up": asyncio.to_thread(intake.warm_up),
        }

    context = NodeContext(
        store=store,
        identity=identity,
        sync=sync,
        blobs_dir=settings.blobs_dir,
        base_url=settings.base_url,
        material_retention_days=settings.material_retention_days,
    )
    return Litestar(
        lifespan=[background(work, stop=store.close)],
        **app_config(
            api=api.CONTROLLERS,
            pages=pages.CONTROLLERS,
            site=NodeSite(context),
            provide={"ctx": context},
            templates=TEMPLATES,
            data_dir=settings.data_dir,
            title=f"yiwang edge node {identity.node_id}",
            version=app_version(),
            log=logging.getLogger("yiwang.node.web"),
        ),
    )
