"""Serving either app under uvicorn, as both ``serve`` commands do. No Litestar here: the apps'
command-line modules import this, and they may not import a web framework (import contracts)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["serve", "trusted_proxy"]


def trusted_proxy() -> str | None:
    """The address of a reverse proxy in front of the app (``YIWANG_TRUSTED_PROXY``, e.g.
    ``127.0.0.1``), whose ``X-Forwarded-For`` and ``-Proto`` are believed; None: believe nobody's.
    uvicorn believed them from 127.0.0.1 by default, so any local client could claim a new
    address on every try and so escape the per-address limits (weblayer.throttle), and make a
    plain-HTTP session cookie ``Secure``. Passed to uvicorn as ``forwarded_allow_ips``."""
    return os.environ.get("YIWANG_TRUSTED_PROXY") or None


def serve(app: Any, host: str, port: int, certfile: str | None, keyfile: str | None) -> None:
    """Run ``app`` under uvicorn, as both apps' ``serve`` commands do (HTTPS when given a
    certificate; forwarded headers believed from ``trusted_proxy()`` only)."""
    import uvicorn

    trusted = trusted_proxy()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,  # weblayer.logs set up the handlers (files, and access.log for uvicorn.access)
        access_log=True,
        proxy_headers=trusted is not None,
        forwarded_allow_ips=trusted,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
