"""Back-office work on a case: 受理 / 不予受理, 补正, and the decision — stage by stage
(central/stages.py), each stage by one or more departments in parallel (并联审批) or by the
township. Every action, its downlink event and its audit entry commit together; every change of
state is a move of central/procedure.py's table.

Where the county accepts, the case's lead department does the pre-review while the case is in
its first stage: accept, not accept with a reason, or ask for the complete list of missing
materials. Where the township accepts, its first-stage decision accepts (or refuses acceptance).
Each department of the current stage then decides its own task; the stage passes when every task
of it is approved, and the case is denied as soon as one part denies (the other tasks close). A
single-department first stage may be decided straight from pre-review: accepting and deciding at
once (当场受理并办结).
"""

from __future__ import annotations

import json

from nacl.signing import SigningKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import (
    APPLICATION_ACCEPTED,
    APPLICATION_NOT_ACCEPTED,
    DECISION_MADE,
    RESULT_ISSUED,
    SUPPLEMENT_REQUESTED,
    parse_time,
    seal_licence,
    unprintable,
)
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import documents
from .actions import record_action
from .clock import utcnow
from .clocks import Clocks, clocks_for, next_stage, open_supplement, start
from .db import transaction
from .delegation import ISSUER, keep_township_result
from .departments import notify
from .downlink import queue_downlink
from .fees import case_fees
from .models import Application, ApprovalTask, CatalogItem, Department, Licence, User
from .ownership import Violation
from .procedure import DECISION_ACTIONS, OPEN, move
from .stages import TOWNSHIP, assign, at_township, case_stages, township_of

DECISIONS = {"approve": "approved", "deny": "denied"}
MAX_REASON = 500
MAX_SUPPLEMENT_ITEMS, MAX_SUPPLEMENT_CHARS = 50, 2000


def department_queue(engine: Engine, user: User) -> list[tuple[Application, ApprovalTask]]:
    """The cases in which the clerk's department has a task of a stage the case has reached."""
    if user.role != "clerk" or not user.department:
        raise Forbidden("只有部门审批人员可以查看审批队列")
    with Session(engine) as session:
        rows = session.exec(
            select(Application, ApprovalTask)
            .join(ApprovalTask, col(ApprovalTask.application_id) == col(Application.id))
            .where(ApprovalTask.department == user.department, col(ApprovalTask.stage) <= col(Application.stage))
        ).all()
        return [(a, t) for a, t in rows]


def queue_with_deadlines(engine: Engine, user: User) -> list[tuple[Application, ApprovalTask, Clocks]]:
    """The department's cases with their time limits: work still to do first, most urgent first."""
    queue = department_queue(engine, user)
    clocks = clocks_for(engine, [a for a, _ in queue])
    rows = [(a, t, clocks[a.id]) for a, t in queue]
    return sorted(rows, key=lambda r: (not _to_do(r[0], r[1]), r[2].most_urgent.due, r[0].received_at))


def _to_do(app: Application, task: ApprovalTask) -> bool:
    return app.status in OPEN and task.status == "pending" and task.stage == app.stage


def tasks_of(session: Session, application_id: str) -> list[ApprovalTask]:
    return list(session.exec(select(ApprovalTask).where(ApprovalTask.application_id == application_id)).all())


def get_application(engine: Engine, user: User, application_id: str) -> Application:
    with Session(engine) as session:
        app = session.get(Application, application_id)
        if app is None:
            raise NotFound("没有找到这个办件")
        if user.role == "clerk" and user.department not in {t.department for t in tasks_of(session, application_id)}:
            raise Forbidden("这个办件不属于您的部门")
    return app


def reveal_id_number(engine: Engine, user: User, application_id: str) -> str:
    """The applicant's full resident ID, for a clerk of a department that decides the case (to
    check an age of 80 for 高龄津贴, or run the household check); shown masked everywhere else.
    Every view is in the action log."""
    if user.role != "clerk":
        raise Forbidden("完整身份证号只对办理该事项的部门审批人员显示")
    app = get_application(engine, user, application_id)  # the clerk's department has a task on it
    with transaction(engine) as session:
        record_action(session, user, "case.id_viewed", app.id, department=user.department)
    return app.applicant_id_number


