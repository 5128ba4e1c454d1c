"""What each app tells the shared web layer about itself: its staff accounts and how it renders a
page, checks an e-licence and finds a case for a citizen. Given to the middleware and guards as
``app.state.site`` and to handlers, by dependency injection, as ``site``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from litestar.params import SkipValidation
from litestar.response import Template

from .throttle import Throttle

__all__ = ["Site", "SiteDep"]


class Site(Protocol):
    cookie: str  # the session cookie's name (each app its own, so both can run on one host)
    lifetime: timedelta  # of a session
    logins: Throttle  # per account and per address
    lookups: Throttle  # public progress, per receipt number and per address
    login_heading: str  # 代办员登录 at a point, 工作人员登录 at the county

    def log_in(self, username: str, password: str) -> tuple[Any, str]:
        """The user and a new session token; NotAuthenticated (one message for both causes) if not."""
        ...

    def log_out(self, token: str | None) -> None: ...

    def user_for_token(self, token: str | None) -> Any | None: ...

    def role_of(self, user: Any) -> str: ...

    def render(self, name: str, status_code: int = 200, **context: Any) -> Template:
        """A page of this app (its frame, banner and names)."""
        ...

    def verify_licence(self, text: str) -> dict[str, Any]:
        """The e-licence's content if the county's key signed it; ServiceError with the reason if not."""
        ...

    def verify_document(self, text: str) -> dict[str, Any]:
        """A document of record's content if the county's key signed it — its text (YWC1), or the
        verification code printed on it, looked up among the documents this app holds; ServiceError if not."""
        ...

    def progress(self, receipt_no: str, id_last4: str) -> Any:
        """A case as its citizen may see it; NotFound (the same for both causes) if no such case."""
        ...


SiteDep = SkipValidation[Site]  # what handlers take as ``site``
