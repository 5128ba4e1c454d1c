"""JSON API of the hub. Thin: parse, call the domain, return a struct. One controller per area on
the /api router (bearer tokens only, errors as problems), each guarded by the roles it serves."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import File
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from sync_protocol import ca_fingerprint, department_consumer, department_inbox_prefix, department_subject, verify_key_to_text
from weblayer.auth import PUBLIC, LoginIn, api_log_in, requires_role
from weblayer.display import mask_id
from weblayer.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, Unavailable
from weblayer.site import SiteDep
from weblayer.throttle import client_address

from .. import (
    actions,
    approval,
    blobs,
    cards,
    catalog,
    clocks,
    commitments,
    dashboard,
    departments,
    documents,
    enrolment,
    fees,
    forms,
    history,
    nodes,
    originals,
    public,
    sharing,
    sms,
    supervision,
    suspensions,
    workdays,
)
from ..db import transaction
from ..models import Alert, Application, Complaint, Department, Evaluation, Licence, Node, PostCheck, Quarantine
from . import booking, esupervision, exports, portal, staff
from .context import Ctx, HubContext, HubRequest
from .schemas import (
    AlertOut,
    AnswerIn,
    ApplicationOut,
    CalendarIn,
    CalendarOut,
    CaOut,
    CardOut,
    CaseOut,
    CatalogOut,
    CatalogVersionOut,
    CommitmentOut,
    ComplaintOut,
    DashboardOut,
    DecisionIn,
    DepartmentOut,
    DocumentOut,
    EnrolledOut,
    EnrolmentCodeIn,
    EnrolmentIn,
    EvaluationOut,
    FeeSummaryOut,
    FollowUpIn,
    FormOut,
    HealthOut,
    HistoryOut,
    IdNumberOut,
    IntegrationIn,
    LicenceOut,
    LicenceUsedOut,
    LinkModeIn,
    LoginOut,
    MaterialOut,
    NodeOut,
    NotAcceptIn,
    NotificationOut,
    OriginalRequestOut,
    PostCheckIn,
    PostCheckOut,
    ProgressOut,
    PublicityOut,
    PublishedOut,
    QuarantineOut,
    QueueEntryOut,
    RatingIn,
    ReadyOut,
    RevokeIn,
    SharedMaterialOut,
    SlipOut,
    SmsReportsIn,
    SmsReportsOut,
    SupplementIn,
    SuspensionIn,
    SuspensionOut,
    TaskOut,
    application_out,
    clocks_out,
    deadline_out,
    shaped,
    suspension_out,
)


def material_file(ctx: HubContext, user: Any, application_id: str, sha256: str) -> File:
    approval.get_application(ctx.engine, user, application_id)  # department check
    with Session(ctx.engine) as session:
        material = next((m for m in blobs.materials_of(session, application_id) if m["sha256"] == sha256), None)
    if material is None:
        raise NotFound("这个办件没有这份材料")
    path = blobs.blob_file(ctx.settings.blobs_dir, ctx.engine, sha256)
    if path is None:
        raise Conflict("这份材料还在从服务点传输中，尚未到齐，请稍后再看")
    return File(path=path, media_type=material["media_type"], content_disposition_type="inline", filename=material["filename"] or f"{sha256[:12]}")


def clerk_action(ctx: HubContext, user: Any, act: Callable[[Any, Any], Application]) -> ApplicationOut:
    """One clerk action on a case: the domain call, then the downlink worker is woken."""
    app = act(ctx, user)
    ctx.sync.wake_downlink()
    return application_out(app)


class SessionApi(Controller):
    opt = {PUBLIC: True}

    @post("/login", sync_to_thread=True, status_code=200)
    def api_login(self, request: HubRequest, site: SiteDep, data: JSONBody[LoginIn]) -> LoginOut:
        user, token = api_log_in(request, site, data)
        return LoginOut(token=token, username=user.username, display_name=user.display_name, role=user.role, department=user.department)

    @get("/health", sync_to_thread=False)
    def api_health(self, ctx: Ctx) -> HealthOut:
        return HealthOut(status="ok", nats_connected=ctx.sync.connected)

    @get("/ready", sync_to_thread=True)
    def api_ready(self, ctx: Ctx) -> ReadyOut:
        """Readiness for a monitor or load balancer: the database answers and NATS is connected
        (the hub receives and sends the points' batches); 503 with what is down otherwise."""
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise Unavailable(f"数据库无法连接（{type(exc).__name__}）：检查数据库服务和 YIWANG_HUB_DB_URL") from None
        if not ctx.sync.connected:
            raise Unavailable("NATS 未连接：各服务点的数据暂时收发不了；检查 nats-server 和 YIWANG_NATS_URL")
        return ReadyOut(status="ready", database="ok", nats="connected")


class PublicApi(Controller):
    opt = {PUBLIC: True}

    @get("/public/commitments", sync_to_thread=True)
    def api_public_commitments(self, ctx: Ctx) -> list[CommitmentOut]:
        """Public: 告知承诺公示 — the commitments applicants made, their names partly hidden, no IDs."""
        return [shaped(CommitmentOut, row) for row in commitments.published(ctx.engine)]

    @post("/public/ratings", sync_to_thread=True, status_code=201)
    def api_public_rating(self, request: HubRequest, site: SiteDep, ctx: Ctx, data: JSONBody[RatingIn]) -> EvaluationOut:
        """Public: 好差评 from the citizen's own phone, by receipt number plus the ID's last 4
        characters (throttled as progress is); once per case, after its result."""
        rated = site.lookups.attempt(
            data.receipt_no,
            client_address(request),
            lambda: supervision.rate(ctx.engine, data.receipt_no, data.id_last4, data.level, data.comment),
            NotFound,
        )
        return shaped(EvaluationOut, rated)

    @post("/sms/reports", sync_to_thread=True, status_code=200)
    def api_sms_reports(self, request: HubRequest, ctx: Ctx, data: JSONBody[SmsReportsIn]) -> SmsReportsOut:
        """The SMS gateway's delivery reports (``Authorization: Bearer <YIWANG_SMS_REPORT_TOKEN>``):
        each message's ``delivered`` or ``failed`` goes on its case."""
        expected = ctx.settings.sms_report_token
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise NotAuthenticated("短信回执需要网关的令牌（YIWANG_SMS_REPORT_TOKEN）")
        return SmsReportsOut(recorded=sms.report(ctx.engine, [msgspec.structs.asdict(r) for r in data.reports]))

    @get("/public/progress", sync_to_thread=True)
    def api_public_progress(self, request: HubRequest, site: SiteDep, receipt_no: FromQuery[str], id_last4: FromQuery[str]) -> ProgressOut:
        """Public: a case's progress by receipt number plus the last 4 characters of the ID number
        (5 wrong tries per receipt number, or 20 per address, in 15 minutes: then 429)."""
        return shaped(ProgressOut, site.lookups.attempt(receipt_no, client_address(request), lambda: site.progress(receipt_no, id_last4), NotFound))

    @get("/public/decisions", sync_to_thread=True)
    def api_public_decisions(self, ctx: Ctx) -> list[PublicityOut]:
        """Public: results publicity (结果公示) of the last 90 days, without personal data."""
        return [shaped(PublicityOut, row) for row in public.publicity(ctx.engine)]

    @get("/catalog", sync_to_thread=True)
    def api_catalog(self, ctx: Ctx) -> CatalogOut:
        """The catalog in force (public: it is the county's published service guide)."""
        return shaped(CatalogOut, catalog.published_catalog(ctx.engine))

    @get("/nodes/{node_id:str}/history", sync_to_thread=True)
    def api_node_history(
        self, request: HubRequest, ctx: Ctx, node_id: FromPath[str], direction: FromQuery[str] = "up", after: FromQuery[int] = 0
    ) -> HistoryOut:
        """Raw batches of one node's chain, for its replacement device (``Authorization: Restore <token>``)."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("restore "):
            raise NotAuthenticated("需要设备恢复令牌")
        enrolment.node_for_restore_token(ctx.engine, node_id, header[8:].strip())
        return shaped(HistoryOut, history.node_history(ctx.engine, node_id, direction, after))

    @get("/enrolment/ca", sync_to_thread=True)
    def api_county_ca(self, ctx: Ctx) -> CaOut:
        """Public: the county CA. A node accepts it only if its fingerprint is the one on its slip."""
        pem = ctx.county_ca()
        return CaOut(ca=pem, fingerprint=ca_fingerprint(pem))

    @post("/enrolment", sync_to_thread=True, status_code=200)
    def api_enrol(self, ctx: Ctx, data: JSONBody[EnrolmentIn]) -> EnrolledOut:
        """Called by `yiwang node enroll`: the code proves the operator's consent, the key is the node's."""
        ca = ctx.county_ca()  # before the code is spent
        node, restore_token = enrolment.redeem_code(ctx.engine, data.code, data.public_key, data.nats_public_key)
        ctx.nats_access_changed()
        return shaped(
            EnrolledOut,
            {
                "restore_token": restore_token,
                "node_id": node.id,
                "name": node.name,
                "kind": node.kind,
                "parent": node.parent,
                "hub_public_key": verify_key_to_text(ctx.key.verify_key),
                "nats_url": ctx.settings.nats_url_for_points,
                "progress_url": ctx.settings.progress_url,  # what the point's slips point citizens at
                "nats_ca": ca,
                "catalog": catalog.published_catalog(ctx.engine),
            },
        )


def post_check_out(c: PostCheck, a: Application) -> PostCheckOut:
    return PostCheckOut(
        application_id=a.id,
        receipt_no=a.receipt_no,
        item_name=a.item_name,
        replaced=json.loads(c.replaced_json),
        due_at=c.due_at,
        overdue=commitments.overdue(c),
        state=c.state,
        checked_by=c.checked_by,
        checked_at=c.checked_at,
        reason=c.reason,
    )


class ClerkApi(Controller):
    guards = [requires_role("clerk")]

    @get("/postchecks", sync_to_thread=True)
    def api_post_checks(self, request: HubRequest, ctx: Ctx) -> list[PostCheckOut]:
        """事后核查 of the clerk's department: open ones first, the soonest due first."""
        return [post_check_out(c, a) for c, a in commitments.post_checks(ctx.engine, request.user)]

    @post("/postchecks/{application_id:str}", sync_to_thread=True, status_code=200, opt={"actions": ("revoke",)})
    def api_post_check_outcome(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[PostCheckIn]) -> PostCheckOut:
        """核查属实 (``verified``), or 承诺不实 (``false``, with the reason): the decision is revoked and the point told."""
        c = commitments.record_outcome(ctx.engine, request.user, application_id, data.outcome, data.reason)
        ctx.sync.wake_downlink()
        with Session(ctx.engine) as session:
            a = session.get(Application, application_id)
            assert a is not None
            return post_check_out(c, a)

    @get("/queue", sync_to_thread=True)
    def api_queue(self, request: HubRequest, ctx: Ctx) -> list[QueueEntryOut]:
        """The clerk's department queue: its work still to do first, most urgent deadline first
        (official working days). ``deadline`` is the promised limit counted from 受理 without
        suspended days (null before 受理), ``statutory_deadline`` the legal one;
        ``pre_review_deadline`` the 2-working-day limit for 受理 while the case awaits it;
        ``stage_deadline`` the current stage's own limit, where it has one; ``task`` the
        department's own part (docs/operations.md, "Time limits")."""
        user = request.user
        return [
            QueueEntryOut(
                **msgspec.structs.asdict(application_out(a)),
                deadline=deadline_out(c.decision),
                pre_review_deadline=deadline_out(c.pre_review),
                statutory_deadline=deadline_out(c.statutory),
                stage_deadline=deadline_out(c.stage),
                limit_days=c.limit_days,
                statutory_days=c.statutory_days,
                suspended=c.suspended,
                task=shaped(TaskOut, t),
            )
            for a, t, c in approval.queue_with_deadlines(ctx.engine, user)
        ]

    @get("/applications/{application_id:str}/id-number", sync_to_thread=True)
    def api_reveal_id(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str]) -> IdNumberOut:
        """The applicant's full ID number, for a clerk of a department deciding the case; logged."""
        user = request.user
        return IdNumberOut(applicant_id_number=approval.reveal_id_number(ctx.engine, user, application_id))

    @post("/applications/{application_id:str}/materials/{sha256:str}/original", sync_to_thread=True, status_code=202, opt={"actions": ()})
    def api_request_original(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], sha256: FromPath[str]) -> OriginalRequestOut:
        """Ask the point for the photo as taken behind an optimised material; it arrives as a
        material of its own ("…（原图）") when the point's link allows."""
        user = request.user
        return shaped(OriginalRequestOut, originals.request_original(ctx.engine, user, application_id, sha256))

    @post("/applications/{application_id:str}/decision", sync_to_thread=True, status_code=200, opt={"actions": ("approve", "deny", "pass_part")})
    def api_decide(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[DecisionIn]) -> ApplicationOut:
        return clerk_action(
            ctx, request.user, lambda ctx, user: approval.decide(ctx.engine, user, application_id, data.decision, data.reason, ctx.key)
        )

    @post("/applications/{application_id:str}/acceptance", sync_to_thread=True, status_code=200, opt={"actions": ("accept",)})
    def api_accept(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str]) -> ApplicationOut:
        """受理 by the case's lead department."""
        return clerk_action(ctx, request.user, lambda ctx, user: approval.accept(ctx.engine, user, application_id))

    @post("/applications/{application_id:str}/non-acceptance", sync_to_thread=True, status_code=200, opt={"actions": ("not_accept",)})
    def api_not_accept(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[NotAcceptIn]) -> ApplicationOut:
        """不予受理, with the reason the citizen is given."""
        return clerk_action(ctx, request.user, lambda ctx, user: approval.not_accept(ctx.engine, user, application_id, data.reason))

    @post("/applications/{application_id:str}/supplement-request", sync_to_thread=True, status_code=200, opt={"actions": ("request_supplement",)})
    def api_request_supplement(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[SupplementIn]) -> ApplicationOut:
        return clerk_action(ctx, request.user, lambda ctx, user: approval.request_supplement(ctx.engine, user, application_id, data.missing))

    @post("/applications/{application_id:str}/suspensions", sync_to_thread=True, status_code=201, opt={"actions": ("suspend",)})
    def api_suspend(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[SuspensionIn]) -> SuspensionOut:
        """A special procedure (听证, 检验检测, 专家评审, 现场勘验, 公示) stops the case's clock
        until it ends (行政许可法 第四十五条); only the department holding the current stage."""
        pause = suspensions.suspend(ctx.engine, request.user, application_id, data.kind, data.reason)
        ctx.sync.wake_downlink()
        return suspension_out(pause, clocks.PAUSES)

    @post("/applications/{application_id:str}/suspensions/end", sync_to_thread=True, status_code=200, opt={"actions": ("resume",)})
    def api_resume(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str]) -> SuspensionOut:
        """The special procedure is over: the clock runs again from the next day."""
        pause = suspensions.resume(ctx.engine, request.user, application_id)
        ctx.sync.wake_downlink()
        return suspension_out(pause, clocks.PAUSES)