def case_tasks(engine: Engine, application_id: str) -> list[dict[str, str | int | None]]:
    """Each stage's deciders and their part, with names, in the order of the stages, for the case page."""
    with Session(engine) as session:
        app = session.get(Application, application_id)
        names = {d.code: d.name for d in session.exec(select(Department)).all()}
        township = township_of(session, app.node_id) if app is not None else None
        names[TOWNSHIP] = f"乡镇（{township.name}）" if township is not None else "乡镇"
        stages = case_stages(app) if app is not None else []
        tasks = sorted(tasks_of(session, application_id), key=lambda t: t.stage)
        return [
            t.model_dump()
            | {"department_name": names.get(t.department, t.department), "stage_name": stages[t.stage]["name"] if t.stage < len(stages) else ""}
            for t in tasks
        ]


def _case(session: Session, user: User, application_id: str, action: str, refusal: str, lead: bool) -> tuple[Application, str]:
    """The case and the state ``action`` leads to, if this clerk's department may take it now;
    else the reason why not."""
    app = session.get(Application, application_id)
    if app is None:
        raise NotFound("没有找到这个办件")
    departments = {t.department for t in tasks_of(session, application_id)}
    if user.role == "clerk" and departments == {TOWNSHIP} and app.department == user.department:
        raise Forbidden("这个事项由乡镇办理（即办件当场办结或乡镇审批），县级部门不审批")
    if user.role != "clerk" or user.department not in departments:
        raise Forbidden("只能处理本部门的办件")
    if at_township(app) and app.status in OPEN:
        raise Conflict(f"这个办件在乡镇{case_stages(app)[app.stage]['name']}环节，由乡镇办理；县级部门待乡镇办完后处理")
    if lead and (app.department != user.department or app.stage != 0):
        raise Forbidden("受理、不予受理和补正由牵头部门办理")
    return app, move(app.status, action, refusal)


def reason_given(reason: str, required: str | None) -> str:
    reason = reason.strip()
    if required and not reason:
        raise InvalidInput(required, field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"理由不能超过 {MAX_REASON} 字", field="reason")
    if unprintable(reason):
        raise InvalidInput("理由中有无法打印的控制字符，请删除后重新输入", field="reason")
    return reason


def _accepted(session: Session, app: Application, by: str, by_name: str, at: str) -> None:
    """受理: the case is taken on (by a county clerk, or a township's first stage); its point is told."""
    app.status = move(app.status, "accept", "不能受理")
    start(session, app, by, at)
    queue_downlink(session, app.node_id, APPLICATION_ACCEPTED, {"application_id": app.id, "by": by_name, "at": at})


def accept(engine: Engine, user: User, application_id: str) -> Application:
    """受理: the lead department takes the case on; the point is told."""
    with transaction(engine) as session:
        app, _ = _case(session, user, application_id, "accept", "不能受理", lead=True)
        _accepted(session, app, user.username, user.display_name, utcnow())
        record_action(session, user, "case.accepted", app.id)
        notify(session, app, tasks_of(session, app.id), "case.accepted")
    return app


def not_accept(engine: Engine, user: User, application_id: str, reason: str) -> Application:
    """不予受理: always with the reason (不予受理说明原因); the case ends here."""
    reason = reason_given(reason, "不予受理必须说明原因")
    with transaction(engine) as session:
        app, _ = _case(session, user, application_id, "not_accept", "不能作不予受理", lead=True)
        _not_accepted(session, app, tasks_of(session, app.id), user.username, user.display_name, reason, utcnow())
        record_action(session, user, "case.not_accepted", app.id, reason=reason)
    return app


def _not_accepted(session: Session, app: Application, tasks: list[ApprovalTask], by: str, by_name: str, reason: str, at: str) -> None:
    """The case ends not accepted (by the county lead, or the township that accepts it); its point is told why."""
    app.status = move(app.status, "not_accept", "不能作不予受理")
    app.decided_at, app.decided_by, app.decision_reason, app.outcome = at, by, reason, "not_accepted"
    session.add(app)
    for task in tasks:
        task.status = "not_accepted" if task.department == TOWNSHIP and task.stage == 0 else "closed"
        session.add(task)
    notify(session, app, tasks, "case.concluded")
    documents.due(session, app.id, "non_acceptance")  # 不予受理通知书
    queue_downlink(session, app.node_id, APPLICATION_NOT_ACCEPTED, {"application_id": app.id, "reason": reason, "by": by_name, "at": at})


