"""What handlers are given: the hub's context (engine, key, sync worker) as ``ctx``, the signed-in
member of staff as ``request.user``, and the hub itself, as the shared pages see it, as ``site``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from litestar import MediaType, Request
from litestar.params import SkipValidation
from litestar.response import Template
from nacl.signing import SigningKey
from sqlalchemy.engine import Engine

from sync_protocol import SyncError, ca_fingerprint, open_document, open_licence
from weblayer.display import is_seal_code, mask_id
from weblayer.errors import Conflict, InvalidInput
from weblayer.throttle import SubmissionLimit, Throttle, login_throttle, lookup_throttle

from .. import auth, certificates, dashboard, documents, natsauth, public
from ..metrics import Scrapes
from ..models import User
from ..procedure import STATES
from ..settings import Settings
from ..sharing import SharingAdapter
from ..sync import HubSync

SESSION_COOKIE = "yw_hub_session"


@dataclass
class HubContext:
    settings: Settings
    engine: Engine
    key: SigningKey
    sync: HubSync
    sharing: SharingAdapter  # the data-sharing services shared materials come from (central/sharing.py)

    @cached_property
    def scrapes(self) -> Scrapes:
        """What /metrics serves (central/metrics.py): one per hub process, the figures cached."""
        return Scrapes(
            lambda: (
                dashboard.dashboard(self.engine, timedelta(minutes=self.settings.silent_minutes))
                | {"certificates": certificates.expiries(self.settings.nats_dir)}
            ),
            sync_counts=lambda: dict(self.sync.counts),
            connected=lambda: self.sync.connected,
        )

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


Ctx = SkipValidation[HubContext]  # what handlers take as ``ctx``
HubRequest = Request[User, str, Any]  # request.user: the signed-in member of staff


@dataclass
class HubSite:
    """The hub as the shared web layer sees it (weblayer.site): its staff accounts, its pages,
    e-licences checked against its own key, progress from the county's record."""

    ctx: HubContext
    cookie: str = SESSION_COOKIE
    lifetime: timedelta = auth.SESSION_LIFETIME
    login_heading: str = "工作人员登录"
    logins: Throttle = field(default_factory=login_throttle)
    lookups: Throttle = field(default_factory=lookup_throttle)
    # what anybody may send from the portal, per address in 15 minutes: questions and complaints
    # (a village behind one carrier address shares it), and SMS codes, which cost the county money
    submissions: SubmissionLimit = field(default_factory=lambda: SubmissionLimit("提交", most=30))
    codes: SubmissionLimit = field(default_factory=lambda: SubmissionLimit("获取验证码", most=10))

    def log_in(self, username: str, password: str) -> tuple[User, str]:
        return auth.log_in(self.ctx.engine, username, password)

    def log_out(self, token: str | None) -> None:
        auth.log_out(self.ctx.engine, token)

    def user_for_token(self, token: str | None) -> User | None:
        return auth.user_for_token(self.ctx.engine, token)

    def role_of(self, user: User) -> str:
        return user.role

    def render(self, name: str, status_code: int = 200, **context: Any) -> Template:
        return page(name, status_code, **context)

    def verify_licence(self, text: str) -> dict[str, Any]:
        try:
            return open_licence(text, self.ctx.key.verify_key)
        except SyncError:
            raise InvalidInput("无效：这份电子证照不是县级中枢签发的，或内容已被改动", field="licence") from None

    def verify_document(self, text: str) -> dict[str, Any]:
        if is_seal_code(text):
            held = documents.by_code(self.ctx.engine, text)
            if held is None:
                raise InvalidInput("没有这个验证码的文书：请核对验证码，或粘贴文书文本", field="licence")
            text = held.text
        try:
            return open_document(text, self.ctx.key.verify_key)
        except SyncError:
            raise InvalidInput("无效：这份文书不是县级中枢签发的，或内容已被改动", field="licence") from None

    def progress(self, receipt_no: str, id_last4: str) -> dict[str, Any]:
        return public.progress(self.ctx.engine, receipt_no, id_last4)


TASK_TEXT = {"pending": "待审批", "approved": "同意", "denied": "不同意", "closed": "已终止", "not_accepted": "不予受理"}


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    context.setdefault("status_text", STATES)
    context.setdefault("task_text", TASK_TEXT)
    context.setdefault("mask_id", mask_id)
    return Template(name, context=context, status_code=status_code, media_type=MediaType.HTML)
