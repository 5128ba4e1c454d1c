"""What handlers reach through ``request.app.state``: the store, the identity, the sync worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Request

from weblayer.errors import NotAuthenticated
from weblayer.throttle import Throttle, login_throttle, lookup_throttle

from .. import auth, link
from ..settings import NodeIdentity
from ..store import Store, read_meta
from ..sync import NodeSync

SESSION_COOKIE = "yw_node_session"


@dataclass
class NodeContext:
    store: Store
    identity: NodeIdentity
    sync: NodeSync
    blobs_dir: Path
    base_url: str
    material_retention_days: float
    throttle: Throttle = field(default_factory=login_throttle)
    lookups: Throttle = field(default_factory=lookup_throttle)


def node(request: Request) -> NodeContext:
    return request.app.state.node


def api_user(request: Request) -> dict[str, str]:
    """API callers authenticate with ``Authorization: Bearer <token>`` (no cookies, so no CSRF)."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else None
    return _check(auth.user_for_token(node(request).store, token))


def page_user(request: Request) -> dict[str, str]:
    return _check(auth.user_for_token(node(request).store, request.cookies.get(SESSION_COOKIE)))


def _check(user: dict[str, str] | None) -> dict[str, str]:
    if user is None:
        raise NotAuthenticated("登录已失效，请重新登录")
    return user


def sync_status(ctx: NodeContext) -> dict[str, Any]:
    """What the banner on every page and /api/status show."""
    files, waiting = link.files_waiting(ctx.store), link.backlog(ctx.store)
    return {
        "node_id": ctx.identity.node_id,
        "online": ctx.sync.online,
        "offline_since": ctx.sync.offline_since,
        "credentials_refused": ctx.sync.credentials_refused,
    } | {
        "waiting_events": waiting["events"],
        "set_aside_events": waiting["set_aside"],
        "needs_upgrade": bool(read_meta(ctx.store, "needs_upgrade")),
        "waiting_files": files[0],
        "waiting_file_bytes": files[1],
        "link": ctx.sync.link_status(),
    }
