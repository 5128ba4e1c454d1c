"""A case's time limits (限时办结), counted as the law counts them.

- **Pre-review (预审)**: the accepting side decides within 2 working days whether to accept
  (受理), refuse acceptance or ask for a supplement (补正). The clock runs from the arrival of the
  complete materials and starts again when a supplement arrives. If it runs out with nothing
  decided, the case counts as accepted from the day the materials arrived — 视为受理, 行政许可法
  第三十二条 — and the hub records it so (``deem_overdue``).
- **Decision (办结)**: from 受理 (行政许可法 第四十二条), not from the village's intake, so the
  pre-review and the citizen's own 补正 time are not the department's. Both the promised limit
  (承诺时限, ``time_limit_days``) and the statutory one (法定时限, ``statutory_days``) are frozen
  on the case at acceptance (a later catalog edit changes new cases only) and both are shown;
  the cards follow the promise.
- **Stage**: a stage with its own ``days`` (docs/catalog.md) has its own clock from the moment the
  case reached it, so a department's card is for its own stage's time, not an earlier one's.
- **Suspensions (中止计时)**: days the case waits for something the law does not count against
  the department — 补正, and the special procedures of 行政许可法 第四十五条 (听证, 检验检测,
  鉴定, 专家评审) and the 公示 or 现场勘验 an item's rules prescribe — each with its reason and
  dates, in ``ClockPause``. A clerk opens and ends a special procedure; 补正 opens and ends by
  itself. Suspended days only ever push a deadline later (tests/central/test_clocks.py).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import APPLICATION_ACCEPTED

from . import documents
from .actions import record_action
from .db import transaction
from .downlink import queue_downlink
from .models import Application, CatalogItem, ClockPause
from .procedure import OPEN, move
from .workdays import Deadline, Pause, WorkCalendar, beijing_date, deadline_of, load_calendar, today

PRE_REVIEW_DAYS = 2  # 预审：收到申请材料后 2 个工作日内决定是否受理
DEFAULT_LIMIT = 20  # an item the catalog no longer has: 行政许可法 第四十二条's twenty days
DEEMED_BY = "视为受理"  # accepted_by of a case the law accepts (第三十二条), not a person
# the kinds of suspension: what the case waits for, as the case page and the notices name it
PAUSES = {
    "supplement": "补正材料",  # opened by the request, ended by the supplement's arrival
    "hearing": "听证",
    "testing": "检验、检测、检疫或鉴定",
    "expert": "专家评审",
    "inspection": "现场勘验",
    "publicity": "公示",
}
MAX_REASON = 300


@dataclass(frozen=True)
class Clocks:
    pre_review: Deadline | None  # until 受理 (or its refusal): from the latest arrival of the materials
    decision: Deadline | None  # the promised limit from 受理; None before acceptance
    statutory: Deadline | None  # the statutory limit from 受理
    stage: Deadline | None  # the current stage's own limit, where the stage has one
    limit_days: int  # promised, as frozen on the case (or the catalog's, before acceptance)
    statutory_days: int
    expected: date  # the promised completion date: the decision's due, or before 受理 the latest it can be
    suspended: str = ""  # what the case waits for now, "" if its clock runs

    @property
    def most_urgent(self) -> Deadline:
        running = [d for d in (self.pre_review, self.stage, self.decision) if d is not None]
        return min(running, key=lambda d: (d.card != "red", d.due)) if running else Deadline(date.max, False, 0, "")


def limits_of(item: CatalogItem | None) -> tuple[int, int]:
    """(promised, statutory) working days of an item, as its catalog entry says now."""
    if item is None:
        return DEFAULT_LIMIT, DEFAULT_LIMIT
    detail = json.loads(item.detail_json or "{}")
    return item.time_limit_days, int(detail.get("statutory_days") or item.time_limit_days)


def catalog_limits(session: Session) -> dict[str, tuple[int, int]]:
    return {i.code: limits_of(i) for i in session.exec(select(CatalogItem)).all()}


def pauses_of(session: Session, ids: Iterable[str] | None = None) -> dict[str, list[ClockPause]]:
    """Each case's suspensions, oldest first (``ids``: only those cases)."""
    query = select(ClockPause).order_by(col(ClockPause.id))
    if ids is not None:
        query = query.where(col(ClockPause.application_id).in_(list(ids)))
    out: dict[str, list[ClockPause]] = defaultdict(list)
    for pause in session.exec(query).all():
        out[pause.application_id].append(pause)
    return out


def _days(pauses: Iterable[ClockPause]) -> list[Pause]:
    return [(beijing_date(p.started_at), beijing_date(p.ended_at) if p.ended_at else None) for p in pauses]


