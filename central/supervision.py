"""What citizens say, as workflows (issue 20): complaints and ratings.

**Complaints.** A complaint recorded at a point is routed, as it arrives, to the department
responsible for its case (the case's lead department; without a case, or for a township stage,
the county's service office — the operators). Its clocks run from its arrival at the hub, not
from the point's filing time (a point that was offline must not deliver it already late):
a first answer (初步答复) is due within 24 hours, the final answer (办结答复) within 5 working
days. Both answers go down to the point (``complaint.answered``), which tells the complainant;
a case's complaint and its answers also show on the public progress page. A complaint past a
due time escalates (an alert, a level up); answered ones stay on the list.

**Ratings (好差评).** Given by the citizen — on the point's rating screen with nothing chosen
in advance, or on their own phone from the QR code on the pickup slip (``rate``) — once per
case. A poor one (≤ 2) must be followed up (差评整改) within 5 working days by the department
responsible, or by an operator.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import COMPLAINT_ANSWERED, EVALUATION_RECORDED, format_time, hidden_controls, parse_time, unprintable
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import sms
from .actions import record_action
from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .models import Alert, Application, Complaint, Evaluation, User
from .procedure import OPEN
from .public import case_by_receipt
from .stages import TOWNSHIP
from .texts import citizen_token, token_as_typed
from .workdays import BEIJING, WorkCalendar, beijing_date, calendar_in, load_calendar

POOR = 2  # evaluation levels up to this one need a follow-up
FIRST_ANSWER_WITHIN = timedelta(hours=24)  # from the complaint's arrival at the hub
FINAL_ANSWER_DAYS = 5  # working days from its arrival
FOLLOW_UP_DAYS = 5  # working days for a poor rating's 整改
LEVELS = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}
# stage of a complaint -> (its escalation level once that stage is overdue, what the alert says)
ESCALATES = {"first": (1, "24 小时内未作初步答复"), "final": (2, f"{FINAL_ANSWER_DAYS} 个工作日内未办结答复")}


def _text(value: str, message: str, field: str, most: int = 1000) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(message, field=field)
    if len(value) > most:
        raise InvalidInput(f"内容不能超过 {most} 字", field=field)
    if hidden_controls(value):
        raise InvalidInput("内容中有无法打印的控制字符，请删除后重新输入", field=field)
    return value


def route(session: Session, application_id: str | None) -> str | None:
    """The department a complaint goes to: its case's lead department (None: the operators)."""
    app = session.get(Application, application_id) if application_id else None
    return app.department if app is not None and app.department != TOWNSHIP else None


def complaint_received(session: Session, node_id: str, data: dict[str, Any], filed_at: str, now: str) -> None:
    """A complaint.filed record, in the ingest transaction: kept once, routed, its clocks from ``now``.
    Text beyond what a point's own form takes is refused (ValueError: the batch is quarantined)."""
    if len(data["text"]) > 2000 or len(data.get("contact", "")) > 200:
        raise ValueError(f"complaint {data['complaint_id']}: text or contact longer than a point takes")
    if session.get(Complaint, data["complaint_id"]) is None:
        application_id = data.get("application_id")
        session.add(
            Complaint(
                complaint_id=data["complaint_id"],
                node_id=node_id,
                application_id=application_id,
                contact=data.get("contact", ""),
                text=data["text"],
                filed_at=filed_at,
                received_at=now,
                department=route(session, application_id),
            )
        )


ONLINE = "portal:"  # a complaint filed on the portal: portal:<token> (no point's namespace has a colon)
WHICH = {"first": "初步", "final": "正式"}


def complain_online(engine: Engine, text: str, contact: str = "", receipt_no: str = "", id_last4: str = "") -> Complaint:
    """A complaint from the citizen's own phone (the portal): about a case they name by receipt
    number and the ID's last four, or about none; routed and timed as one filed at a point, its
    answers read with its token (``complaint_id`` without ``ONLINE``) and told by SMS to
    ``contact``."""
    text = _text(text, "请写明您要反映的问题", "text")
    contact = contact.strip()
    if contact and not sms.mobile(contact):
        raise InvalidInput("手机号码应为 11 位数字，以 1 开头（不留号码也可以，凭查询码查看答复）", field="contact")
    if id_last4.strip() and not receipt_no.strip():
        raise InvalidInput("填写了身份证号码后四位的，请同时填写受理编号（不关于某件事的，两项都不填）", field="receipt_no")
    now = utcnow()
    with transaction(engine) as session:
        app = case_by_receipt(session, receipt_no, id_last4) if receipt_no.strip() else None
        complaint = Complaint(
            complaint_id=ONLINE + citizen_token(),
            node_id=app.node_id if app else "",
            application_id=app.id if app else None,
            contact=contact,
            text=text,
            filed_at=now,
            received_at=now,
            department=route(session, app.id if app else None),
        )
        session.add(complaint)
    return complaint