class CaseApi(Controller):
    guards = [requires_role("clerk", "operator")]

    @get("/applications/{application_id:str}", sync_to_thread=True)
    def api_application(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str]) -> CaseOut:
        user = request.user
        app = approval.get_application(ctx.engine, user, application_id)
        with Session(ctx.engine) as session:
            materials = blobs.materials_of(session, application_id)
            form = forms.case_form(session, app, workdays.today())
        tasks = approval.case_tasks(ctx.engine, application_id)
        licences = approval.licences_used(ctx.engine, app)
        case_clocks, pauses = clocks.case_clocks(ctx.engine, app)
        with Session(ctx.engine) as session:
            case_documents = documents.documents_of(session, application_id)
        return CaseOut(
            **msgspec.structs.asdict(application_out(app)),
            stage=app.stage,
            form=msgspec.convert(form, FormOut),
            materials=[shaped(MaterialOut, m) for m in materials],
            materials_complete=all(m["arrived"] for m in materials),
            tasks=[shaped(TaskOut, t) for t in tasks],
            licences_used=[shaped(LicenceUsedOut, lic) for lic in licences],
            shared_materials=[msgspec.convert(m, SharedMaterialOut) for m in sharing.shared_materials(ctx.engine, app, ctx.sharing)],
            clocks=clocks_out(case_clocks),
            suspensions=[suspension_out(p, clocks.PAUSES) for p in pauses],
            cards=[shaped(CardOut, c) for c in cards.cards_of(ctx.engine, application_id)],
            documents=[shaped(DocumentOut, d) for d in case_documents],
            notifications=[shaped(NotificationOut, n) for n in sms.of_case(ctx.engine, application_id)],
        )

    @get("/applications/{application_id:str}/materials/{sha256:str}", sync_to_thread=True, media_type="application/octet-stream")
    def api_material_file(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], sha256: FromPath[str]) -> File:
        """The verified attachment bytes, for a clerk of the deciding department (or an operator)."""
        user = request.user
        return material_file(ctx, user, application_id, sha256)

    @get("/licences", sync_to_thread=True)
    def api_licences(self, request: HubRequest, ctx: Ctx, holder_id: FromQuery[str]) -> list[LicenceOut]:
        """The licence library for one holder (so a later application can reuse a result). The
        answer carries the holder's full ID, so each lookup is in the action log, as a view of
        the full ID on a case is (the log keeps the ID masked)."""
        holder = holder_id.strip().upper()
        with transaction(ctx.engine) as session:
            found = [shaped(LicenceOut, lic) for lic in session.exec(select(Licence).where(Licence.holder_id == holder)).all()]
            actions.record_action(session, request.user, "licence.looked_up", mask_id(holder), found=len(found))
        return found

    @get("/departments", sync_to_thread=True)
    def api_departments(self, ctx: Ctx) -> list[DepartmentOut]:
        with Session(ctx.engine) as session:
            return [
                shaped(DepartmentOut, d.model_dump() | {"subject": department_subject(d.code) if d.integration == "nats" else None})
                for d in session.exec(select(Department).order_by(Department.code)).all()
            ]


