"""What handlers reach through ``request.app.state``: the engine, the hub key, the sync worker."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request
from nacl.signing import SigningKey
from sqlalchemy.engine import Engine

from .. import auth, natsauth
from ..errors import Forbidden, NotAuthenticated
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

    def nats_access_changed(self) -> None:
        """After enrolment, revocation, replacement, rotation or a department credential: rewrite
        nats-server's access list and reload it (a revoked node is disconnected at once)."""
        natsauth.apply(self.engine, self.settings.nats_dir)


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