def request_supplement(engine: Engine, user: User, application_id: str, missing: list[str]) -> Application:
    """补正: send the case back to the window with the COMPLETE list of what is missing, at once."""
    missing = [m.strip() for m in missing if m.strip()]
    if not missing:
        raise InvalidInput("请列出需要补正的全部材料，每行一项", field="missing")
    if any(unprintable(m) for m in missing):
        raise InvalidInput("补正清单中有无法打印的控制字符，请删除后重新输入", field="missing")
    if len(missing) > MAX_SUPPLEMENT_ITEMS or sum(len(m) for m in missing) > MAX_SUPPLEMENT_CHARS:
        # the list travels to the point and on the 补正材料通知书: within what a record may carry
        raise InvalidInput(f"补正清单最多 {MAX_SUPPLEMENT_ITEMS} 项、共 {MAX_SUPPLEMENT_CHARS} 字，请写材料名称，说明可写在理由里", field="missing")
    with transaction(engine) as session:
        app, status = _case(session, user, application_id, "request_supplement", "不能要求补正", lead=True)
        now = utcnow()
        app.status = status
        app.supplement_json = json.dumps(missing, ensure_ascii=False)
        session.add(app)
        open_supplement(session, app, user.username, now, missing)
        documents.due(session, app.id, "supplement", missing=missing)  # 补正材料通知书
        queue_downlink(session, app.node_id, SUPPLEMENT_REQUESTED, {"application_id": app.id, "missing": missing, "by": user.display_name, "at": now})
        record_action(session, user, "case.supplement_requested", app.id, missing=missing)
    return app


def issue_licence(session: Session, app: Application, key: SigningKey, issued_at: str) -> Licence:
    """Sign the result as an e-licence, keep it in the library, and send it to the node — in the
    caller's (the approval's) transaction."""
    licence = Licence(
        holder_id=app.applicant_id_number, holder_name=app.applicant_name, item_code=app.item_code, application_id=app.id, issued_at=issued_at
    )
    session.add(licence)
    session.flush()  # the id numbers the licence
    licence.licence_no = f"YW{issued_at[:4]}{licence.id:08d}"
    licence.text = seal_licence(
        {
            "licence_no": licence.licence_no,
            "kind": "办理结果",
            "item_code": app.item_code,
            "item_name": app.item_name,
            "holder_name": app.applicant_name,
            "holder_id": app.applicant_id_number,
            "application_id": app.id,
            "issued_at": issued_at,
            "issuer": ISSUER,
        },
        key,
    )
    session.add(licence)
    queue_downlink(session, app.node_id, RESULT_ISSUED, {"application_id": app.id, "licence_no": licence.licence_no, "licence": licence.text})
    return licence


def decide(engine: Engine, user: User, application_id: str, decision: str, reason: str, key: SigningKey | None = None) -> Application:
    """The clerk's department approves or denies its part of the case's current stage; a denial
    must say why (不予许可说明原因)."""
    if decision not in DECISIONS:
        raise InvalidInput("审批结果只能是“批准”（approve）或“不予批准”（deny）", field="decision")
    reason = reason_given(reason, "不予批准必须填写理由" if decision == "deny" else None)
    with transaction(engine) as session:
        app, _ = _case(session, user, application_id, decision, "不能审批", lead=False)
        tasks = tasks_of(session, app.id)
        task = next(t for t in tasks if t.department == user.department)
        if task.stage > app.stage:
            raise Conflict(f"这个办件还在{case_stages(app)[app.stage]['name']}环节，尚未到本部门的{case_stages(app)[task.stage]['name']}环节")
        if task.status != "pending":
            raise Conflict("本部门已经审批过这个办件，不能重复审批")
        if decision == "approve" and not (fee := case_fees(session, app))["paid"]:
            raise Conflict(
                f"本事项须收费 {fee['required_fen'] / 100:.2f} 元，服务点的收费{'已作废或已退还' if fee['receipts'] else '尚未收取'}：待服务点收费后再批准（可不予批准并说明理由）"
            )
        now = utcnow()
        if app.status == "received":
            if len([t for t in tasks if t.stage == app.stage]) > 1:
                raise Conflict("并联审批的办件须先由牵头部门受理")
            start(session, app, user.username, now)  # 当场受理并办结 (a single-department first stage)
        record_action(session, user, f"case.{DECISIONS[decision]}", app.id, department=task.department, reason=reason)
        _decide_task(session, app, tasks, task, DECISIONS[decision], user.username, reason, now, key)
    return app


