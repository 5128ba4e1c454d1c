"""create_app(settings): the hub's only composition root."""

from __future__ import annotations

import logging
from pathlib import Path

from litestar import Litestar

from weblayer.config import app_config, app_version
from weblayer.lifespan import background

from . import blobs, sharing, sms
from .db import create_schema, make_engine
from .keys import load_hub_key
from .settings import Settings
from .sms_gateways import gateway_for
from .sync import HubSync
from .web import api, pages
from .web.context import HubContext, HubSite
from .web.httpmetrics import http_metrics, started_at

TEMPLATES = Path(__file__).parent / "web" / "templates"


def create_app(settings: Settings) -> Litestar:
    engine = make_engine(settings.database_url)
    create_schema(engine)
    blobs.forget_shared_parts(settings.blobs_dir)
    key = load_hub_key(settings.key_path)
    sync = HubSync(engine, key, settings.nats_url, settings.blobs_dir, settings.nats_dir)
    sync.county, sync.county_phone = settings.county_name, settings.county_phone
    gateway = gateway_for(settings.sms_url, settings.sms_token, settings.sms_signature, settings.sms_template_ids, settings.data_dir)
    context = HubContext(settings=settings, engine=engine, key=key, sync=sync, sharing=sharing.adapter_for(settings.data_dir))

    return Litestar(
        lifespan=[background(lambda: {"hub-sync": sync.run(), "sms": sms.run(engine, gateway)}, stop=engine.dispose)],
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
        middleware=[started_at],
        before_send=[http_metrics(context)],
    )
