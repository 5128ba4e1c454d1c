"""What anyone may see without logging in: a case's progress (receipt number plus the last 4
characters of the ID number, both needed), and results publicity (结果公示) without personal data."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import unprintable
from weblayer.errors import NotFound

from .clock import utcnow
from .clocks import clocks_for
from .models import Application, CatalogItem, Complaint, Department, Node
from .results import result_text
from .workdays import beijing_date

NOT_FOUND = "没有查到：请核对受理编号和身份证号码后四位"
PUBLICITY_DAYS = 90


def case_by_receipt(session: Session, receipt_no: str, id_last4: str) -> Application:
    """The case a citizen names by its receipt number and the last 4 characters of the ID number
    (progress, ratings and complaints from their phone); NotFound otherwise."""
    receipt_no, id_last4 = receipt_no.strip(), id_last4.strip().upper()
    if unprintable(receipt_no + id_last4):  # no receipt number has one (PostgreSQL refuses a NUL outright)
        raise NotFound(NOT_FOUND)
    app = session.exec(select(Application).where(Application.receipt_no == receipt_no)).first()
    # the same answer whether the number is unknown or the ID does not match: a receipt number alone reveals nothing
    if app is None or len(id_last4) != 4 or not app.applicant_id_number.upper().endswith(id_last4):
        raise NotFound(NOT_FOUND)
    return app


def progress(engine: Engine, receipt_no: str, id_last4: str) -> dict[str, Any]:
    with Session(engine) as session:
        app = case_by_receipt(session, receipt_no, id_last4)
        node = session.get(Node, app.node_id)
        dept = session.get(Department, app.department)
        item = session.get(CatalogItem, app.item_code)
        category = json.loads(item.detail_json or "{}").get("category", "") if item else ""
        complaints = session.exec(select(Complaint).where(Complaint.application_id == app.id).order_by(col(Complaint.filed_at))).all()
    clocks = clocks_for(engine, [app])[app.id]
    running = clocks.decision or clocks.pre_review
    steps: list[tuple[str, str | None]] = [("提交", app.submitted_at), ("县里收到", app.received_at)]
    steps += [("不予受理", app.decided_at)] if app.status == "not_accepted" else [("受理", app.accepted_at), ("办结", app.decided_at)]
    steps += [("寄出", "")] if app.handover == "courier" else [("送达", app.delivered_at)]  # a dispatch has no delivery time
    return {
        "receipt_no": app.receipt_no,
        "item_name": app.item_name,
        "status": app.status,
        "department": dept.name if dept else app.department,
        "service_point": node.name if node else app.node_id,
        # the promised completion date: counted from 受理, or before it the latest it can be
        "due": clocks.expected.isoformat(),
        "due_estimated": running is not None and running.estimated,
        "suspended": clocks.suspended,  # what the case waits for (补正材料, 听证 …) while its clock stands still
        # the result stays after the case is handed over or posted (status "delivered", "dispatched"),
        # and so does the reason the law requires for a refusal (行政许可法 第三十八条、第三十二条)
        "outcome": result_text(category, app.outcome),
        "reason": app.decision_reason if app.outcome in ("denied", "not_accepted") else "",
        "steps": [{"step": name, "at": at} for name, at in steps if at is not None],
        # the applicant's complaints about the case and the county's answers (issue 20)
        "complaints": [
            {"filed_at": c.filed_at, "first_answer": c.first_answer, "answer": c.answer, "answered_at": c.answered_at or c.first_answered_at}
            for c in complaints
        ],
    }


def categories(session: Session) -> dict[str, str]:
    """Each item's category (行政许可, 行政给付 …), which names its results (central/results.py)."""
    return {i.code: json.loads(i.detail_json or "{}").get("category", "") for i in session.exec(select(CatalogItem)).all()}


def publicity(engine: Engine, days: int = PUBLICITY_DAYS) -> list[dict[str, Any]]:
    """Concluded cases of the last ``days``: item, department, service point, result, date (the
    county's, Beijing time) — no name, no ID number, no receipt number, no reason text (it may
    name people)."""
    since = utcnow(-timedelta(days=days))
    with Session(engine) as session:
        depts = {d.code: d.name for d in session.exec(select(Department)).all()}
        nodes = {n.id: n.name for n in session.exec(select(Node)).all()}
        kinds = categories(session)
        apps = session.exec(
            select(Application)
            .where(col(Application.decided_at).is_not(None), col(Application.decided_at) >= since)
            .order_by(col(Application.decided_at).desc())
        ).all()
    return [
        {
            "item_code": a.item_code,
            "item_name": a.item_name,
            "department": depts.get(a.department, a.department),
            "service_point": nodes.get(a.node_id, a.node_id),
            "result": result_text(kinds.get(a.item_code, ""), a.outcome) or a.outcome,
            "decided_on": beijing_date(a.decided_at).isoformat() if a.decided_at else "",
            "decided_locally": a.decided_locally,
        }
        for a in apps
    ]
