"""JSON API of the hub. Thin: parse, call the domain, return a struct."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import File
from sqlmodel import Session, col, select

from sync_protocol import ca_fingerprint, department_consumer, department_inbox_prefix, department_subject, verify_key_to_text
from weblayer.display import mask_id
from weblayer.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from weblayer.throttle import client_address

from .. import (
    actions,
    approval,
    auth,
    blobs,
    catalog,
    dashboard,
    departments,
    enrolment,
    fees,
    history,
    metrics,
    nodes,
    originals,
    public,
    supervision,
    workdays,
)
from ..models import Alert, Application, Complaint, Department, Evaluation, Licence, Node, Quarantine
from .context import api_user, hub


class LoginIn(msgspec.Struct):
    username: str
    password: str


class DecisionIn(msgspec.Struct):
    decision: str
    reason: str = ""


class SupplementIn(msgspec.Struct):
    missing: list[str]


class EnrolmentCodeIn(msgspec.Struct):
    node_id: str
    name: str
    kind: str
    parent: str | None = None


class RevokeIn(msgspec.Struct):
    reason: str


class LinkModeIn(msgspec.Struct):
    metered: bool
    hours: str = ""  # "HH-HH", Beijing time: when files may go while metered ("" = only on request)


class EnrolmentIn(msgspec.Struct):
    code: str
    public_key: str
    nats_public_key: str


def application_out(app: Application) -> dict[str, Any]:
    out = app.model_dump()
    out["applicant_id_number"] = mask_id(app.applicant_id_number)
    return out


@post("/api/login", sync_to_thread=True, status_code=200)
def api_login(request: Request, data: JSONBody[LoginIn]) -> dict[str, Any]:
    ctx = hub(request)
    user, token = ctx.throttle.attempt(
        data.username, client_address(request), lambda: auth.log_in(ctx.engine, data.username, data.password), NotAuthenticated
    )
    return {"token": token, "username": user.username, "role": user.role, "department": user.department}


@get("/api/health", sync_to_thread=False)
def api_health(request: Request) -> dict[str, Any]:
    return {"status": "ok", "nats_connected": hub(request).sync.connected}


def deadline_out(d: Any) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"due": d.due.isoformat(), "estimated": d.estimated, "remaining_working_days": d.remaining, "card": d.card}


@get("/api/queue", sync_to_thread=True)
def api_queue(request: Request) -> list[dict[str, Any]]:
    """The clerk's department queue: its work still to do first, most urgent deadline first
    (official working days). ``deadline`` is the item's limit; ``pre_review_deadline`` the
    2-working-day limit for 受理 while the case awaits it; ``task`` the department's own part."""
    user = api_user(request, "clerk")
    return [
        application_out(a) | {"deadline": deadline_out(c.decision), "pre_review_deadline": deadline_out(c.pre_review), "task": t.model_dump()}
        for a, t, c in approval.queue_with_deadlines(hub(request).engine, user)
    ]


class CalendarIn(msgspec.Struct):
    year: int
    holidays: list[str]
    workdays: list[str] = []


@get("/api/calendar", sync_to_thread=True)
def api_calendar(request: Request) -> dict[str, Any]:
    api_user(request, "operator")
    return workdays.calendar_status(workdays.load_calendar(hub(request).engine))


@post("/api/calendar", sync_to_thread=True, status_code=201)
def api_load_calendar(request: Request, data: JSONBody[CalendarIn]) -> dict[str, Any]:
    """Load the official holiday arrangement of a year the holiday library does not know yet."""
    operator = api_user(request, "operator")
    engine = hub(request).engine
    stored = workdays.load_year(engine, data.year, data.holidays, data.workdays, operator.username)
    return {"year": data.year, "days": stored} | workdays.calendar_status(workdays.load_calendar(engine))


@get("/api/applications", sync_to_thread=True)
def api_applications(request: Request, receipt_no: FromQuery[str | None] = None) -> list[dict[str, Any]]:
    api_user(request, "operator")
    with Session(hub(request).engine) as session:
        query = select(Application).order_by(Application.received_at)
        if receipt_no:
            query = query.where(Application.receipt_no == receipt_no)
        return [application_out(a) for a in session.exec(query).all()]


