"""The public portal (issue 21 item 2), for a citizen's own phone, no login to read: service guides
by theme, department and search, 通知公告 and 常见问题, questions to the departments and
complaints with a token to read the answers; and the staff's side of them — operators keep the
announcements and FAQ, the departments answer the questions (central/guides.py, guidance.py,
consultations.py, supervision.py)."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Response, Template

from weblayer.auth import PUBLIC, requires_role
from weblayer.decoding import Body, Line, Text
from weblayer.errors import NotFound, ServiceError
from weblayer.site import SiteDep
from weblayer.throttle import TooManyAttempts, client_address

from .. import consultations, guidance, guides, supervision
from ..models import Announcement, Complaint, Consultation, FaqEntry
from .context import Ctx, HubContext, HubRequest, HubSite, page


class GuideOut(msgspec.Struct):
    code: str
    name: str
    theme: str
    department: str
    department_name: str
    time_limit_days: int
    fee_fen: int
    level: str  # where it can be taken in: village, township, county


class AnnouncementOut(msgspec.Struct):
    id: int
    title: str
    body: str
    published_at: str


class FaqOut(msgspec.Struct):
    id: int
    question: str
    answer: str
    item_code: str
    updated_at: str


class ConsultationIn(Body):
    question: Text
    item_code: Line = ""
    phone: Line = ""  # to be told by SMS when it is answered


class ConsultationOut(msgspec.Struct):
    token: str  # the asker's key to the answer
    item_code: str
    question: str
    asked_at: str
    due_on: str
    answer: str
    answered_at: str | None


class StaffConsultationOut(ConsultationOut):
    id: int
    department: str | None
    answered_by: str | None


class OnlineComplaintIn(Body):
    text: Text
    contact: Line = ""  # a mobile number, told by SMS of each answer
    receipt_no: Line = ""  # the case it is about, with the ID's last four (both, or neither)
    id_last4: Line = ""


class OnlineComplaintOut(msgspec.Struct):
    token: str
    text: str
    filed_at: str
    first_answer: str
    first_answered_at: str | None
    answer: str
    answered_at: str | None


class AnnouncementIn(Body):
    title: Line
    body: Text


class FaqIn(Body):
    question: Text
    answer: Text
    item_code: Line = ""


class AnswerIn(Body):
    answer: Text


def guide_out(item: dict[str, Any]) -> GuideOut:
    return GuideOut(
        code=item["code"],
        name=item["name"],
        theme=item.get("theme") or "其他",
        department=item["department"],
        department_name=item.get("department_name") or item["department"],
        time_limit_days=item.get("time_limit_days", 0),
        fee_fen=item.get("fee_fen", 0),
        level=item.get("level", "county"),
    )


def consultation_out(c: Consultation) -> ConsultationOut:
    return ConsultationOut(
        token=c.token, item_code=c.item_code, question=c.question, asked_at=c.asked_at, due_on=c.due_on, answer=c.answer, answered_at=c.answered_at
    )


def complaint_out(c: Complaint) -> OnlineComplaintOut:
    return OnlineComplaintOut(
        token=c.complaint_id.removeprefix(supervision.ONLINE),
        text=c.text,
        filed_at=c.filed_at,
        first_answer=c.first_answer,
        first_answered_at=c.first_answered_at,
        answer=c.answer,
        answered_at=c.answered_at,
    )


def limited(site: SiteDep, request: HubRequest, what: str = "submissions") -> None:
    """Count one public submission from the request's address (HubSite.submissions or .codes)."""
    getattr(cast(HubSite, site), what).take(client_address(request))


def _complain(site: SiteDep, request: HubRequest, ctx: HubContext, text: str, contact: str, receipt_no: str, id_last4: str) -> Complaint:
    """File a complaint from the portal; one naming a case is a lookup, throttled as progress is."""
    limited(site, request)
    file = lambda: supervision.complain_online(ctx.engine, text, contact, receipt_no, id_last4)  # noqa: E731
    return site.lookups.attempt(receipt_no, client_address(request), file, NotFound) if receipt_no.strip() else file()


def _portal(name: str, status_code: int = 200, **context: Any) -> Template:
    return page(name, status_code=status_code, user=None, portal=True, **context)


