"""Back-office decisions. The decision and its downlink event commit together."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from nacl.signing import SigningKey

from sync_protocol import DECISION_MADE, RESULT_ISSUED, SUPPLEMENT_REQUESTED, seal_licence

from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .models import Application, CatalogItem, Licence, User
from .workdays import Deadline, deadline_of, load_calendar

ISSUER = "县级政务服务中枢"

DECISIONS = {"approve": "approved", "deny": "denied"}


def department_queue(engine: Engine, user: User) -> list[Application]:
    if user.role != "clerk" or not user.department:
        raise Forbidden("只有部门审批人员可以查看审批队列")
    with Session(engine) as session:
        return list(session.exec(select(Application).where(Application.department == user.department).order_by(Application.received_at)).all())


OPEN = ("received", "supplement_requested")


def queue_with_deadlines(engine: Engine, user: User) -> list[tuple[Application, Deadline]]:
    """The department's cases with their time limits, open ones first, most urgent first."""
    apps = department_queue(engine, user)
    calendar = load_calendar(engine)
    with Session(engine) as session:
        limits = {i.code: i.time_limit_days for i in session.exec(select(CatalogItem)).all()}
    rows = [(a, deadline_of(calendar, a.submitted_at, limits.get(a.item_code, 20), a.status not in OPEN)) for a in apps]
    return sorted(rows, key=lambda r: (r[0].status not in OPEN, r[1].due, r[0].received_at))


def get_application(engine: Engine, user: User, application_id: str) -> Application:
    with Session(engine) as session:
        app = session.get(Application, application_id)
    if app is None:
        raise NotFound("没有找到这个办件")
    if user.role == "clerk" and app.department != user.department:
        raise Forbidden("这个办件不属于您的部门")
    return app


def _own_case(session: Session, user: User, application_id: str, status: str, refusal: str) -> Application:
    """The case, if it is this clerk's department's and in ``status``; else the reason why not."""
    app = session.get(Application, application_id)
    if app is None:
        raise NotFound("没有找到这个办件")
    if user.role != "clerk" or app.department != user.department:
        raise Forbidden("只能处理本部门的办件")
    if app.status != status:
        raise Conflict(f"这个办件当前状态（{app.status}）{refusal}")
    return app


def request_supplement(engine: Engine, user: User, application_id: str, missing: list[str]) -> Application:
    """补正: send the case back to the window with the COMPLETE list of what is missing, at once."""
    missing = [m.strip() for m in missing if m.strip()]
    if not missing:
        raise InvalidInput("请列出需要补正的全部材料，每行一项", field="missing")
    with transaction(engine) as session:
        app = _own_case(session, user, application_id, "received", "不能要求补正")
        now = utcnow()
        app.status = "supplement_requested"
        app.supplement_json = json.dumps(missing, ensure_ascii=False)
        session.add(app)
        queue_downlink(session, app.node_id, SUPPLEMENT_REQUESTED, {"application_id": app.id, "missing": missing, "by": user.display_name, "at": now})
    return app


def issue_licence(session: Session, app: Application, key: SigningKey, issued_at: str) -> Licence:
    """Sign the result as an e-licence, keep it in the library, and send it to the node — in the
    caller's (the approval's) transaction."""
    licence = Licence(holder_id=app.applicant_id_number, holder_name=app.applicant_name, item_code=app.item_code, application_id=app.id, issued_at=issued_at)
    session.add(licence)
    session.flush()  # the id numbers the licence
    licence.licence_no = f"YW{issued_at[:4]}{licence.id:08d}"
    licence.text = seal_licence({
        "licence_no": licence.licence_no, "kind": "办理结果", "item_code": app.item_code, "item_name": app.item_name,
        "holder_name": app.applicant_name, "holder_id": app.applicant_id_number, "application_id": app.id,
        "issued_at": issued_at, "issuer": ISSUER,
    }, key)
    session.add(licence)
    queue_downlink(session, app.node_id, RESULT_ISSUED, {"application_id": app.id, "licence_no": licence.licence_no, "licence": licence.text})
    return licence


def decide(engine: Engine, user: User, application_id: str, decision: str, reason: str, key: SigningKey | None = None) -> Application:
    """Approve or deny; a denial must say why (不予许可说明原因)."""
    if decision not in DECISIONS:
        raise InvalidInput("审批结果只能是“批准”或“不予批准”", field="decision")
    reason = reason.strip()
    if decision == "deny" and not reason:
        raise InvalidInput("不予批准必须填写理由", field="reason")
    if len(reason) > 500:
        raise InvalidInput("理由不能超过 500 字", field="reason")
    with transaction(engine) as session:
        app = _own_case(session, user, application_id, "received", "不能重复审批")
        now = utcnow()
        app.status = DECISIONS[decision]
        app.decided_at = now
        app.decided_by = user.username
        app.decision_reason = reason
        session.add(app)
        queue_downlink(
            session,
            app.node_id,
            DECISION_MADE,
            {"application_id": app.id, "decision": app.status, "reason": reason, "decided_by": user.display_name, "decided_at": now},
        )
        if app.status == "approved" and key is not None:
            issue_licence(session, app, key, now)
    return app