@get("/api/applications/{application_id:str}", sync_to_thread=True)
def api_application(request: Request, application_id: FromPath[str]) -> dict[str, Any]:
    user = api_user(request, "clerk", "operator")
    ctx = hub(request)
    app = approval.get_application(ctx.engine, user, application_id)
    with Session(ctx.engine) as session:
        materials = blobs.materials_of(session, application_id)
    tasks = approval.case_tasks(ctx.engine, application_id)
    licences = approval.licences_used(ctx.engine, app)
    return application_out(app) | {
        "materials": materials,
        "materials_complete": all(m["arrived"] for m in materials),
        "tasks": tasks,
        "licences_used": licences,
    }


@get("/api/applications/{application_id:str}/id-number", sync_to_thread=True)
def api_reveal_id(request: Request, application_id: FromPath[str]) -> dict[str, str]:
    """The applicant's full ID number, for a clerk of a department deciding the case; logged."""
    user = api_user(request, "clerk")
    return {"applicant_id_number": approval.reveal_id_number(hub(request).engine, user, application_id)}


@get("/api/applications/{application_id:str}/materials/{sha256:str}", sync_to_thread=True, media_type="application/octet-stream")
def api_material_file(request: Request, application_id: FromPath[str], sha256: FromPath[str]) -> File:
    """The verified attachment bytes, for a clerk of the deciding department (or an operator)."""
    user = api_user(request, "clerk", "operator")
    return material_file(request, user, application_id, sha256)


@post("/api/applications/{application_id:str}/materials/{sha256:str}/original", sync_to_thread=True, status_code=202)
def api_request_original(request: Request, application_id: FromPath[str], sha256: FromPath[str]) -> dict[str, Any]:
    """Ask the point for the photo as taken behind an optimised material; it arrives as a
    material of its own ("…（原图）") when the point's link allows."""
    user = api_user(request, "clerk")
    return originals.request_original(hub(request).engine, user, application_id, sha256).model_dump()


def material_file(request: Request, user: Any, application_id: str, sha256: str) -> File:
    ctx = hub(request)
    approval.get_application(ctx.engine, user, application_id)  # department check
    with Session(ctx.engine) as session:
        material = next((m for m in blobs.materials_of(session, application_id) if m["sha256"] == sha256), None)
    if material is None:
        raise NotFound("这个办件没有这份材料")
    path = blobs.blob_file(ctx.settings.blobs_dir, ctx.engine, sha256)
    if path is None:
        raise Conflict("这份材料还在从服务点传输中，尚未到齐，请稍后再看")
    return File(path=path, media_type=material["media_type"], content_disposition_type="inline", filename=material["filename"] or f"{sha256[:12]}")


def clerk_action(request: Request, act: Callable[[Any, Any], Application]) -> dict[str, Any]:
    """One clerk action on a case: the domain call, then the downlink worker is woken."""
    ctx = hub(request)
    app = act(ctx, api_user(request, "clerk"))
    ctx.sync.wake_downlink()
    return application_out(app)


@post("/api/applications/{application_id:str}/decision", sync_to_thread=True, status_code=200)
def api_decide(request: Request, application_id: FromPath[str], data: JSONBody[DecisionIn]) -> dict[str, Any]:
    return clerk_action(request, lambda ctx, user: approval.decide(ctx.engine, user, application_id, data.decision, data.reason, ctx.key))


class NotAcceptIn(msgspec.Struct):
    reason: str


@post("/api/applications/{application_id:str}/acceptance", sync_to_thread=True, status_code=200)
def api_accept(request: Request, application_id: FromPath[str]) -> dict[str, Any]:
    """受理 by the case's lead department."""
    return clerk_action(request, lambda ctx, user: approval.accept(ctx.engine, user, application_id))


@post("/api/applications/{application_id:str}/non-acceptance", sync_to_thread=True, status_code=200)
def api_not_accept(request: Request, application_id: FromPath[str], data: JSONBody[NotAcceptIn]) -> dict[str, Any]:
    """不予受理, with the reason the citizen is given."""
    return clerk_action(request, lambda ctx, user: approval.not_accept(ctx.engine, user, application_id, data.reason))


