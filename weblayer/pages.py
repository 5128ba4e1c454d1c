"""The pages both apps serve alike: logging in and out, and, for citizens with no account,
checking an e-licence and following a case (issue 18 finding 7: each app had its own copy)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Response, Template

from sync_protocol import DOCUMENT_PREFIX

from .auth import PUBLIC
from .display import is_seal_code
from .errors import NotAuthenticated, NotFound, ServiceError
from .site import Site, SiteDep
from .throttle import TooManyAttempts, client_address

__all__ = ["CitizenPages", "LoginPages"]


class LoginPages(Controller):
    """GET and POST /login, POST /logout: the same for both apps (issue 18 finding 7)."""

    opt = {PUBLIC: True}

    @get("/login", sync_to_thread=False)
    def form(self, site: SiteDep) -> Template:
        return _login_page(site, 200, None, "")

    @post("/login", sync_to_thread=True)
    def submit(self, request: Request[Any, Any, Any], site: SiteDep, data: URLEncodedBody[dict[str, str]]) -> Response[Any]:
        username = data.get("username", "")
        try:
            _, token = site.logins.attempt(
                username, client_address(request), lambda: site.log_in(username, data.get("password", "")), NotAuthenticated
            )
        except NotAuthenticated as exc:
            return _login_page(site, 401, exc.message, username)
        except TooManyAttempts as exc:
            return _login_page(site, 429, exc.message, username)
        response = Redirect("/")
        secure = request.url.scheme == "https"
        response.set_cookie(site.cookie, token, httponly=True, samesite="lax", secure=secure, max_age=int(site.lifetime.total_seconds()))
        return response

    @post("/logout", sync_to_thread=True)
    def logout(self, request: Request[Any, Any, Any], site: SiteDep) -> Response[Any]:
        site.log_out(request.cookies.get(site.cookie))
        response = Redirect("/login")
        response.delete_cookie(site.cookie)
        return response


def _login_page(site: Site, status_code: int, error: str | None, username: str) -> Template:
    return site.render("login.html", status_code, user=None, error=error, username=username, login_heading=site.login_heading)


def _checked(site: Site, licence: str) -> Template:
    """A licence (YWL…) or a document of record (YWC1.) checked against the county's key."""
    result, document, error = None, None, None
    if licence.strip():
        try:
            if licence.strip().startswith(DOCUMENT_PREFIX) or is_seal_code(licence):
                document = site.verify_document(licence)
            else:
                result = site.verify_licence(licence)
        except ServiceError as exc:
            error = exc.message
    return site.render("verify.html", user=None, licence=licence, result=result, document=document, error=error)


class CitizenPages(Controller):
    """No login: checking an e-licence, a case's progress (each app answers from its own data;
    the node's offline)."""

    opt = {PUBLIC: True}

    @get("/verify", sync_to_thread=True)
    def verify_form(self, site: SiteDep, licence: FromQuery[str] = "") -> Template:
        """The form; a licence in the query (a link printed before the form was posted) is still checked."""
        return _checked(site, licence)

    @post("/verify", sync_to_thread=True, status_code=200)
    def verify(self, site: SiteDep, data: URLEncodedBody[dict[str, str]]) -> Template:
        """Posted, so the licence text, which holds the holder's full ID, stays out of URLs (browser
        history, proxy logs)."""
        return _checked(site, data.get("licence", ""))

    @get("/progress", sync_to_thread=True)
    def progress(self, request: Request[Any, Any, Any], site: SiteDep, receipt_no: FromQuery[str] = "", id_last4: FromQuery[str] = "") -> Template:
        """The receipt number and the last 4 characters of the ID number, both needed, so a receipt
        number alone reveals nothing; guesses are throttled per receipt number and per address."""
        result, error = None, None
        if id_last4:  # the slip's QR code carries the receipt number alone: the form, filled in, no error yet
            try:
                result = site.lookups.attempt(receipt_no, client_address(request), lambda: site.progress(receipt_no, id_last4), NotFound)
            except (NotFound, TooManyAttempts) as exc:
                error = exc.message
        return site.render("progress.html", user=None, receipt_no=receipt_no, result=result, error=error)
