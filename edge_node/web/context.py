"""What handlers are given: the node's context (store, identity, sync worker) as ``ctx``, the
signed-in agent as ``request.user``, and the node itself, as the shared pages see it, as ``site``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from litestar import MediaType, Request
from litestar.params import SkipValidation
from litestar.response import Template

from weblayer.display import mask_id
from weblayer.errors import NotFound
from weblayer.throttle import Throttle, login_throttle, lookup_throttle

from .. import auth, cases, documents, link
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


Ctx = SkipValidation[NodeContext]  # what handlers take as ``ctx``
NodeRequest = Request[dict[str, str], str, Any]  # request.user: the signed-in agent (edge_node.auth)


@dataclass
class NodeSite:
    """The node as the shared web layer sees it (weblayer.site): its agents' accounts, its pages
    (framed with the point's name and link banner), e-licences checked offline against the hub key
    pinned at enrolment, progress from its own cases."""

    ctx: NodeContext
    cookie: str = SESSION_COOKIE
    lifetime: timedelta = auth.SESSION_LIFETIME
    login_heading: str = "代办员登录"
    logins: Throttle = field(default_factory=login_throttle)
    lookups: Throttle = field(default_factory=lookup_throttle)

    def log_in(self, username: str, password: str) -> tuple[dict[str, str], str]:
        return auth.log_in(self.ctx.store, username, password)

    def log_out(self, token: str | None) -> None:
        auth.log_out(self.ctx.store, token)

    def user_for_token(self, token: str | None) -> dict[str, str] | None:
        return auth.user_for_token(self.ctx.store, token)

    def role_of(self, user: dict[str, str]) -> str:
        return user["role"]

    def render(self, name: str, status_code: int = 200, **context: Any) -> Template:
        return page(self.ctx, name, status_code, **context)

    def verify_licence(self, text: str) -> dict[str, Any]:
        return cases.verify_licence(text, self.ctx.identity.hub_key)

    def verify_document(self, text: str) -> dict[str, Any]:
        return documents.verify(text, self.ctx.identity.hub_key, self.ctx.store)

    def progress(self, receipt_no: str, id_last4: str) -> Any:
        row = self.ctx.store.one("SELECT * FROM applications WHERE receipt_no = ?", (receipt_no.strip(),))
        if row is None or len(id_last4.strip()) != 4 or not row["applicant_id_number"].upper().endswith(id_last4.strip().upper()):
            raise NotFound("没有查到：请核对受理编号和身份证号码后四位")
        return row


def page(ctx: NodeContext, name: str, status_code: int = 200, **context: Any) -> Template:
    """A page of the node: every one shows the point's name and the link's state."""
    context.update(sync=sync_status(ctx), point_name=ctx.identity.name, status_text=cases.STATUS_TEXT, mask_id=mask_id)
    return Template(name, context=context, status_code=status_code, media_type=MediaType.HTML)


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
        "delegated_until": json.loads(read_meta(ctx.store, "delegation_doc") or "{}").get("valid_until"),
    }