@post("/api/applications/{application_id:str}/supplement-request", sync_to_thread=True, status_code=200)
def api_request_supplement(request: Request, application_id: FromPath[str], data: JSONBody[SupplementIn]) -> dict[str, Any]:
    return clerk_action(request, lambda ctx, user: approval.request_supplement(ctx.engine, user, application_id, data.missing))


@get("/api/public/progress", sync_to_thread=True)
def api_public_progress(request: Request, receipt_no: FromQuery[str], id_last4: FromQuery[str]) -> dict[str, Any]:
    """Public: a case's progress by receipt number plus the last 4 characters of the ID number
    (5 wrong tries per receipt number, or 20 per address, in 15 minutes: then 429)."""
    ctx = hub(request)
    return ctx.lookups.attempt(receipt_no, client_address(request), lambda: public.progress(ctx.engine, receipt_no, id_last4), NotFound)


@get("/api/public/decisions", sync_to_thread=True)
def api_public_decisions(request: Request) -> list[dict[str, Any]]:
    """Public: results publicity (结果公示) of the last 90 days, without personal data."""
    return public.publicity(hub(request).engine)


@get("/api/licences", sync_to_thread=True)
def api_licences(request: Request, holder_id: FromQuery[str]) -> list[dict[str, Any]]:
    """The licence library for one holder (so a later application can reuse a result)."""
    api_user(request, "clerk", "operator")
    with Session(hub(request).engine) as session:
        return [lic.model_dump() for lic in session.exec(select(Licence).where(Licence.holder_id == holder_id.strip().upper())).all()]


@get("/api/catalog", sync_to_thread=True)
def api_catalog(request: Request) -> dict[str, Any]:
    """The catalog in force (public: it is the county's published service guide)."""
    return catalog.published_catalog(hub(request).engine)


@get("/api/catalog/versions", sync_to_thread=True)
def api_catalog_versions(request: Request) -> list[dict[str, Any]]:
    api_user(request, "operator")
    return catalog.versions(hub(request).engine)