class CalendarApi(Controller):
    guards = [requires_role("operator")]

    @get("/calendar", sync_to_thread=True)
    def api_calendar(self, ctx: Ctx) -> CalendarOut:
        return shaped(CalendarOut, workdays.calendar_status(workdays.load_calendar(ctx.engine)))

    @post("/calendar", sync_to_thread=True, status_code=201)
    def api_load_calendar(self, request: HubRequest, ctx: Ctx, data: JSONBody[CalendarIn]) -> CalendarOut:
        """Load the official holiday arrangement of a year the holiday library does not know yet."""
        operator = request.user
        engine = ctx.engine
        stored = workdays.load_year(engine, data.year, data.holidays, data.workdays, operator.username)
        return shaped(CalendarOut, {"year": data.year, "days": stored} | workdays.calendar_status(workdays.load_calendar(engine)))


class CatalogAdminApi(Controller):
    guards = [requires_role("operator")]

    @get("/catalog/versions", sync_to_thread=True)
    def api_catalog_versions(self, ctx: Ctx) -> list[CatalogVersionOut]:
        return [shaped(CatalogVersionOut, v) for v in catalog.versions(ctx.engine)]

    @put("/catalog/items/{code:str}", sync_to_thread=True, status_code=200)
    def api_publish_item(self, request: HubRequest, ctx: Ctx, code: FromPath[str], data: JSONBody[dict[str, Any]]) -> PublishedOut:
        """Add or change one item; the catalog is published as a new version and sent to every node."""
        operator = request.user
        if data.get("code", code) != code:
            raise InvalidInput("请求路径与内容中的事项编码不一致", field="code")
        published = catalog.publish_item(ctx.engine, operator, data | {"code": code}, str(data.get("note", "")))
        ctx.sync.wake_downlink()
        return shaped(PublishedOut, published)