def clocks_of(calendar: WorkCalendar, app: Application, pauses: list[ClockPause], limits: tuple[int, int], now: date | None = None) -> Clocks:
    """The case's clocks as of ``now`` (Beijing date); ``limits`` are the catalog's, used only
    before the case's own are frozen at acceptance."""
    now = now or today()
    limit_days, statutory_days = (app.limit_days, app.statutory_days) if app.limit_days else limits
    concluded = app.status not in OPEN
    days = _days(pauses)
    open_pause = next((PAUSES.get(p.kind, p.kind) for p in pauses if p.ended_at is None), "")
    stages = json.loads(app.stages_json or "[]")
    own = stages[app.stage].get("days") if app.stage < len(stages) else None
    materials = app.materials_at or app.received_at
    pre_review = decision = statutory = stage = None
    if app.accepted_at is None and township_first(app):
        # the township accepts as it decides its stage: that stage's time runs from the materials' arrival
        stage = deadline_of(calendar, materials, int(own or limit_days), concluded, now, days)
        expected = calendar.deadline(stage.due, limit_days - int(own or 0))[0] if own else stage.due
    elif app.accepted_at is None or app.deemed_accepted:
        pre_review = deadline_of(calendar, materials, PRE_REVIEW_DAYS, app.status != "received", now)
        expected = calendar.deadline(pre_review.due, limit_days)[0]  # accepted on the pre-review's last day at the latest
    if app.accepted_at is not None:
        decision = deadline_of(calendar, app.accepted_at, limit_days, concluded, now, days)
        statutory = deadline_of(calendar, app.accepted_at, statutory_days, concluded, now, days)
        expected = decision.due
        if own and not concluded:
            stage = deadline_of(calendar, app.stage_started_at or app.accepted_at, int(own), False, now, days)
    return Clocks(pre_review, decision, statutory, stage, limit_days, statutory_days, expected, open_pause)


def township_first(app: Application) -> bool:
    """Whether the township accepts the case, deciding its first stage (``accepts: township``)."""
    stages = json.loads(app.stages_json or "[]")
    return bool(stages) and stages[0].get("by") == "township"


def clocks_for(engine: Engine, apps: list[Application], now: date | None = None, calendar: WorkCalendar | None = None) -> dict[str, Clocks]:
    """The clocks of many cases at once: one calendar load (none if the caller has it), two queries."""
    calendar = calendar or load_calendar(engine)
    with Session(engine) as session:
        limits = catalog_limits(session)
        pauses = pauses_of(session, [a.id for a in apps] if len(apps) < 500 else None)
    default = (DEFAULT_LIMIT, DEFAULT_LIMIT)
    return {a.id: clocks_of(calendar, a, pauses.get(a.id, []), limits.get(a.item_code, default), now) for a in apps}


def case_clocks(engine: Engine, app: Application) -> tuple[Clocks, list[ClockPause]]:
    """One case's clocks and its suspensions, oldest first (the case page)."""
    with Session(engine) as session:
        pauses = pauses_of(session, [app.id]).get(app.id, [])
        limits = limits_of(session.get(CatalogItem, app.item_code))
    return clocks_of(load_calendar(engine), app, pauses, limits), pauses


def start(session: Session, app: Application, by: str, at: str) -> None:
    """受理: the decision clock starts ``at``, with the item's limits frozen on the case."""
    app.accepted_at, app.accepted_by, app.stage_started_at = at, by, at
    app.limit_days, app.statutory_days = limits_of(session.get(CatalogItem, app.item_code))
    session.add(app)
    documents.due(session, app.id, "acceptance")  # 受理通知书 (or 视为受理)


def accepted_row(item: CatalogItem | None, by: str, at: str) -> dict[str, object]:
    """``start`` for a case accepted as it arrives (a township window's 受理 at intake)."""
    limit_days, statutory_days = limits_of(item)
    return {
        "status": "accepted",
        "accepted_at": at,
        "accepted_by": by,
        "stage_started_at": at,
        "limit_days": limit_days,
        "statutory_days": statutory_days,
    }


def next_stage(app: Application, at: str) -> None:
    app.stage_started_at = at


def open_supplement(session: Session, app: Application, by: str, at: str, missing: list[str]) -> None:
    session.add(ClockPause(application_id=app.id, kind="supplement", reason="；".join(missing)[:MAX_REASON], started_at=at, started_by=by))


def supplement_arrived(session: Session, app: Application, at: str) -> None:
    """The supplement is here: its suspension ends and the pre-review starts again from now."""
    for pause in session.exec(select(ClockPause).where(ClockPause.application_id == app.id, col(ClockPause.ended_at).is_(None))).all():
        if pause.kind == "supplement":
            pause.ended_at, pause.ended_by = at, "服务点补正"
            session.add(pause)
    app.materials_at = at
    session.add(app)


def deem_overdue(engine: Engine, now: date | None = None) -> list[str]:
    """视为受理: each case the county accepts whose pre-review ran out with no decision counts as
    accepted from the arrival of its materials (行政许可法 第三十二条); the point is told. A case
    the township accepts is its window's to accept (its node keeps no clock of this yet)."""
    now = now or today()
    calendar = load_calendar(engine)
    with transaction(engine) as session:
        waiting = session.exec(select(Application).where(Application.status == "received", col(Application.accepted_at).is_(None))).all()
        deemed = []
        for app in waiting:
            if township_first(app):
                continue
            materials = app.materials_at or app.received_at
            if now <= deadline_of(calendar, materials, PRE_REVIEW_DAYS, False, now).due:
                continue
            app.status = move(app.status, "deem_accept", "不能视为受理")
            start(session, app, DEEMED_BY, materials)
            app.deemed_accepted = True
            queue_downlink(session, app.node_id, APPLICATION_ACCEPTED, {"application_id": app.id, "by": DEEMED_BY, "at": materials})
            record_action(session, "system", "case.deemed_accepted", app.id, materials_at=materials)
            deemed.append(app.id)
    return deemed
