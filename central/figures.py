"""E-supervision figures per department and per clerk over a period, and the monthly report for
the provincial platform (format ``yiwang.e-supervision.v1``, docs/integration.md).

A *part* is one decider's task of a case decided in the period (Beijing dates, both ends
included), or a pre-review that ended in 不予受理. Its time runs from the moment the decider
could act — 受理 for the first stage, the previous stage's last decision for a later one, the
materials' arrival for a pre-review — to its decision, in working days without suspended days.
It is on time when it ended on or before its due day: the stage's own days where the stage has
them, else the case's promised limit (the pre-review's 2 days for 不予受理)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import parse_time

from .clocks import PRE_REVIEW_DAYS, pauses_of, township_first
from .models import Application, ApprovalTask, Card, Complaint, Department, Evaluation, Node, SupervisionOrder, User
from .supervision import POOR, due_times
from .workdays import Pause, WorkCalendar, beijing_date, load_calendar
from .workdays import today as beijing_today

REPORT_FORMAT = "yiwang.e-supervision.v1"
T = TypeVar("T")


@dataclass
class Tally:
    code: str
    name: str
    decided: int = 0
    on_time: int = 0
    days: int = 0  # working days taken, summed
    yellow_cards: int = 0
    red_cards: int = 0
    orders: int = 0
    orders_replied_late: int = 0  # answered only after escalation
    orders_unanswered: int = 0
    cases: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "decided": self.decided,
            "on_time": self.on_time,
            "on_time_rate": round(self.on_time / self.decided, 4) if self.decided else None,
            "average_working_days": round(self.days / self.decided, 2) if self.decided else None,
            "yellow_cards": self.yellow_cards,
            "red_cards": self.red_cards,
            "orders": self.orders,
            "orders_replied_late": self.orders_replied_late,
            "orders_unanswered": self.orders_unanswered,
        }


def _taken(calendar: WorkCalendar, start: date, end: date, pauses: list[Pause]) -> int:
    """Working days after ``start`` up to and including ``end``, suspended days left out."""
    days = 0
    for i in range(1, (end - start).days + 1):
        day = start + timedelta(days=i)
        if not any(first < day <= (last or end) for first, last in pauses) and calendar.is_workday(day)[0]:
            days += 1
    return days


def _between(session: Session, model: type[T], column: Any, start: date, end: date) -> list[T]:
    """Rows whose ``column`` (a UTC time) falls on a Beijing date from ``start`` to ``end``, oldest id first."""
    since, until = (start - timedelta(days=1)).isoformat(), (end + timedelta(days=2)).isoformat()  # wide UTC bounds for the index
    rows = session.exec(select(model).where(col(column) >= since, col(column) < until)).all()
    return [r for r in rows if (value := getattr(r, column.key)) and start <= beijing_date(value) <= end]


def _parts(session: Session, calendar: WorkCalendar, start: date, end: date) -> list[dict[str, Any]]:
    """Each part decided in the period: who, how long, on time or not."""
    tasks = _between(session, ApprovalTask, ApprovalTask.decided_at, start, end)
    refused = [a for a in _between(session, Application, Application.decided_at, start, end) if a.outcome == "not_accepted"]
    ids = {t.application_id for t in tasks} | {a.id for a in refused}
    apps = {a.id: a for a in session.exec(select(Application).where(col(Application.id).in_(list(ids)))).all()} if ids else {}
    everyone = defaultdict(list)
    for t in session.exec(select(ApprovalTask).where(col(ApprovalTask.application_id).in_(list(ids)))).all() if ids else []:
        everyone[t.application_id].append(t)
    pauses = pauses_of(session, list(ids)) if ids else {}
    parts = []
    for task in tasks:
        app = apps[task.application_id]
        if task.decided_at is None or app.accepted_at is None:
            continue
        stages = json.loads(app.stages_json or "[]")
        earlier = [t.decided_at for t in everyone[app.id] if t.stage == task.stage - 1 and t.decided_at]
        if task.stage and earlier:
            began = max(earlier)
        else:  # the township that accepts as it decides: from the materials' arrival
            began = (app.materials_at or app.received_at) if township_first(app) else app.accepted_at
        held = [(beijing_date(p.started_at), beijing_date(p.ended_at) if p.ended_at else None) for p in pauses.get(app.id, [])]
        own = stages[task.stage].get("days") if task.stage < len(stages) else None
        if own or (task.stage == 0 and township_first(app)):
            due = calendar.deadline(beijing_date(began), int(own or app.limit_days or 20), held, end)[0]
        else:
            due = calendar.deadline(beijing_date(app.accepted_at), app.limit_days or 20, held, end)[0]
        decided = beijing_date(task.decided_at)
        parts.append(
            {
                "department": task.department,
                "clerk": task.decided_by or "",
                "application_id": app.id,
                "days": _taken(calendar, beijing_date(began), decided, held),
                "on_time": decided <= due,
            }
        )
    for app in refused:
        assert app.decided_at is not None
        materials, decided = beijing_date(app.materials_at or app.received_at), beijing_date(app.decided_at)
        parts.append(
            {
                "department": app.department,
                "clerk": app.decided_by or "",
                "application_id": app.id,
                "days": _taken(calendar, materials, decided, []),
                "on_time": decided <= calendar.deadline(materials, PRE_REVIEW_DAYS)[0],
            }
        )
    return parts


def figures(engine: Engine, start: date, end: date) -> dict[str, Any]:
    """Per department and per clerk: parts decided, on-time rate, average working days, cards
    and orders issued in the period (orders unanswered: as of now)."""
    calendar = load_calendar(engine)
    with Session(engine) as session:
        names = {d.code: d.name for d in session.exec(select(Department)).all()} | {"township": "乡镇"}
        people = {u.username: u.display_name for u in session.exec(select(User)).all()}
        parts = _parts(session, calendar, start, end)
        cards = _between(session, Card, Card.issued_at, start, end)
        orders = _between(session, SupervisionOrder, SupervisionOrder.issued_at, start, end)
    departments: dict[str, Tally] = {}
    clerks: dict[str, Tally] = {}

    def of(table: dict[str, Tally], code: str, name: str) -> Tally:
        return table.setdefault(code, Tally(code, name))

    for part in parts:
        for tally in (
            of(departments, part["department"], names.get(part["department"], part["department"])),
            of(clerks, part["clerk"], people.get(part["clerk"], part["clerk"])),
        ):
            tally.decided += 1
            tally.on_time += part["on_time"]
            tally.days += part["days"]
    for card in cards:
        tally = of(departments, card.department, names.get(card.department, card.department))
        tally.red_cards += card.colour == "red"
        tally.yellow_cards += card.colour == "yellow"
    for order in orders:
        tally = of(departments, order.department, names.get(order.department, order.department))
        tally.orders += 1
        tally.orders_replied_late += bool(order.replied_at and order.escalations)
        tally.orders_unanswered += order.replied_at is None
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "departments": [t.as_dict() for t in sorted(departments.values(), key=lambda t: t.code)],
        "clerks": [t.as_dict() for t in sorted(clerks.values(), key=lambda t: t.code) if t.code],
    }


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-11' -> (2026-11-01, 2026-11-30); ValueError for anything else."""
    first = date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def monthly_report(engine: Engine, month: str, county: str, generated_at: str) -> dict[str, Any]:
    """The month's figures with every card and order of it, for the provincial platform."""
    start, end = month_bounds(month)
    body = figures(engine, start, end)
    with Session(engine) as session:
        cards = sorted(_between(session, Card, Card.issued_at, start, end), key=lambda c: c.id or 0)
        orders = sorted(_between(session, SupervisionOrder, SupervisionOrder.issued_at, start, end), key=lambda o: o.id or 0)
        ids = list({c.application_id for c in cards} | {o.application_id for o in orders})
        receipts = dict(session.exec(select(Application.id, Application.receipt_no).where(col(Application.id).in_(ids))).all()) if ids else {}
    return {
        "format": REPORT_FORMAT,
        "county": county,
        "month": month,
        "generated_at": generated_at,
        "departments": body["departments"],
        "clerks": body["clerks"],
        "cards": [
            {
                "receipt_no": receipts.get(c.application_id, ""),
                "department": c.department,
                "colour": c.colour,
                "clock": c.clock,
                "stage": c.stage,
                "due": c.due,
                "rule": c.rule,
                "issued_at": c.issued_at,
            }
            for c in cards
        ],
        "orders": [
            {
                "number": o.number,
                "receipt_no": receipts.get(o.application_id, ""),
                "department": o.department,
                "issued_at": o.issued_at,
                "reply_due": o.reply_due,
                "replied_at": o.replied_at,
                "escalations": o.escalations,
            }
            for o in orders
        ],
    }


