"""Each HTTP request the hub answers, counted by route and status and timed (central/metrics.py,
``Scrapes.observe``). The middleware around every routed handler notes when the request began;
the count is taken as the response starts (a ``before_send`` hook), so an answer an exception
handler made — a 401, a redirect to the login page — counts with its own status, not as an error.
The route is the path template (``/api/applications/{application_id}``), never the raw path, so a
crawler's random URLs cannot grow the metrics without bound ("unrouted" for what matched none);
likewise the method ("other" for what HTTP does not define: the server takes any token as one)."""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .context import HubContext

STARTED = "yiwang_started"  # the scope key the middleware leaves
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def started_at(app: ASGIApp) -> ASGIApp:
    async def noted(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})[STARTED] = time.perf_counter()
        await app(scope, receive, send)

    return noted


def http_metrics(context: HubContext) -> Any:
    """The ``before_send`` hook."""

    async def count(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope["type"] != "http":
            return
        began = scope.get("state", {}).get(STARTED)
        route = str(scope.get("path_template") or "unrouted")
        method = scope.get("method", "")
        context.scrapes.observe(method if method in METHODS else "other", route, message["status"], time.perf_counter() - began if began else 0.0)

    return count