def _decide_task(
    session: Session,
    app: Application,
    tasks: list[ApprovalTask],
    task: ApprovalTask,
    decision: str,
    by: str,
    reason: str,
    now: str,
    key: SigningKey | None,
) -> None:
    """One decider's part of the current stage: a denial ends the case; the stage's last approval
    moves it to the next stage, or concludes it after the last."""
    task.status, task.decided_at, task.decided_by, task.reason = decision, now, by, reason
    session.add(task)
    if decision == "denied":
        for other in tasks:
            if other.status == "pending":
                other.status = "closed"
                session.add(other)
        _conclude(session, app, tasks, now, key)
        return
    if any(t.status == "pending" and t.stage == app.stage for t in tasks):
        app.status = move(app.status, "pass_part", "不能审批")  # waiting for the stage's other departments
        session.add(app)
        return
    app.stage += 1
    if app.stage >= len(case_stages(app)) or not any(t.stage == app.stage for t in tasks):
        _conclude(session, app, tasks, now, key)
        return
    app.status = move(app.status, "pass_part", "不能审批")
    next_stage(app, now)
    session.add(app)
    if at_township(app):
        assign(session, app, now)
    notify(session, app, tasks, "case.stage")


def _township_words(data: dict) -> tuple[str, str, str]:
    """A township decision's decider, time and reason, as the hub will show and pass them on:
    refused (ValueError: the batch is quarantined) unless a name, a time and a reason of the
    bounds the node's software keeps, without control characters."""
    by, at, reason = data["decided_by"], data["decided_at"], data.get("reason", "")
    parse_time(at)  # a time, or ValueError
    if not 0 < len(by) <= 100 or len(reason) > MAX_REASON or unprintable(by + reason):
        raise ValueError("stage decision: decided_by or reason is empty, too long or has control characters")
    return by, at, reason


def decide_township_stage(session: Session, township_id: str, data: dict, now: str) -> None:
    """A township stage decided at ``township_id`` (a ``stage.decided`` record, or an older node's
    ``decision.delegated``), in the ingest transaction. Refused (ownership.Violation: the sender's
    batch stops, nothing changes) unless the sender is the case's township and the stage its own;
    a repeat of the same decision changes nothing."""
    app = session.get(Application, data["application_id"])
    if app is None:
        raise ValueError(f"stage decision for {data['application_id']}: no such case")
    township = township_of(session, app.node_id)
    if township is None or township.id != township_id:
        raise Violation("not_owner", f"stage decision for {app.id}: the case is not one of this township's points'")
    tasks = tasks_of(session, app.id)
    task = next((t for t in tasks if t.department == TOWNSHIP and t.stage == data["stage"]), None)
    if task is None or data["decision"] not in DECISION_ACTIONS:
        raise ValueError(f"stage decision for {app.id}: stage {data['stage']} is not a township stage, or {data['decision']!r} is no decision")
    if task.status != "pending":
        if task.status == data["decision"]:
            return  # sent again: applied once
        raise Violation("conflict", f"stage decision for {app.id}: stage {data['stage']} was already {task.status}")
    if app.stage != task.stage or app.status not in ("received", "accepted"):
        raise Violation("conflict", f"stage decision for {app.id}: the case is not in that stage (stage {app.stage}, {app.status})")
    by, at, reason = _township_words(data)
    if data["decision"] == "not_accepted":  # 不予受理 by the township that accepts: only before it accepted
        if task.stage != 0 or app.status != "received":
            raise Violation("conflict", f"stage decision for {app.id}: not_accepted after the case was accepted")
        _not_accepted(session, app, tasks, by, by, reason, at)
        record_action(session, "system", "case.township_not_accepted", app.id, township=township_id, by=by, reason=reason)
        return
    if app.status == "received" and data["decision"] == "approved" and app.stage == 0:
        _accepted(session, app, by, by, at)  # 受理 at the township window, under the county's delegation
    elif app.status == "received":
        start(session, app, by, at)
    _decide_task(session, app, tasks, task, data["decision"], by, reason, now, None)
    if app.status == "approved" and data.get("licence"):  # issued on the spot under the hub's delegation
        keep_township_result(session, app, township, data["licence"])
    app.decided_locally = app.decided_locally or (app.status in ("approved", "denied") and task.stage == len(case_stages(app)) - 1)
    session.add(app)
    record_action(session, "system", f"case.township_{data['decision']}", app.id, township=township_id, stage=task.stage, by=by)