def online_complaint(engine: Engine, token: str) -> Complaint:
    """A complaint filed on the portal, by its token."""
    with Session(engine) as session:
        found = session.get(Complaint, ONLINE + token_as_typed(token)) if token.strip() and not unprintable(token) else None
    if found is None:
        raise NotFound("没有这个查询码的投诉，请核对")
    return found


def due_times(calendar: WorkCalendar, complaint: Complaint) -> tuple[datetime, date]:
    """(the first answer's due time, the final answer's due day)."""
    arrived = parse_time(complaint.received_at or complaint.filed_at)
    return arrived + FIRST_ANSWER_WITHIN, calendar.deadline(arrived.astimezone(BEIJING).date(), FINAL_ANSWER_DAYS)[0]


def overdue(calendar: WorkCalendar, complaint: Complaint, now: datetime) -> str:
    """The latest stage whose answer is overdue ("final", "first"), or ""."""
    first_due, final_due = due_times(calendar, complaint)
    if not complaint.answered_at and now.astimezone(BEIJING).date() > final_due:
        return "final"
    if not complaint.first_answered_at and not complaint.answered_at and now > first_due:
        return "first"
    return ""


def _may_answer(user: User, complaint: Complaint) -> None:
    if user.role == "operator":
        return
    if user.role != "clerk" or user.department != complaint.department:
        raise Forbidden("这条投诉由其他部门答复")


def answer_complaint(engine: Engine, user: User, complaint_id: str, answer: str, final: bool = True) -> Complaint:
    """A first answer (``final`` False) or the final one: kept, logged, and sent to the point."""
    answer = _text(answer, "请填写答复内容（如何处理、结果如何）", "answer")
    with transaction(engine) as session:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            raise NotFound("没有这条投诉")
        _may_answer(user, complaint)
        if complaint.answered_at:
            raise Conflict("这条投诉已经办结答复过")
        now = utcnow()
        if final:
            complaint.answer, complaint.answered_at, complaint.answered_by = answer, now, user.username
        elif complaint.first_answered_at:
            raise Conflict("这条投诉已经初步答复过，请填写办结答复")
        else:
            complaint.first_answer, complaint.first_answered_at, complaint.first_answered_by = answer, now, user.username
        session.add(complaint)
        stage = "final" if final else "first"
        case = session.get(Application, complaint.application_id) if complaint.application_id else None
        if complaint_id.startswith(ONLINE):  # filed on the phone: read there, with its token; no point filed it
            sms.queue(
                session,
                f"complaint:{complaint_id}:{stage}",
                "complaint_answered_online",
                complaint.contact,
                {"which": WHICH[stage], "token": complaint_id.removeprefix(ONLINE)},
            )
        else:
            queue_downlink(
                session,
                complaint.node_id,
                COMPLAINT_ANSWERED,
                {"complaint_id": complaint_id, "stage": stage, "answer": answer, "by": user.display_name, "at": now},
            )
            sms.complaint_answered(session, complaint_id, complaint.node_id, complaint.contact, case, final)
        record_action(session, user, f"complaint.answered_{stage}", complaint_id, answer=answer)
    return complaint


def escalate_complaints(session: Session, calendar: WorkCalendar, now: datetime) -> int:
    """Complaints whose answer is overdue go up a level (once per stage), with an alert."""
    at = format_time(now)
    count = 0
    for complaint in session.exec(select(Complaint).where(col(Complaint.answered_at).is_(None))).all():
        stage = overdue(calendar, complaint, now)
        level, why = ESCALATES[stage] if stage else (0, "")
        if level <= complaint.escalations:
            continue
        complaint.escalations, complaint.escalated_at = level, at
        session.add(complaint)
        whose = complaint.department or "县政务服务管理局"
        session.add(
            Alert(
                kind="complaint.escalated",
                node_id=complaint.node_id,
                message=f"投诉 {complaint.complaint_id}（{whose}）{why}，已升级督办",
                created_at=at,
            )
        )
        record_action(session, "system", "complaint.escalated", complaint.complaint_id, stage=stage)
        count += 1
    return count