class PortalPages(Controller):
    opt = {PUBLIC: True}

    @get("/portal", sync_to_thread=True)
    def home(self, ctx: Ctx) -> Template:
        items = guides.in_force(ctx.engine)
        return _portal(
            "portal_home.html",
            themes=guides.themes(items),
            departments=guides.departments(items),
            announcements=guidance.announcements(ctx.engine, 5),
        )

    @get("/portal/guides", sync_to_thread=True)
    def guide_list(self, ctx: Ctx, q: FromQuery[str] = "", theme: FromQuery[str] = "", department: FromQuery[str] = "") -> Template:
        items = guides.in_force(ctx.engine)
        found = guides.search(items, q, theme, department)
        names = {code: name for code, name, _ in guides.departments(items)}
        return _portal("portal_guides.html", items=found, q=q, theme=theme, department=department, department_name=names.get(department, ""))

    @get("/portal/guides/{code:str}", sync_to_thread=True)
    def guide(self, ctx: Ctx, code: FromPath[str]) -> Template:
        try:
            item = guides.guide(guides.in_force(ctx.engine), code)
        except ServiceError as exc:
            return _portal(
                "portal_guides.html", status_code=exc.status, items=[], q="", theme="", department="", department_name="", error=exc.message
            )
        return _portal("portal_guide.html", item=item, faq=guidance.faq(ctx.engine, item_code=code))

    @get("/portal/faq", sync_to_thread=True)
    def faq(self, ctx: Ctx, q: FromQuery[str] = "") -> Template:
        return _portal("portal_faq.html", entries=guidance.faq(ctx.engine, q), q=q)

    @get("/portal/announcements/{entry_id:int}", sync_to_thread=True)
    def announcement(self, ctx: Ctx, entry_id: FromPath[int]) -> Template:
        try:
            return _portal("portal_announcement.html", entry=guidance.announcement(ctx.engine, entry_id))
        except ServiceError as exc:
            return _portal("portal_announcement.html", status_code=exc.status, entry=None, error=exc.message)

    @get("/portal/ask", sync_to_thread=True)
    def ask_form(self, ctx: Ctx, item: FromQuery[str] = "") -> Template:
        return _ask_page(ctx, {"item_code": item})

    @post("/portal/ask", sync_to_thread=True, status_code=200)
    def ask(self, request: HubRequest, site: SiteDep, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Template:
        try:
            limited(site, request)
            asked = consultations.ask(ctx.engine, data.get("question", ""), data.get("item_code", ""), data.get("phone", ""))
        except (ServiceError, TooManyAttempts) as exc:
            return _ask_page(ctx, data, exc)
        return _portal("portal_consultation.html", consultation=asked, new=True)

    @get("/portal/consultations", sync_to_thread=True)
    def consultation(self, ctx: Ctx, token: FromQuery[str] = "") -> Template:
        try:
            return _portal("portal_consultation.html", consultation=consultations.by_token(ctx.engine, token) if token else None, token=token)
        except ServiceError as exc:
            return _portal("portal_consultation.html", status_code=exc.status, consultation=None, token=token, error=exc.message)

    @get("/portal/complain", sync_to_thread=True)
    def complain_form(self, receipt_no: FromQuery[str] = "") -> Template:
        return _portal("portal_complain.html", form={"receipt_no": receipt_no})

    @post("/portal/complain", sync_to_thread=True, status_code=200)
    def complain(self, request: HubRequest, site: SiteDep, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Template:
        try:
            filed = _complain(site, request, ctx, data.get("text", ""), data.get("contact", ""), data.get("receipt_no", ""), data.get("id_last4", ""))
        except (ServiceError, TooManyAttempts) as exc:
            status = exc.status if isinstance(exc, ServiceError) else 429
            return _portal("portal_complain.html", status_code=status, form=data, error=exc.message, field=getattr(exc, "field", None))
        return _portal("portal_complaint.html", complaint=complaint_out(filed), new=True)

    @get("/portal/complaints", sync_to_thread=True)
    def complaint(self, ctx: Ctx, token: FromQuery[str] = "") -> Template:
        try:
            found = complaint_out(supervision.online_complaint(ctx.engine, token)) if token else None
        except ServiceError as exc:
            return _portal("portal_complaint.html", status_code=exc.status, complaint=None, token=token, error=exc.message)
        return _portal("portal_complaint.html", complaint=found, token=token)


def _ask_page(ctx: HubContext, form: dict[str, str], exc: ServiceError | TooManyAttempts | None = None) -> Template:
    items = guides.in_force(ctx.engine)
    status = exc.status if isinstance(exc, ServiceError) else 429 if exc else 200
    return _portal(
        "portal_ask.html",
        status_code=status,
        items=items,
        form=form,
        error=getattr(exc, "message", None) if exc else None,
        field=getattr(exc, "field", None),
        days=consultations.ANSWER_DAYS,
    )


class PortalApi(Controller):
    opt = {PUBLIC: True}

    @get("/public/guides", sync_to_thread=True)
    def api_guides(self, ctx: Ctx, q: FromQuery[str] = "", theme: FromQuery[str] = "", department: FromQuery[str] = "") -> list[GuideOut]:
        """Public: the service guides in force, by theme, department and words (the full item: GET /api/catalog)."""
        return [guide_out(item) for item in guides.search(guides.in_force(ctx.engine), q, theme, department)]

    @get("/public/announcements", sync_to_thread=True)
    def api_announcements(self, ctx: Ctx) -> list[AnnouncementOut]:
        """Public: the county's current 通知公告, newest first."""
        return [announcement_out(a) for a in guidance.announcements(ctx.engine)]

    @get("/public/faq", sync_to_thread=True)
    def api_faq(self, ctx: Ctx, q: FromQuery[str] = "") -> list[FaqOut]:
        """Public: 常见问题 holding every word of ``q``."""
        return [faq_out(e) for e in guidance.faq(ctx.engine, q)]

    @post("/public/consultations", sync_to_thread=True, status_code=201)
    def api_ask(self, request: HubRequest, site: SiteDep, ctx: Ctx, data: JSONBody[ConsultationIn]) -> ConsultationOut:
        """Public: ask a department (the item's; none: the county's service office). Keep the
        ``token``: it reads the answer. At most 5 questions or complaints per address in 15 minutes."""
        limited(site, request)
        return consultation_out(consultations.ask(ctx.engine, data.question, data.item_code, data.phone))

    @get("/public/consultations/{token:str}", sync_to_thread=True)
    def api_consultation(self, ctx: Ctx, token: FromPath[str]) -> ConsultationOut:
        """Public: a question and its answer, by its token."""
        return consultation_out(consultations.by_token(ctx.engine, token))

    @post("/public/complaints", sync_to_thread=True, status_code=201)
    def api_complain(self, request: HubRequest, site: SiteDep, ctx: Ctx, data: JSONBody[OnlineComplaintIn]) -> OnlineComplaintOut:
        """Public: a complaint from the citizen's phone, about a case (receipt number plus the ID's
        last four, throttled as progress is) or none. Keep the ``token``: it reads the answers."""
        filed = _complain(site, request, ctx, data.text, data.contact, data.receipt_no, data.id_last4)
        return complaint_out(filed)

    @get("/public/complaints/{token:str}", sync_to_thread=True)
    def api_complaint(self, ctx: Ctx, token: FromPath[str]) -> OnlineComplaintOut:
        """Public: a complaint filed on the portal and the county's answers, by its token."""
        return complaint_out(supervision.online_complaint(ctx.engine, token))


def faq_out(e: FaqEntry) -> FaqOut:
    return FaqOut(id=e.id or 0, question=e.question, answer=e.answer, item_code=e.item_code, updated_at=e.updated_at)


def announcement_out(a: Announcement) -> AnnouncementOut:
    return AnnouncementOut(id=a.id or 0, title=a.title, body=a.body, published_at=a.published_at)


class GuidanceApi(Controller):
    guards = [requires_role("operator")]

    @post("/guidance/announcements", sync_to_thread=True, status_code=201)
    def api_publish(self, request: HubRequest, ctx: Ctx, data: JSONBody[AnnouncementIn]) -> AnnouncementOut:
        """Publish a 通知公告: on the portal at once, at every point with its next downlink."""
        published = guidance.publish_announcement(ctx.engine, request.user, data.title, data.body)
        ctx.sync.wake_downlink()
        return announcement_out(published)

    @post("/guidance/faq", sync_to_thread=True, status_code=201)
    def api_add_faq(self, request: HubRequest, ctx: Ctx, data: JSONBody[FaqIn]) -> FaqOut:
        entry = guidance.save_faq(ctx.engine, request.user, data.question, data.answer, data.item_code)
        ctx.sync.wake_downlink()
        return faq_out(entry)

    @put("/guidance/faq/{entry_id:int}", sync_to_thread=True)
    def api_change_faq(self, request: HubRequest, ctx: Ctx, entry_id: FromPath[int], data: JSONBody[FaqIn]) -> FaqOut:
        entry = guidance.save_faq(ctx.engine, request.user, data.question, data.answer, data.item_code, entry_id)
        ctx.sync.wake_downlink()
        return faq_out(entry)

    @post("/guidance/announcements/{entry_id:int}/withdrawal", sync_to_thread=True, status_code=204)
    def api_withdraw_announcement(self, request: HubRequest, ctx: Ctx, entry_id: FromPath[int]) -> None:
        """Withdraw an announcement, here and at every point."""
        guidance.withdraw(ctx.engine, request.user, "announcement", entry_id)
        ctx.sync.wake_downlink()

    @post("/guidance/faq/{entry_id:int}/withdrawal", sync_to_thread=True, status_code=204)
    def api_withdraw_faq(self, request: HubRequest, ctx: Ctx, entry_id: FromPath[int]) -> None:
        """Withdraw an FAQ entry, here and at every point."""
        guidance.withdraw(ctx.engine, request.user, "faq", entry_id)
        ctx.sync.wake_downlink()


def staff_consultation_out(c: Consultation) -> StaffConsultationOut:
    return StaffConsultationOut(**msgspec.structs.asdict(consultation_out(c)), id=c.id or 0, department=c.department, answered_by=c.answered_by)


class ConsultationApi(Controller):
    guards = [requires_role("clerk", "operator")]

    @get("/consultations", sync_to_thread=True)
    def api_consultations(self, request: HubRequest, ctx: Ctx) -> list[StaffConsultationOut]:
        """The questions for the clerk's department (an operator: all), unanswered first."""
        return [staff_consultation_out(c) for c in consultations.waiting(ctx.engine, request.user)]

    @post("/consultations/{consultation_id:int}/answer", sync_to_thread=True, status_code=200)
    def api_answer(self, request: HubRequest, ctx: Ctx, consultation_id: FromPath[int], data: JSONBody[AnswerIn]) -> StaffConsultationOut:
        return staff_consultation_out(consultations.answer(ctx.engine, request.user, consultation_id, data.answer))


def form_id(value: str) -> int:
    """An id a form sent: digits 0-9 only (no ² or ①, which str.isdigit takes), else 0 (no such entry)."""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else 0


def _guidance_page(ctx: HubContext, user: Any, status_code: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> Template:
    return page(
        "guidance.html",
        status_code=status_code,
        user=user,
        announcements=guidance.announcements(ctx.engine),
        entries=guidance.faq(ctx.engine),
        error=error,
        form=form or {},
    )


class GuidancePages(Controller):
    guards = [requires_role("operator")]

    @get("/guidance", sync_to_thread=True)
    def guidance_page(self, request: HubRequest, ctx: Ctx) -> Template:
        return _guidance_page(ctx, request.user)

    @post("/guidance", sync_to_thread=True)
    def change(self, request: HubRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        """One form per change: publish (an announcement), save (an FAQ entry, new or ``id``) or withdraw."""
        user, act = request.user, data.get("act", "")
        try:
            if act == "announce":
                guidance.publish_announcement(ctx.engine, user, data.get("title", ""), data.get("body", ""))
            elif act == "faq":
                entry_id = form_id(data.get("id", "")) if data.get("id") else None
                guidance.save_faq(ctx.engine, user, data.get("question", ""), data.get("answer", ""), data.get("item_code", ""), entry_id)
            else:
                guidance.withdraw(ctx.engine, user, data.get("kind", ""), form_id(data.get("id", "")))
        except ServiceError as exc:
            return _guidance_page(ctx, user, exc.status, exc.message, data)
        ctx.sync.wake_downlink()
        return Redirect("/guidance")


def _consultations_page(ctx: HubContext, user: Any, status_code: int = 200, error: str | None = None) -> Template:
    return page("consultations.html", status_code=status_code, user=user, rows=consultations.waiting(ctx.engine, user), error=error)


class ConsultationPages(Controller):
    guards = [requires_role("clerk", "operator")]

    @get("/consultations", sync_to_thread=True)
    def list_page(self, request: HubRequest, ctx: Ctx) -> Template:
        return _consultations_page(ctx, request.user)

    @post("/consultations/{consultation_id:int}/answer", sync_to_thread=True)
    def answer(self, request: HubRequest, ctx: Ctx, consultation_id: FromPath[int], data: URLEncodedBody[dict[str, str]]) -> Response:
        try:
            consultations.answer(ctx.engine, request.user, consultation_id, data.get("answer", ""))
        except ServiceError as exc:
            return _consultations_page(ctx, request.user, exc.status, exc.message)
        return Redirect("/consultations")


API = [PortalApi, GuidanceApi, ConsultationApi]
PAGES = [PortalPages, GuidancePages, ConsultationPages]