def approve_on_commitment(session: Session, app: Application, by: str, now: str, key: SigningKey) -> None:
    """告知承诺制: accepted and approved at once on the applicant's written commitment, in the
    caller's transaction (central/commitments.py; the item has one county stage)."""
    _accepted(session, app, by, by, now)
    tasks = tasks_of(session, app.id)
    for task in tasks:
        task.status, task.decided_at, task.decided_by = "approved", now, by
        session.add(task)
    app.stage = len(case_stages(app))
    _conclude(session, app, tasks, now, key)


def _conclude(session: Session, app: Application, tasks: list[ApprovalTask], now: str, key: SigningKey | None) -> None:
    """Every stage has approved (or one part denied): the case's result goes down to the point."""
    denied = [t for t in tasks if t.status == "denied"]
    users = {u.username: u for u in session.exec(select(User).where(col(User.username).in_([t.decided_by for t in tasks if t.decided_by]))).all()}
    deciders = [t for t in (denied or tasks) if t.decided_by]
    app.status = move(app.status, "deny" if denied else "approve", "不能办结")
    app.outcome = app.status
    app.stage = len(case_stages(app)) if not denied else app.stage
    app.decided_at, app.decided_by = now, ",".join(t.decided_by or "" for t in deciders)
    app.decision_reason = "；".join(t.reason for t in deciders if t.reason)
    session.add(app)
    notify(session, app, tasks, "case.concluded")
    by = "、".join(users[t.decided_by].display_name if t.decided_by in users else (t.decided_by or "") for t in deciders)
    queue_downlink(
        session,
        app.node_id,
        DECISION_MADE,
        {"application_id": app.id, "decision": app.status, "reason": app.decision_reason, "decided_by": by, "decided_at": now},
    )
    if app.status == "approved" and key is not None:
        issue_licence(session, app, key, now)
    documents.due(session, app.id, "decision")  # 决定书: after the licence, which it names


def licences_used(engine: Engine, app: Application) -> list[dict[str, object]]:
    """The e-licences the applicant used instead of paper, each checked against the library: it
    must exist, be the applicant's, and be of the item the catalog names for that material."""
    used = json.loads(app.licences_json)
    if not used:
        return []
    with Session(engine) as session:
        item = session.get(CatalogItem, app.item_code)
        wanted = {
            m["name"]: m.get("licence_item") for m in (json.loads(item.detail_json).get("materials", []) if item else []) if isinstance(m, dict)
        }
        library = {
            lic.licence_no: lic for lic in session.exec(select(Licence).where(col(Licence.licence_no).in_([u["licence_no"] for u in used]))).all()
        }
    out = []
    for u in used:
        lic = library.get(u["licence_no"])
        ok = (
            lic is not None
            and lic.revoked_at is None
            and lic.holder_id.upper() == app.applicant_id_number.upper()
            and lic.item_code == wanted.get(u["material"])
        )
        out.append({"material": u["material"], "licence_no": u["licence_no"], "verified": ok, "application_id": lic.application_id if lic else None})
    return out
