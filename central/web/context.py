"""What handlers reach through ``request.app.state``: the engine, the hub key, the sync worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from nacl.signing import SigningKey
from sqlalchemy.engine import Engine

from sync_protocol import ca_fingerprint
from weblayer.errors import Conflict, Forbidden, NotAuthenticated
from weblayer.throttle import Throttle, login_throttle, lookup_throttle

from .. import auth, natsauth
from ..models import User
from ..settings import Settings
from ..sync import HubSync

SESSION_COOKIE = "yw_hub_session"


@dataclass
class HubContext:
    settings: Settings
    engine: Engine
    key: SigningKey
    sync: HubSync
    throttle: Throttle = field(default_factory=login_throttle)
    lookups: Throttle = field(default_factory=lookup_throttle)

    def enrolment_slip(self, code: str, node_id: str, expires_at: str, **extra: Any) -> dict[str, Any]:
        """What the operator hands to the point: the code, the hub's address and the county CA's
        fingerprint, which the node checks before it trusts anything the hub sends."""
        fingerprint = ca_fingerprint(self.county_ca())
        command = f"yiwang node enroll {code} --hub {self.settings.base_url} --ca {fingerprint}"
        return {
            "code": code,
            "node_id": node_id,
            "expires_at": expires_at,
            "hub_url": self.settings.base_url,
            "ca_fingerprint": fingerprint,
            "command": command,
            **extra,
        }

    def county_ca(self) -> str:
        """The county CA (PEM) that `yiwang hub init` made; no enrolment without it."""
        ca = self.settings.nats_dir / "ca.pem"
        if not ca.exists():
            raise Conflict(f"县中枢还没有证书（{ca} 不存在）：请县级运维先运行 yiwang hub init")
        return ca.read_text()

    def nats_access_changed(self) -> None:
        """After enrolment, revocation, replacement, rotation or a department credential: rewrite
        nats-server's access list and reload it (a revoked node is disconnected at once)."""
        natsauth.apply(self.engine, self.settings.nats_dir)
        self.sync.wake_access()  # and to the cluster's other servers


def hub(request: Request) -> HubContext:
    return request.app.state.hub


def api_user(request: Request, *roles: str) -> User:
    """API callers authenticate with ``Authorization: Bearer <token>`` (no cookies, so no CSRF)."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else None
    return _check(auth.user_for_token(hub(request).engine, token), roles)


def page_user(request: Request, *roles: str) -> User:
    return _check(auth.user_for_token(hub(request).engine, request.cookies.get(SESSION_COOKIE)), roles)


def _check(user: User | None, roles: tuple[str, ...]) -> User:
    if user is None:
        raise NotAuthenticated("登录已失效，请重新登录")
    if roles and user.role not in roles:
        raise Forbidden("您的账号没有这项操作的权限")
    return user
