"""The county operator's figures: which nodes are behind, which cases are late, and whether every
fee collected reached the county. Read-only; computed from the hub's tables on each request.

Definitions (also in docs/operations.md):
- A node is **silent** when the hub has heard nothing from it for ``silent_after``; it is
  **behind** when silent, when batches of it wait behind a gap, or when it runs an older catalog
  than the one published. (The outbox depth a heartbeat reports is shown, and a depth rising over
  heartbeats alerts, but it is not a reason by itself: uplink keeps order, so every event counted
  in a heartbeat has reached the hub by the time the heartbeat has.)
- A case's **trips** (跑动次数) by the citizen: the intake and each supplement round count one
  each unless an agent did them on the citizen's behalf (代办); collecting the result at the
  window counts one unless a proxied case's result went to someone else; a courier counts none.
  最多跑一次 = at most one trip, 零跑动 = none, over cases whose result has been handed over.
- **On time**: a concluded case (decided, or not accepted) whose conclusion came on or before the
  last day of its limit in official working days.
- **Fees**: e-payments (WeChat Pay, Alipay, UnionPay) settle straight to the county account; cash
  reaches it by remittance (解缴). Outstanding cash = cash collected − cash refunded − remitted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from . import supervision
from .catalog import published_catalog
from .clocks import Clocks, clocks_for
from .fees import fee_summary
from .linkstatus import CLOCK_SKEW_S, MISSED_HEARTBEATS
from .linkstatus import silent as is_silent
from .models import Alert, Application, HeldBatch, Node, Quarantine
from .procedure import OPEN
from .workdays import BEIJING, beijing_date

CASE_STATES = ["received", "supplement_requested", "accepted", "approved", "denied", "not_accepted", "delivered", "dispatched"]
UNASSIGNED = "（未归属乡镇）"


@dataclass
class Area:
    """Figures for one township (its centre and its village points) or for the whole county."""

    name: str
    cases: Counter = field(default_factory=Counter)
    concluded: int = 0
    on_time: int = 0
    overdue_open: int = 0
    yellow_open: int = 0
    handed_over: int = 0
    at_most_one_trip: int = 0
    zero_trips: int = 0
    cash_collected_fen: int = 0
    cash_refunded_fen: int = 0
    cash_remitted_fen: int = 0
    cash_outstanding_fen: int = 0  # per point, what it still holds (never netted against another point)
    cash_to_return_fen: int = 0  # per point, cash it refunded after remitting it: the county owes it back
    epay_collected_fen: int = 0  # net of refunds

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.concluded if self.concluded else None

    @property
    def at_most_one_rate(self) -> float | None:
        return self.at_most_one_trip / self.handed_over if self.handed_over else None

    @property
    def zero_rate(self) -> float | None:
        return self.zero_trips / self.handed_over if self.handed_over else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cases": {s: self.cases.get(s, 0) for s in CASE_STATES},
            "total": self.total,
            "concluded": self.concluded,
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "overdue_open": self.overdue_open,
            "yellow_open": self.yellow_open,
            "handed_over": self.handed_over,
            "at_most_one_trip": self.at_most_one_trip,
            "at_most_one_trip_rate": self.at_most_one_rate,
            "zero_trips": self.zero_trips,
            "zero_trips_rate": self.zero_rate,
            "fees": {
                "cash_collected_fen": self.cash_collected_fen,
                "cash_refunded_fen": self.cash_refunded_fen,
                "cash_remitted_fen": self.cash_remitted_fen,
                "cash_outstanding_fen": self.cash_outstanding_fen,
                "cash_to_return_fen": self.cash_to_return_fen,
                "epay_collected_fen": self.epay_collected_fen,
            },
        }


def trips(app: Application) -> int:
    proxied = bool(app.proxy_agent)
    window = 0 if proxied else 1 + app.supplement_rounds
    pickup = 1 if app.handover == "pickup" and (not proxied or app.handed_to_applicant) else 0
    return window + pickup


def township_of(node: Node) -> str:
    return node.id if node.kind == "township" else (node.parent or UNASSIGNED)


def node_health(engine: Engine, silent_after: timedelta, now: datetime, latest_catalog: int) -> list[dict[str, Any]]:
    """Every node with what the operator must see, and why it counts as behind (if it does)."""
    with Session(engine) as session:
        nodes = session.exec(select(Node).order_by(Node.id)).all()
        names = {n.id: n.name for n in nodes}
        quarantined = dict(session.exec(select(Quarantine.node_id, func.count()).group_by(Quarantine.node_id)).all())
        held = dict(session.exec(select(HeldBatch.node_id, func.count()).group_by(HeldBatch.node_id)).all())
        alerts = dict(session.exec(select(Alert.node_id, func.count()).group_by(Alert.node_id)).all())
    rows = []
    for n in nodes:
        reasons = []
        silent = is_silent(n, now, silent_after)
        if silent:
            limit = (
                f"{MISSED_HEARTBEATS} 次心跳（{MISSED_HEARTBEATS * n.heartbeat_interval_s} 秒）"
                if n.heartbeat_interval_s
                else f"{int(silent_after.total_seconds() // 60)} 分钟"
            )
            reasons.append("从未同步" if n.last_seen_at is None else f"超过 {limit}没有消息")
        if held.get(n.id):
            reasons.append(f"{held[n.id]} 个批次等待缺口补齐")
        if n.needs_upgrade:
            reasons.append("软件版本过旧，下发暂停，请升级")
        if n.set_aside:
            reasons.append(f"{n.set_aside} 条记录超出上限，已在服务点搁置")
        if n.heartbeat_at and n.catalog_version < latest_catalog:
            reasons.append(f"目录第 {n.catalog_version} 版（最新第 {latest_catalog} 版）")
        rows.append(
            n.model_dump()
            | {
                "township": township_of(n),
                "township_name": names.get(township_of(n), township_of(n)),  # as the operator knows it
                "silent": silent,
                "behind": n.status == "enrolled" and bool(reasons),
                "reasons": reasons,
                "quarantined": quarantined.get(n.id, 0),
                "held": held.get(n.id, 0),
                "alerts": alerts.get(n.id, 0),
                "clock_skewed": n.clock_offset_s is not None and abs(n.clock_offset_s) > CLOCK_SKEW_S,
            }
        )
    return rows


def cases_with_clocks(engine: Engine, day: date) -> list[tuple[Application, Clocks]]:
    """Every case with its time limits as of ``day`` (one calendar load, one query)."""
    with Session(engine) as session:
        apps = list(session.exec(select(Application)).all())
    clocks = clocks_for(engine, apps, day)
    return [(app, clocks[app.id]) for app in apps]


def area_figures(engine: Engine, cases: list[tuple[Application, Clocks]], fees: list[dict[str, Any]]) -> tuple[Area, list[Area]]:
    """(county, townships): cases by state, timeliness, trips and fees, from the same rows."""
    with Session(engine) as session:
        nodes = {n.id: n for n in session.exec(select(Node)).all()}
    county = Area("全县")
    areas: dict[str, Area] = defaultdict(lambda: Area(""))

    def both(node_id: str) -> tuple[Area, Area]:
        name = township_of(nodes[node_id]) if node_id in nodes else UNASSIGNED
        area = areas[name]
        area.name = nodes[name].name if name in nodes else name
        return county, area

    for app, clocks in cases:
        for area in both(app.node_id):
            area.cases[app.status] += 1
            if app.status in OPEN:
                urgent = clocks.most_urgent
                area.overdue_open += urgent.card == "red"
                area.yellow_open += urgent.card == "yellow"
            elif app.decided_at:
                area.concluded += 1
                kept = clocks.decision or clocks.pre_review  # a case refused acceptance had the pre-review's
                area.on_time += kept is not None and beijing_date(app.decided_at) <= kept.due
            if app.handover:
                area.handed_over += 1
                area.at_most_one_trip += trips(app) <= 1
                area.zero_trips += trips(app) == 0
    for row in fees:
        for area in both(row["node_id"]):
            for key in (
                "cash_collected_fen",
                "cash_refunded_fen",
                "cash_remitted_fen",
                "cash_outstanding_fen",
                "cash_to_return_fen",
                "epay_collected_fen",
            ):
                setattr(area, key, getattr(area, key) + row[key])
    return county, sorted(areas.values(), key=lambda a: a.name)


def late_cases(cases: list[tuple[Application, Clocks]]) -> list[dict[str, Any]]:
    """Open cases with a red or yellow card, most overdue first (the dashboard's list)."""
    rows = []
    for app, clocks in cases:
        urgent = clocks.most_urgent
        if app.status in OPEN and urgent.card:
            rows.append(
                {
                    "id": app.id,
                    "receipt_no": app.receipt_no,
                    "item_name": app.item_name,
                    "department": app.department,
                    "node_id": app.node_id,
                    "status": app.status,
                    "card": urgent.card,
                    "due": urgent.due.isoformat(),
                    "remaining_working_days": urgent.remaining,
                    "clock": "pre_review" if urgent is clocks.pre_review else "stage" if urgent is clocks.stage else "decision",
                }
            )
    return sorted(rows, key=lambda r: (r["card"] != "red", r["remaining_working_days"]))


FEE_COLUMNS = (
    "node_id",
    "cash_collected_fen",
    "cash_refunded_fen",
    "epay_collected_fen",
    "cash_remitted_fen",
    "cash_outstanding_fen",
    "cash_to_return_fen",
    "closes_with_discrepancy",
    "all_reached_county",
)


def fee_nodes(engine: Engine) -> list[dict[str, Any]]:
    """Per node with fees or remittances: cash collected vs remitted (to the fen), e-payments,
    closes with a discrepancy — the dashboard's columns of ``fees.fee_summary``."""
    return [
        {k: row["remitted_fen"] if k == "cash_remitted_fen" else row[k] for k in FEE_COLUMNS}
        for row in fee_summary(engine)
        if row["receipts"] or row["remitted_fen"]
    ]


def dashboard(engine: Engine, silent_after: timedelta, now: datetime | None = None) -> dict[str, Any]:
    """Everything the operator's home page shows (and /api/dashboard returns)."""
    now = now or datetime.now(UTC)
    day = now.astimezone(BEIJING).date()
    catalog_version = published_catalog(engine)["version"]
    cases, fees = cases_with_clocks(engine, day), fee_nodes(engine)
    county, townships = area_figures(engine, cases, fees)
    nodes = node_health(engine, silent_after, now, catalog_version)
    return {
        "nodes": nodes,
        "nodes_behind": [n["id"] for n in nodes if n["behind"]],
        "county": county.as_dict(),
        "townships": [a.as_dict() for a in townships],
        "late_cases": late_cases(cases),
        "fees": fees,
        **supervision.open_items(engine, now),
        "catalog_version": catalog_version,
    }
