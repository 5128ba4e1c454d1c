"""网上咨询 (issue 21 item 2): a citizen asks on the portal, about an item or in general; the
item's department (none: the county's service office, an operator) answers within
``ANSWER_DAYS`` working days; the citizen reads the answer with the token they were given, and is
told by SMS when they left a mobile number. One past its day raises a ``consultation.late`` alert
once (the hub worker's clock sweep)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import sms
from .actions import record_action
from .clock import utcnow
from .db import transaction
from .models import Alert, CatalogItem, Consultation, User
from .texts import citizen_token, required_text, token_as_typed
from .workdays import BEIJING, load_calendar, today

ANSWER_DAYS = 3  # working days: the county's service standard for an online question (not a statutory limit)
QUESTION_CHARS, ANSWER_CHARS = 500, 2000


def ask(engine: Engine, question: str, item_code: str = "", phone: str = "") -> Consultation:
    question, item_code, phone = required_text(question, "咨询的问题", "question", QUESTION_CHARS), item_code.strip(), phone.strip()
    if phone and not sms.mobile(phone):
        raise InvalidInput("手机号码应为 11 位数字，以 1 开头（不留号码也可以，凭查询码查看答复）", field="phone")
    now = utcnow()
    due = load_calendar(engine).deadline(today(), ANSWER_DAYS)[0]
    with transaction(engine) as session:
        item = session.get(CatalogItem, item_code) if item_code else None
        if item_code and item is None:
            raise InvalidInput("事项目录中没有这个事项，请重新选择", field="item_code")
        consultation = Consultation(
            token=citizen_token(),
            item_code=item_code,
            department=item.department if item else None,
            question=question,
            phone=phone,
            asked_at=now,
            due_on=due.isoformat(),
        )
        session.add(consultation)
    return consultation


def by_token(engine: Engine, token: str) -> Consultation:
    with Session(engine) as session:
        found = session.exec(select(Consultation).where(Consultation.token == token_as_typed(token))).first() if token.strip() else None
    if found is None:
        raise NotFound("没有这个查询码的咨询，请核对")
    return found


def waiting(engine: Engine, user: User, days: int = 30) -> list[Consultation]:
    """A clerk's department's questions (an operator: all), unanswered first, then those answered
    in the last ``days``."""
    since = utcnow(-timedelta(days=days))
    with Session(engine) as session:
        query = select(Consultation).where(col(Consultation.answered_at).is_(None) | (col(Consultation.answered_at) >= since))
        if user.role != "operator":
            query = query.where(Consultation.department == user.department)
        return list(session.exec(query.order_by(col(Consultation.answered_at).is_not(None), col(Consultation.asked_at)).limit(500)).all())


def answer(engine: Engine, user: User, consultation_id: int, text: str) -> Consultation:
    text = required_text(text, "答复内容", "answer", ANSWER_CHARS)
    with transaction(engine) as session:
        found = session.get(Consultation, consultation_id) if 0 < consultation_id < 2**31 else None
        if found is None:
            raise NotFound("没有这条咨询")
        if user.role != "operator" and found.department != user.department:
            raise Forbidden("这条咨询由其他部门答复")
        if found.answered_at:
            raise Conflict("这条咨询已经答复过")
        found.answer, found.answered_at, found.answered_by = text, utcnow(), user.display_name
        session.add(found)
        if found.phone:
            sms.queue(session, f"consultation:{found.id}", "consultation_answered", found.phone, {"token": found.token})
        record_action(session, user, "consultation.answered", str(consultation_id))
    return found


def alert_late(engine: Engine, now: datetime | None = None) -> int:
    """A ``consultation.late`` alert for each question past its day, once."""
    day = (now or datetime.now(UTC)).astimezone(BEIJING).date().isoformat()
    with transaction(engine) as session:
        late = session.exec(
            select(Consultation).where(
                col(Consultation.answered_at).is_(None), col(Consultation.due_on) < day, col(Consultation.late_alerted).is_(False)
            )
        ).all()
        for c in late:
            c.late_alerted = True
            session.add(c)
            who = c.department or "县政务服务中心"
            session.add(
                Alert(kind="consultation.late", message=f"网上咨询（{c.question[:30]}）超过 {ANSWER_DAYS} 个工作日未答复：{who}", created_at=utcnow())
            )
    return len(late)