def evaluation_received(session: Session, node_id: str, application_id: str, level: int, comment: str, given_at: str, source: str) -> bool:
    """A rating, kept once per case (False: the case had one already)."""
    if session.get(Evaluation, application_id) is not None:
        return False
    due = calendar_in(session).deadline(beijing_date(given_at), FOLLOW_UP_DAYS)[0].isoformat() if level <= POOR else None
    session.add(
        Evaluation(application_id=application_id, node_id=node_id, level=level, comment=comment, given_at=given_at, source=source, follow_up_due=due)
    )
    return True


def rate(engine: Engine, receipt_no: str, id_last4: str, level: int, comment: str) -> Evaluation:
    """好差评 from the citizen's own phone (the public page; receipt number plus the ID's last four,
    as for progress): once per case, after its result, nothing chosen in advance."""
    if level not in LEVELS:
        raise InvalidInput("请选择一个评价等级（1 到 5 星）", field="level")
    comment = _text(comment, "请写明不满意的原因，便于整改", "comment", 500) if level <= POOR or comment.strip() else ""
    with transaction(engine) as session:
        app = case_by_receipt(session, receipt_no, id_last4)
        if app.status in OPEN:
            raise Conflict("办件办结后才能评价")
        if not evaluation_received(session, app.node_id, app.id, level, comment, utcnow(), "phone"):
            raise Conflict("这件事已经评价过了，谢谢")
        evaluation = session.get(Evaluation, app.id)
        assert evaluation is not None
        # the point hears it, so its rating screen does not ask again (a rating there first: the county's stands)
        queue_downlink(
            session,
            app.node_id,
            EVALUATION_RECORDED,
            {"application_id": app.id, "level": level, "comment": comment, "source": "phone", "at": evaluation.given_at},
        )
        record_action(session, "citizen", "evaluation.given", app.id, level=level, source="phone")
    return evaluation


def follow_up_evaluation(engine: Engine, user: User, application_id: str, note: str) -> Evaluation:
    note = _text(note, "请填写回访和整改情况", "follow_up")
    with transaction(engine) as session:
        evaluation = session.get(Evaluation, application_id)
        if evaluation is None:
            raise NotFound("这个办件没有评价")
        app = session.get(Application, application_id)
        if user.role != "operator" and (user.role != "clerk" or app is None or app.department != user.department):
            raise Forbidden("差评由办理部门或县政务服务管理局回访整改")
        if evaluation.level > POOR:
            raise Conflict("只有差评需要整改回访")
        if evaluation.followed_up_at:
            raise Conflict("这条差评已经回访过")
        evaluation.follow_up, evaluation.followed_up_at, evaluation.followed_up_by = note, utcnow(), user.username
        session.add(evaluation)
        record_action(session, user, "evaluation.followed_up", application_id, note=note)
    return evaluation


def open_items(engine: Engine, now: datetime, department: str | None = None, days: int = 30) -> dict[str, Any]:
    """What the supervision lists show: complaints not yet answered in full and those answered in
    the last ``days``, and poor ratings not followed up — each with its due times — for one
    department (a clerk) or all (an operator)."""
    calendar = load_calendar(engine)
    since = format_time(now - timedelta(days=days))
    with Session(engine) as session:
        query = select(Complaint).where((col(Complaint.answered_at).is_(None)) | (col(Complaint.answered_at) >= since))
        poor = select(Evaluation).where(Evaluation.level <= POOR, col(Evaluation.followed_up_at).is_(None))
        if department is not None:
            query = query.where(Complaint.department == department)
            poor = poor.join(Application, col(Application.id) == col(Evaluation.application_id)).where(Application.department == department)
        complaints = session.exec(query.order_by(col(Complaint.filed_at))).all()
        evaluations = session.exec(poor.order_by(col(Evaluation.given_at))).all()
    today = now.astimezone(BEIJING).date()
    rows = []
    for c in complaints:
        first_due, final_due = due_times(calendar, c)
        late = overdue(calendar, c, now)
        rows.append(
            c.model_dump() | {"first_due_at": format_time(first_due), "final_due": final_due.isoformat(), "overdue": bool(late), "late_stage": late}
        )
    return {
        "complaints_open": [r for r in rows if not r["answered_at"]],
        "complaints_answered": [r for r in rows if r["answered_at"]],
        "poor_evaluations_open": [
            e.model_dump() | {"follow_up_overdue": bool(e.follow_up_due and today > date.fromisoformat(e.follow_up_due))} for e in evaluations
        ],
    }
