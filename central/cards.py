"""电子监察: yellow and red cards as records, and the supervision orders (督办单) red cards raise.

The hub looks at every open case's clocks (central/clocks.py) every few minutes (``issue_due``)
and issues each card once — per case, clock, stage, responsible department and colour — with the
time and the rule that issued it. The responsible department is who holds the clock: the
accepting side during pre-review, otherwise the deciders whose part of the current stage is still
pending. A stage with its own days is judged by its own clock only, so a department's red card
means that department was late, not the stage before it.

A red card raises a 督办单 to that department, numbered per year (督办〔2026〕第 N 号), to be
answered within ``REPLY_DAYS`` working days; an unanswered order escalates a level each time its
reply falls due (``ESCALATION``), with an alert on the operator's dashboard. Departments with
their own systems hear of each card on their feed (``case.card``)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import unprintable
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import supervision
from .actions import record_action
from .clock import utcnow
from .clocks import PRE_REVIEW_DAYS, Clocks, clocks_for
from .db import transaction
from .departments import notify
from .documents import MAX_ID
from .models import Alert, Application, ApprovalTask, Card, SupervisionOrder, User
from .numbering import ORDER_FORMAT, next_number
from .procedure import OPEN
from .workdays import BEIJING, Deadline, load_calendar

REPLY_DAYS = 2  # working days a department has to answer a 督办单
# who an unanswered order goes up to, level by level (an escalation past the last stays there)
ESCALATION = ("部门负责人", "县政务服务管理局", "县人民政府督查室")
MAX_REPLY = 1000


def _responsible(app: Application, pending: list[ApprovalTask], clock: str) -> list[str]:
    if clock == "pre_review":
        return [app.department]
    return sorted(t.department for t in pending if t.stage == app.stage)


def _running(app: Application, clocks: Clocks) -> list[tuple[str, Deadline, int]]:
    """The clocks a card may come from: (name, deadline, its limit in days)."""
    if app.status == "received" and clocks.pre_review is not None and app.accepted_at is None:
        return [("pre_review", clocks.pre_review, PRE_REVIEW_DAYS)]
    if clocks.stage is not None:  # the stage is judged by its own days only
        stages = json.loads(app.stages_json or "[]")
        return [("stage", clocks.stage, int(stages[app.stage].get("days") or clocks.limit_days))]
    return [("decision", clocks.decision, clocks.limit_days)] if clocks.decision is not None else []


def _rule(clock: str, deadline: Deadline, days: int, stage_name: str) -> str:
    what = {"pre_review": "预审", "stage": f"{stage_name}环节", "decision": "承诺办结时限"}[clock]
    state = f"已超期 {-deadline.remaining} 个工作日（红牌）" if deadline.card == "red" else f"剩余 {deadline.remaining} 个工作日（黄牌）"
    return f"{what} {days} 个工作日，{deadline.due.isoformat()} 截止：{state}"


def issue_due(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """Issue the cards the open cases' clocks call for, raise an order for each red one, and
    escalate orders whose reply is overdue and complaints whose answer is (central/supervision.py).
    Returns how many of each."""
    now = now or datetime.now(UTC)
    today = now.astimezone(BEIJING).date()
    at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with Session(engine) as session:
        apps = list(session.exec(select(Application).where(col(Application.status).in_(OPEN))).all())
    calendar = load_calendar(engine)
    clocks = clocks_for(engine, apps, today, calendar)
    counts = {"yellow": 0, "red": 0, "escalated": 0, "complaints_escalated": 0}
    with transaction(engine) as session:
        ids = [a.id for a in apps]
        tasks: dict[str, list[ApprovalTask]] = defaultdict(list)
        for task in session.exec(select(ApprovalTask).where(col(ApprovalTask.application_id).in_(ids))).all() if ids else []:
            tasks[task.application_id].append(task)
        issued = {
            (c.application_id, c.clock, c.stage, c.department, c.colour)
            for c in (session.exec(select(Card).where(col(Card.application_id).in_(ids))).all() if ids else [])
        }
        for app in apps:
            pending = [t for t in tasks[app.id] if t.status == "pending"]
            for clock, deadline, days in _running(app, clocks[app.id]):
                if not deadline.card:
                    continue
                stages = json.loads(app.stages_json or "[]")
                stage_name = stages[app.stage]["name"] if app.stage < len(stages) else ""
                for department in _responsible(app, pending, clock):
                    key = (app.id, clock, app.stage, department, deadline.card)
                    if key in issued:
                        continue
                    issued.add(key)
                    card = Card(
                        application_id=app.id,
                        department=department,
                        clock=clock,
                        stage=app.stage,
                        colour=deadline.card,
                        due=deadline.due.isoformat(),
                        rule=_rule(clock, deadline, days, stage_name),
                        issued_at=at,
                    )
                    session.add(card)
                    session.flush()
                    counts[deadline.card] += 1
                    record_action(session, "system", f"card.{deadline.card}", app.id, department=department, rule=card.rule)
                    if deadline.card == "red":
                        assert card.id is not None
                        due = calendar.deadline(today, REPLY_DAYS)[0]
                        number = next_number(session, "supervision_order", today.year, ORDER_FORMAT)
                        session.add(
                            SupervisionOrder(
                                number=number, card_id=card.id, application_id=app.id, department=department, issued_at=at, reply_due=due.isoformat()
                            )
                        )
                    notify(session, app, tasks[app.id], "case.card")
        counts["escalated"] = _escalate(session, calendar, today, at)
        counts["complaints_escalated"] = supervision.escalate_complaints(session, calendar, now)
    return counts


def _escalate(session: Session, calendar: Any, today: date, at: str) -> int:
    overdue = session.exec(
        select(SupervisionOrder).where(col(SupervisionOrder.replied_at).is_(None), col(SupervisionOrder.reply_due) < today.isoformat())
    ).all()
    for order in overdue:
        order.escalations += 1
        order.escalated_at = at
        order.reply_due = calendar.deadline(today, REPLY_DAYS)[0].isoformat()
        level = ESCALATION[min(order.escalations, len(ESCALATION)) - 1]
        session.add(order)
        session.add(
            Alert(kind="supervision.escalated", message=f"{order.number}（{order.department}）逾期未回复，已升级至{level}督办", created_at=at)
        )
        record_action(session, "system", "order.escalated", order.application_id, number=order.number, level=level)
    return len(overdue)


def reply(engine: Engine, user: User, order_id: int, text: str) -> SupervisionOrder:
    """The department answers its order: why it was late and what it did. A township's order is
    answered by an operator, recording what the township said (townships have no hub accounts)."""
    text = text.strip()
    if not text or len(text) > MAX_REPLY or unprintable(text):
        raise InvalidInput(f"请填写督办回复：超期原因和整改措施（不超过 {MAX_REPLY} 字，不含控制字符）", field="reply")
    with transaction(engine) as session:
        order = session.get(SupervisionOrder, order_id) if 0 < order_id <= MAX_ID else None
        if order is None:
            raise NotFound("没有这张督办单")
        own = user.role == "clerk" and user.department == order.department
        if not own and not (user.role == "operator" and order.department == "township"):
            raise Forbidden("只能回复本部门的督办单")
        if order.replied_at:
            raise Conflict("这张督办单已经回复过")
        order.reply, order.replied_at, order.replied_by = text, utcnow(), user.username
        session.add(order)
        record_action(session, user, "order.replied", order.application_id, number=order.number)
    return order


def orders_of(engine: Engine, department: str | None = None, open_only: bool = False) -> list[SupervisionOrder]:
    """Orders, newest first: a department's, or all; only the unanswered ones if ``open_only``."""
    query = select(SupervisionOrder).order_by(col(SupervisionOrder.id).desc())
    if department is not None:
        query = query.where(SupervisionOrder.department == department)
    if open_only:
        query = query.where(col(SupervisionOrder.replied_at).is_(None))
    with Session(engine) as session:
        return list(session.exec(query).all())


def cards_of(engine: Engine, application_id: str) -> list[Card]:
    with Session(engine) as session:
        return list(session.exec(select(Card).where(Card.application_id == application_id).order_by(col(Card.id))).all())
