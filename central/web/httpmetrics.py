"""Each HTTP request the hub answers, counted by route and status and timed (central/metrics.py,
``Scrapes.observe``): ASGI middleware around every routed handler. The route is the path
template (``/api/applications/{application_id:str}``), never the raw path, so a crawler's
random URLs cannot grow the metrics without bound."""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .context import HubContext


def http_metrics(context: HubContext) -> Any:
    def middleware(app: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started, status = time.perf_counter(), [500]

            async def remember(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, remember)
            finally:
                route = str(scope.get("path_template") or "unrouted")
                context.scrapes.observe(str(scope.get("method", "")), route, status[0], time.perf_counter() - started)

        return counted

    return middleware