class AccessApi(Controller):
    guards = [requires_role("operator")]

    @put("/departments/{code:str}/integration", sync_to_thread=True, status_code=200)
    def api_set_integration(self, request: HubRequest, ctx: Ctx, code: FromPath[str], data: JSONBody[IntegrationIn]) -> DepartmentOut:
        """ "nats": the department's own system receives its cases on yiwang.dept.<code>.cases (docs/integration.md)."""
        operator = request.user
        dept = departments.set_integration(ctx.engine, operator, code, data.integration, data.nats_public_key)
        ctx.nats_access_changed()
        if dept.integration != "nats":
            return shaped(DepartmentOut, dept)
        # what the department's system needs to connect (it may use only this consumer and inbox),
        # and the key every event it receives is signed with (docs/integration.md)
        return shaped(
            DepartmentOut,
            dept.model_dump()
            | {
                "subject": department_subject(dept.code),
                "consumer": department_consumer(dept.code),
                "inbox_prefix": department_inbox_prefix(dept.code),
                "nats_url": ctx.settings.nats_url_for_points,
                "hub_public_key": verify_key_to_text(ctx.key.verify_key),
            },
        )

    @get("/nodes", sync_to_thread=True)
    def api_nodes(self, ctx: Ctx) -> list[NodeOut]:
        with Session(ctx.engine) as session:
            return [shaped(NodeOut, n) for n in session.exec(select(Node).order_by(Node.id)).all()]

    @post("/nodes/{node_id:str}/revoke", sync_to_thread=True, status_code=200)
    def api_revoke(self, request: HubRequest, ctx: Ctx, node_id: FromPath[str], data: JSONBody[RevokeIn]) -> NodeOut:
        operator = request.user
        node = nodes.revoke_node(ctx.engine, operator, node_id, data.reason)
        ctx.nats_access_changed()
        return shaped(NodeOut, node)

    @post("/nodes/{node_id:str}/link", sync_to_thread=True, status_code=200)
    def api_link_mode(self, request: HubRequest, ctx: Ctx, node_id: FromPath[str], data: JSONBody[LinkModeIn]) -> NodeOut:
        """Metered mode for a point: records go at once, material files only in ``hours``."""
        operator = request.user
        return shaped(NodeOut, nodes.set_link_mode(ctx.engine, operator, node_id, data.metered, data.hours))

    @post("/nodes/{node_id:str}/replacement-code", sync_to_thread=True, status_code=201)
    def api_replacement_code(self, request: HubRequest, ctx: Ctx, node_id: FromPath[str]) -> SlipOut:
        """A one-time code for new hardware at an enrolled point; the device restores its history."""
        operator = request.user
        code, expires = enrolment.create_replacement_code(ctx.engine, node_id, operator.username)
        return shaped(SlipOut, ctx.enrolment_slip(code, node_id, expires, replacement=True))

    @post("/enrolment-codes", sync_to_thread=True, status_code=201)
    def api_create_code(self, request: HubRequest, ctx: Ctx, data: JSONBody[EnrolmentCodeIn]) -> SlipOut:
        operator = request.user
        code, expires = enrolment.create_code(ctx.engine, data.node_id, data.name, data.kind, data.parent, operator.username)
        return shaped(SlipOut, ctx.enrolment_slip(code, data.node_id, expires))