@put("/api/catalog/items/{code:str}", sync_to_thread=True, status_code=200)
def api_publish_item(request: Request, code: FromPath[str], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    """Add or change one item; the catalog is published as a new version and sent to every node."""
    operator = api_user(request, "operator")
    ctx = hub(request)
    if data.get("code", code) != code:
        raise InvalidInput("请求路径与内容中的事项编码不一致", field="code")
    published = catalog.publish_item(ctx.engine, operator, data | {"code": code}, str(data.get("note", "")))
    ctx.sync.wake_downlink()
    return published


@get("/api/dashboard", sync_to_thread=True)
def api_dashboard(request: Request) -> dict[str, Any]:
    """The operator's home in figures: node health, cases by township and county, late cases,
    fees collected vs remitted, open complaints and poor evaluations (definitions: docs/operations.md)."""
    api_user(request, "operator")
    ctx = hub(request)
    return dashboard.dashboard(ctx.engine, timedelta(minutes=ctx.settings.silent_minutes)) | {"hub_nats_connected": ctx.sync.connected}


@get("/metrics", sync_to_thread=True, media_type="text/plain; version=0.0.4; charset=utf-8", include_in_schema=False)
def prometheus_metrics(request: Request) -> str:
    """Prometheus scrape target: node health, cases, fees (no personal data; see central/metrics.py)."""
    ctx = hub(request)
    return metrics.render(dashboard.dashboard(ctx.engine, timedelta(minutes=ctx.settings.silent_minutes)))


class IntegrationIn(msgspec.Struct):
    integration: str
    nats_public_key: str | None = None


@get("/api/departments", sync_to_thread=True)
def api_departments(request: Request) -> list[dict[str, Any]]:
    api_user(request, "operator", "clerk")
    with Session(hub(request).engine) as session:
        return [
            d.model_dump() | {"subject": department_subject(d.code) if d.integration == "nats" else None}
            for d in session.exec(select(Department).order_by(Department.code)).all()
        ]


@put("/api/departments/{code:str}/integration", sync_to_thread=True, status_code=200)
def api_set_integration(request: Request, code: FromPath[str], data: JSONBody[IntegrationIn]) -> dict[str, Any]:
    """ "nats": the department's own system receives its cases on yiwang.dept.<code>.cases (docs/integration.md)."""
    operator = api_user(request, "operator")
    dept = departments.set_integration(hub(request).engine, operator, code, data.integration, data.nats_public_key)
    hub(request).nats_access_changed()
    if dept.integration != "nats":
        return dept.model_dump() | {"subject": None}
    # what the department's system needs to connect (it may use only this consumer and inbox),
    # and the key every event it receives is signed with (docs/integration.md)
    return dept.model_dump() | {
        "subject": department_subject(dept.code),
        "consumer": department_consumer(dept.code),
        "inbox_prefix": department_inbox_prefix(dept.code),
        "nats_url": hub(request).settings.nats_url,
        "hub_public_key": verify_key_to_text(hub(request).key.verify_key),
    }


@get("/api/nodes", sync_to_thread=True)
def api_nodes(request: Request) -> list[dict[str, Any]]:
    api_user(request, "operator")
    with Session(hub(request).engine) as session:
        return [n.model_dump() for n in session.exec(select(Node).order_by(Node.id)).all()]


@post("/api/nodes/{node_id:str}/revoke", sync_to_thread=True, status_code=200)
def api_revoke(request: Request, node_id: FromPath[str], data: JSONBody[RevokeIn]) -> dict[str, Any]:
    operator = api_user(request, "operator")
    node = nodes.revoke_node(hub(request).engine, operator, node_id, data.reason)
    hub(request).nats_access_changed()
    return node.model_dump()


@post("/api/nodes/{node_id:str}/link", sync_to_thread=True, status_code=200)
def api_link_mode(request: Request, node_id: FromPath[str], data: JSONBody[LinkModeIn]) -> dict[str, Any]:
    """Metered mode for a point: records go at once, material files only in ``hours``."""
    operator = api_user(request, "operator")
    return nodes.set_link_mode(hub(request).engine, operator, node_id, data.metered, data.hours).model_dump()


@post("/api/nodes/{node_id:str}/replacement-code", sync_to_thread=True, status_code=201)
def api_replacement_code(request: Request, node_id: FromPath[str]) -> dict[str, Any]:
    """A one-time code for new hardware at an enrolled point; the device restores its history."""
    operator = api_user(request, "operator")
    code, expires = enrolment.create_replacement_code(hub(request).engine, node_id, operator.username)
    return hub(request).enrolment_slip(code, node_id, expires, replacement=True)


@get("/api/nodes/{node_id:str}/history", sync_to_thread=True)
def api_node_history(request: Request, node_id: FromPath[str], direction: FromQuery[str] = "up", after: FromQuery[int] = 0) -> dict[str, Any]:
    """Raw batches of one node's chain, for its replacement device (``Authorization: Restore <token>``)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("restore "):
        raise NotAuthenticated("需要设备恢复令牌")
    ctx = hub(request)
    enrolment.node_for_restore_token(ctx.engine, node_id, header[8:].strip())
    return history.node_history(ctx.engine, node_id, direction, after)


@get("/api/fees", sync_to_thread=True)
def api_fees(request: Request) -> list[dict[str, Any]]:
    """Per node, in fen: collected, refunded, counted at closes, discrepancies, remitted, unremitted, and
    the cash / e-payment split with the cash still outstanding (docs/operations.md)."""
    api_user(request, "operator")
    return fees.fee_summary(hub(request).engine)


@get("/api/complaints", sync_to_thread=True)
def api_complaints(request: Request) -> list[dict[str, Any]]:
    api_user(request, "operator")
    with Session(hub(request).engine) as session:
        return [c.model_dump() for c in session.exec(select(Complaint).order_by(col(Complaint.filed_at))).all()]


class AnswerIn(msgspec.Struct):
    answer: str


class FollowUpIn(msgspec.Struct):
    follow_up: str


@post("/api/complaints/{complaint_id:str}/answer", sync_to_thread=True, status_code=200)
def api_answer_complaint(request: Request, complaint_id: FromPath[str], data: JSONBody[AnswerIn]) -> dict[str, Any]:
    """Answer a complaint (the county answers within 24 hours of its filing at the window)."""
    operator = api_user(request, "operator")
    return supervision.answer_complaint(hub(request).engine, operator, complaint_id, data.answer).model_dump()


@post("/api/evaluations/{application_id:str}/follow-up", sync_to_thread=True, status_code=200)
def api_follow_up(request: Request, application_id: FromPath[str], data: JSONBody[FollowUpIn]) -> dict[str, Any]:
    """Record the follow-up (回访整改) of a poor evaluation."""
    operator = api_user(request, "operator")
    return supervision.follow_up_evaluation(hub(request).engine, operator, application_id, data.follow_up).model_dump()


@get("/api/actions", sync_to_thread=True)
def api_actions(request: Request, target: FromQuery[str | None] = None) -> list[dict[str, Any]]:
    """The action log: every operator action and clerk decision, newest first."""
    api_user(request, "operator")
    return [a.model_dump() for a in actions.recent_actions(hub(request).engine, 500, target)]


@get("/api/evaluations", sync_to_thread=True)
def api_evaluations(request: Request) -> list[dict[str, Any]]:
    api_user(request, "operator")
    with Session(hub(request).engine) as session:
        return [e.model_dump() for e in session.exec(select(Evaluation).order_by(col(Evaluation.given_at))).all()]


@get("/api/alerts", sync_to_thread=True)
def api_alerts(request: Request) -> list[dict[str, Any]]:
    api_user(request, "operator")
    with Session(hub(request).engine) as session:
        return [a.model_dump() for a in session.exec(select(Alert).order_by(col(Alert.id).desc()).limit(500)).all()]


@get("/api/quarantine", sync_to_thread=True)
def api_quarantine(request: Request) -> list[dict[str, Any]]:
    api_user(request, "operator")
    with Session(hub(request).engine) as session:
        return [q.model_dump(exclude={"raw"}) | {"size": len(q.raw)} for q in session.exec(select(Quarantine)).all()]


@post("/api/enrolment-codes", sync_to_thread=True, status_code=201)
def api_create_code(request: Request, data: JSONBody[EnrolmentCodeIn]) -> dict[str, Any]:
    operator = api_user(request, "operator")
    code, expires = enrolment.create_code(hub(request).engine, data.node_id, data.name, data.kind, data.parent, operator.username)
    return hub(request).enrolment_slip(code, data.node_id, expires)


@get("/api/enrolment/ca", sync_to_thread=True)
def api_county_ca(request: Request) -> dict[str, str]:
    """Public: the county CA. A node accepts it only if its fingerprint is the one on its slip."""
    pem = hub(request).county_ca()
    return {"ca": pem, "fingerprint": ca_fingerprint(pem)}


@post("/api/enrolment", sync_to_thread=True, status_code=200)
def api_enrol(request: Request, data: JSONBody[EnrolmentIn]) -> dict[str, Any]:
    """Called by `yiwang node enroll`: the code proves the operator's consent, the key is the node's."""
    ctx = hub(request)
    ca = ctx.county_ca()  # before the code is spent
    node, restore_token = enrolment.redeem_code(ctx.engine, data.code, data.public_key, data.nats_public_key)
    ctx.nats_access_changed()
    return {
        "restore_token": restore_token,
        "node_id": node.id,
        "name": node.name,
        "kind": node.kind,
        "parent": node.parent,
        "hub_public_key": verify_key_to_text(ctx.key.verify_key),
        "nats_url": ctx.settings.nats_url,
        "progress_url": ctx.settings.progress_url,  # what the point's slips point citizens at
        "nats_ca": ca,
        "catalog": catalog.published_catalog(ctx.engine),
    }


ROUTES = [
    api_login,
    api_health,
    api_queue,
    api_calendar,
    api_load_calendar,
    api_applications,
    api_application,
    api_reveal_id,
    api_material_file,
    api_request_original,
    api_decide,
    api_accept,
    api_not_accept,
    api_request_supplement,
    api_public_progress,
    api_public_decisions,
    api_licences,
    api_catalog,
    api_catalog_versions,
    api_publish_item,
    api_dashboard,
    prometheus_metrics,
    api_departments,
    api_set_integration,
    api_nodes,
    api_replacement_code,
    api_node_history,
    api_revoke,
    api_link_mode,
    api_fees,
    api_complaints,
    api_answer_complaint,
    api_evaluations,
    api_follow_up,
    api_actions,
    api_alerts,
    api_quarantine,
    api_create_code,
    api_county_ca,
    api_enrol,
]