def voices(engine: Engine, start: date, end: date) -> list[dict[str, Any]]:
    """Complaints and ratings of the period, per department and per point: how many complaints
    arrived, how many were first answered within 24 hours and answered in full within 5 working
    days, how many ratings, their average, the poor ones and the follow-ups past their deadline."""
    calendar = load_calendar(engine)
    today = beijing_today()  # the county's date, not the server's
    with Session(engine) as session:
        complaints = _between(session, Complaint, Complaint.filed_at, start, end)
        ratings = _between(session, Evaluation, Evaluation.given_at, start, end)
        ids = [r.application_id for r in ratings]
        departments = dict(session.exec(select(Application.id, Application.department).where(col(Application.id).in_(ids))).all()) if ids else {}
        names = {d.code: d.name for d in session.exec(select(Department)).all()} | {n.id: n.name for n in session.exec(select(Node)).all()}
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(kind: str, code: str | None) -> dict[str, Any]:
        code = code or ("county" if kind == "department" else "portal")  # a point's: none for a complaint about no case, from the portal
        name = names.get(code, {"county": "县政务服务管理局", "portal": "政务服务网（网上投诉）"}.get(code, code))
        return rows.setdefault(
            (kind, code),
            {
                "kind": kind,
                "code": code,
                "name": name,
                "complaints": 0,
                "first_on_time": 0,
                "final_on_time": 0,
                "ratings": 0,
                "levels": 0,
                "poor": 0,
                "follow_ups_overdue": 0,
            },
        )

    for c in complaints:
        first_due, final_due = due_times(calendar, c)
        first = c.first_answered_at or c.answered_at
        for r in (row("department", c.department), row("point", c.node_id)):
            r["complaints"] += 1
            r["first_on_time"] += bool(first and parse_time(first) <= first_due)
            r["final_on_time"] += bool(c.answered_at and beijing_date(c.answered_at) <= final_due)
    for e in ratings:
        late = bool(e.level <= POOR and not e.followed_up_at and e.follow_up_due and today > date.fromisoformat(e.follow_up_due))
        for r in (row("department", departments.get(e.application_id)), row("point", e.node_id)):
            r["ratings"] += 1
            r["levels"] += e.level
            r["poor"] += e.level <= POOR
            r["follow_ups_overdue"] += late
    return [
        {k: v for k, v in r.items() if k != "levels"} | {"average_level": round(r["levels"] / r["ratings"], 2) if r["ratings"] else None}
        for _, r in sorted(rows.items())
    ]
