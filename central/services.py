"""便民服务 at the points, as the county sees it (issue 21 items 3–5): 咨询导办 at the window,
上门办理 (home visits, free proxy for social-assistance and relief items) and 预约, per point for a
period — on the operator's dashboard and ``GET /api/services/figures``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from sync_protocol import format_time

from . import appointments
from .models import Application, Node, WindowConsultation
from .workdays import BEIJING, today

TEXT_CHARS = {"question": 200, "answer": 500, "item_code": 40}  # what a point's form takes


def consultation_recorded(session: Session, node_id: str, data: dict[str, Any], at: str) -> None:
    """A consultation at the point's window (ingest; its id in the point's namespace). Text beyond
    what the point's form takes is refused (ValueError: the batch is quarantined)."""
    if any(len(data.get(k, "")) > most for k, most in TEXT_CHARS.items()):
        raise ValueError(f"consultation {data['consultation_id']}: fields beyond what a point's form takes")
    if session.get(WindowConsultation, data["consultation_id"]) is None:
        session.add(
            WindowConsultation(
                id=data["consultation_id"],
                node_id=node_id,
                item_code=data.get("item_code", ""),
                question=data["question"],
                answer=data["answer"],
                case_followed=data["case_followed"],
                at=at,
                agent=data["agent"],
            )
        )


def this_month() -> tuple[date, date]:
    """The county's month: its first and last day (what has not happened yet counts nothing, but a
    booking for later this month does)."""
    first = today().replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _bounds(start: date, end: date) -> tuple[str, str]:
    """The period's Beijing days as UTC times (the stored kind)."""
    first = datetime.combine(start, time(), BEIJING)
    return format_time(first), format_time(datetime.combine(end, time(), BEIJING) + timedelta(days=1))


def figures(engine: Engine, start: date, end: date) -> list[dict[str, Any]]:
    """Per point, for the Beijing days ``start`` … ``end``: consultations at the window and how many
    a case followed; cases taken in at the citizen's home and how many of them by proxy; and the
    appointments of those days (booked on the portal or by the point; served, no-shows, cancelled)."""
    since, until = _bounds(start, end)
    with Session(engine) as session:
        asked = session.exec(
            select(WindowConsultation.node_id, col(WindowConsultation.case_followed), func.count())
            .where(col(WindowConsultation.at) >= since, col(WindowConsultation.at) < until)
            .group_by(WindowConsultation.node_id, col(WindowConsultation.case_followed))
        ).all()
        by_proxy = col(Application.proxy_agent) != ""
        visits = session.exec(
            select(Application.node_id, by_proxy, func.count())
            .where(col(Application.home_visit) != "", col(Application.submitted_at) >= since, col(Application.submitted_at) < until)
            .group_by(Application.node_id, by_proxy)
        ).all()
        names = {n.id: n.name for n in session.exec(select(Node)).all()}
    rows: dict[str, dict[str, Any]] = {}

    def row(node_id: str) -> dict[str, Any]:
        blank = {"consultations": 0, "consultations_with_case": 0, "home_visits": 0, "home_visits_by_proxy": 0}
        return rows.setdefault(node_id, {"node_id": node_id, "name": names.get(node_id, node_id)} | blank | dict.fromkeys(appointments.COUNTS, 0))

    for node_id, followed, n in asked:
        row(node_id)["consultations"] += n
        row(node_id)["consultations_with_case"] += n if followed else 0
    for node_id, proxied, n in visits:
        row(node_id)["home_visits"] += n
        row(node_id)["home_visits_by_proxy"] += n if proxied else 0
    for a in appointments.figures(engine, start.isoformat(), end.isoformat()):
        row(a["node_id"]).update({k: a[k] for k in appointments.COUNTS})
    return sorted(rows.values(), key=lambda r: r["name"])