class SupervisionApi(Controller):
    guards = [requires_role("operator")]

    @get("/applications", sync_to_thread=True)
    def api_applications(self, ctx: Ctx, receipt_no: FromQuery[str | None] = None) -> list[ApplicationOut]:
        with Session(ctx.engine) as session:
            query = select(Application).order_by(Application.received_at)
            if receipt_no:
                query = query.where(Application.receipt_no == receipt_no)
            return [application_out(a) for a in session.exec(query).all()]

    @get("/dashboard", sync_to_thread=True)
    def api_dashboard(self, ctx: Ctx) -> DashboardOut:
        """The operator's home in figures: node health, cases by township and county, late cases,
        fees collected vs remitted, open complaints and poor evaluations (definitions: docs/operations.md)."""
        board = dashboard.dashboard(ctx.engine, timedelta(minutes=ctx.settings.silent_minutes))
        return shaped(DashboardOut, board | {"hub_nats_connected": ctx.sync.connected})

    @get("/fees", sync_to_thread=True)
    def api_fees(self, ctx: Ctx) -> list[FeeSummaryOut]:
        """Per node, in fen: collected, refunded, counted at closes, discrepancies, remitted, unremitted, and
        the cash / e-payment split with the cash still outstanding (docs/operations.md)."""
        return [shaped(FeeSummaryOut, row) for row in fees.fee_summary(ctx.engine)]

    @get("/complaints", sync_to_thread=True)
    def api_complaints(self, ctx: Ctx) -> list[ComplaintOut]:
        with Session(ctx.engine) as session:
            return [shaped(ComplaintOut, c) for c in session.exec(select(Complaint).order_by(col(Complaint.filed_at))).all()]

    @post("/complaints/{complaint_id:str}/answer", sync_to_thread=True, status_code=200)
    def api_answer_complaint(self, request: HubRequest, ctx: Ctx, complaint_id: FromPath[str], data: JSONBody[AnswerIn]) -> ComplaintOut:
        """Answer a complaint (the county answers within 24 hours of its filing at the window)."""
        operator = request.user
        return shaped(ComplaintOut, supervision.answer_complaint(ctx.engine, operator, complaint_id, data.answer))

    @post("/evaluations/{application_id:str}/follow-up", sync_to_thread=True, status_code=200, opt={"actions": ()})
    def api_follow_up(self, request: HubRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[FollowUpIn]) -> EvaluationOut:
        """Record the follow-up (回访整改) of a poor evaluation."""
        operator = request.user
        return shaped(EvaluationOut, supervision.follow_up_evaluation(ctx.engine, operator, application_id, data.follow_up))

    @get("/evaluations", sync_to_thread=True)
    def api_evaluations(self, ctx: Ctx) -> list[EvaluationOut]:
        with Session(ctx.engine) as session:
            return [shaped(EvaluationOut, e) for e in session.exec(select(Evaluation).order_by(col(Evaluation.given_at))).all()]

    @get("/alerts", sync_to_thread=True)
    def api_alerts(self, ctx: Ctx) -> list[AlertOut]:
        with Session(ctx.engine) as session:
            return [shaped(AlertOut, a) for a in session.exec(select(Alert).order_by(col(Alert.id).desc()).limit(500)).all()]

    @get("/quarantine", sync_to_thread=True)
    def api_quarantine(self, ctx: Ctx) -> list[QuarantineOut]:
        with Session(ctx.engine) as session:
            return [shaped(QuarantineOut, q.model_dump(exclude={"raw"}) | {"size": len(q.raw)}) for q in session.exec(select(Quarantine)).all()]


CONTROLLERS = [
    SessionApi,
    PublicApi,
    ClerkApi,
    CaseApi,
    CalendarApi,
    CatalogAdminApi,
    AccessApi,
    SupervisionApi,
    *esupervision.API,
    *portal.API,
    *booking.API,
    *staff.API,
    *exports.API,
]
