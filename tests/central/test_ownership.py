"""A point's valid key reaches only its own data (issue 17, findings 2 and 8), on a real database:
every id a point creates is in its own namespace, a record naming an existing object is applied
only if the object is the sender's, and the same id with other content is a conflict. Each breach
quarantines the sender's batch with an alert against the sender; the victim's data, its alerts
and its own sync are untouched."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey
from sqlmodel import Session, select

from central.catalog import load_catalog, sample_catalog
from central.db import create_schema, make_engine
from central.fees import fee_summary
from central.ingest import ingest_batch
from central.models import Alert, Application, Complaint, DailyClose, Evaluation, FeeReceipt, Material, Node, Quarantine
from sync_protocol import GENESIS, Accepted, Record, Rejected, seal_next, verify_key_to_text

T = "2026-11-23T08:00:00.000000Z"
KEYS = {"qingshan": SigningKey(bytes(range(32))), "shangcun": SigningKey(bytes(range(1, 33))), "qing": SigningKey(bytes(range(2, 34)))}
SHA = "ab" * 32


@pytest.fixture
def engine(hub_db_url: str):
    engine = make_engine(hub_db_url)
    create_schema(engine)
    load_catalog(engine, sample_catalog())
    with Session(engine) as s:
        for node_id, key in KEYS.items():
            s.add(Node(id=node_id, name=node_id, kind="township", public_key=verify_key_to_text(key.verify_key), enrolled_at=T))
        s.commit()
    yield engine
    engine.dispose()


class Point:
    def __init__(self, engine, node_id: str) -> None:
        self.engine, self.node_id, self.pos, self.n = engine, node_id, GENESIS, 0

    def send(self, kind: str, **data) -> Accepted | Rejected:
        self.n += 1
        wire, pos = seal_next(self.node_id, "up", self.pos, [Record(kind, f"{self.node_id}-{self.n}", T, data)], T, KEYS[self.node_id])
        verdict = ingest_batch(self.engine, f"yiwang.up.{self.node_id}", wire)
        if isinstance(verdict, Accepted):
            self.pos = pos
        return verdict

    def apply(self, kind: str, **data) -> None:
        verdict = self.send(kind, **data)
        assert isinstance(verdict, Accepted), verdict


def application(node_id: str, n: int) -> dict:
    return {
        "application_id": f"{node_id}-app{n}",
        "receipt_no": f"{node_id}-{n:06d}",
        "item_code": "MZ-003",
        "item_name": "x",
        "applicant_name": "张三",
        "applicant_id_number": "11010519491231002X",
        "agent": "agent",
    }


def snapshot(engine) -> dict:
    """Everything of qingshan's the hub holds."""
    with Session(engine) as s:
        return {
            "apps": sorted((a.id, a.node_id, a.status) for a in s.exec(select(Application))),
            "materials": sorted((m.application_id, m.material) for m in s.exec(select(Material))),
            "evaluations": sorted((e.application_id, e.node_id) for e in s.exec(select(Evaluation))),
            "complaints": sorted((c.complaint_id, c.node_id, c.text) for c in s.exec(select(Complaint))),
            "receipts": sorted((r.receipt_no, r.node_id, r.amount_fen, r.status) for r in s.exec(select(FeeReceipt))),
            "closes": sorted((c.close_id, c.node_id, c.remittance_id) for c in s.exec(select(DailyClose))),
        }


def test_a_hostile_point_with_a_valid_key_changes_nothing_of_another_point(engine):
    victim, hostile = Point(engine, "qingshan"), Point(engine, "shangcun")
    victim.apply("application.received", **application("qingshan", 1) | {"application_id": "qingshan-app1"})
    victim.apply("fee.collected", fee_receipt_no="qingshan-F000001", amount_fen=38000, method="cash", agent="agent", application_id="qingshan-app1")
    victim.apply(
        "fee.daily_closed",
        close_id="qingshan-C20261123-agent-1",
        business_date="2026-11-23",
        agent="agent",
        totals_fen={"cash": 38000},
        cash_expected_fen=38000,
        cash_counted_fen=38000,
        discrepancy_fen=0,
    )
    before = snapshot(engine)
    attacks = [  # every cross-point reference and every id in the victim's namespace
        ("application.received", application("shangcun", 9) | {"application_id": "qingshan-app1"}),  # the victim's case, taken over
        ("application.received", application("shangcun", 8) | {"receipt_no": "qingshan-000002"}),  # the victim's next receipt number
        ("materials.attached", {"application_id": "qingshan-app1", "material": "伪造", "sha256": SHA, "size": 3, "media_type": "image/jpeg"}),
        ("evaluation.given", {"application_id": "qingshan-app1", "level": 1, "comment": "差"}),
        ("application.picked_up", {"application_id": "qingshan-app1", "collector_name": "冒领", "agent": "agent"}),
        ("application.withdrawn", {"application_id": "qingshan-app1", "reason": "x", "agent": "agent"}),
        ("supplement.provided", {"application_id": "qingshan-app1", "materials": [], "agent": "agent"}),
        ("application.dispatched", {"application_id": "qingshan-app1", "courier": "EMS", "tracking_no": "1", "agent": "agent"}),
        ("complaint.filed", {"complaint_id": "qingshan-T000001", "text": "抢先占用投诉编号"}),
        ("complaint.filed", {"complaint_id": "shangcun-T000001", "text": "挂在别人的办件上", "application_id": "qingshan-app1"}),
        ("fee.collected", {"fee_receipt_no": "qingshan-F000002", "amount_fen": 1, "method": "cash", "agent": "agent"}),
        (
            "fee.collected",
            {"fee_receipt_no": "shangcun-F000001", "amount_fen": 1, "method": "cash", "agent": "agent", "application_id": "qingshan-app1"},
        ),
        ("fee.voided", {"fee_receipt_no": "qingshan-F000001", "reason": "x", "approved_by": "x", "agent": "agent"}),
        ("fee.refunded", {"fee_receipt_no": "qingshan-F000001", "amount_fen": 38000, "reason": "x", "approved_by": "x", "agent": "agent"}),
        (
            "fee.daily_closed",
            {
                "close_id": "qingshan-C20261124-agent-1",
                "business_date": "2026-11-24",
                "agent": "agent",
                "totals_fen": {},
                "cash_expected_fen": 0,
                "cash_counted_fen": 0,
                "discrepancy_fen": 0,
            },
        ),
        (
            "fee.remitted",
            {
                "remittance_id": "shangcun-R000001",
                "amount_fen": 38000,
                "close_ids": ["qingshan-C20261123-agent-1"],
                "bank_reference": "B",
                "agent": "agent",
            },
        ),
        ("fee.remitted", {"remittance_id": "qingshan-R000001", "amount_fen": 1, "close_ids": [], "bank_reference": "B", "agent": "agent"}),
    ]
    for kind, data in attacks:
        verdict = hostile.send(kind, **data)
        assert isinstance(verdict, Rejected) and verdict.reason == "not_owner", (kind, data, verdict)
    assert snapshot(engine) == before
    with Session(engine) as s:
        alerts = s.exec(select(Alert)).all()
        assert {a.node_id for a in alerts} == {"shangcun"} and len(alerts) == len(attacks)  # all against the sender, none in the victim's name
        assert {q.node_id for q in s.exec(select(Quarantine))} == {"shangcun"}
    # the victim's own later records still apply: its void of its own receipt, its remittance
    victim.apply("fee.voided", fee_receipt_no="qingshan-F000001", reason="录错", approved_by="站长", agent="agent")
    victim.apply(
        "fee.remitted", remittance_id="qingshan-R000001", amount_fen=0, close_ids=["qingshan-C20261123-agent-1"], bank_reference="B1", agent="agent"
    )
    [summary] = [r for r in fee_summary(engine) if r["node_id"] == "qingshan"]
    assert (summary["receipts"], summary["voided"], summary["remitted_fen"]) == (1, 1, 0)


def test_a_point_cannot_reach_into_a_longer_node_ids_namespace(engine):
    """``qing`` is a prefix of ``qingshan``: its ids still cannot look like qingshan's."""
    qing = Point(engine, "qing")
    for kind, data in [
        ("fee.collected", {"fee_receipt_no": "qingshan-F000001", "amount_fen": 1, "method": "cash", "agent": "agent"}),
        ("complaint.filed", {"complaint_id": "qing-shan-T000001", "text": "借前缀占号"}),
        ("application.received", application("qing", 1) | {"receipt_no": "qing-shan-000001"}),
    ]:
        verdict = qing.send(kind, **data)
        assert isinstance(verdict, Rejected) and verdict.reason == "not_owner", (kind, verdict)
    qing.apply("complaint.filed", complaint_id="qing-T000001", text="自己的投诉")


def test_the_same_id_with_other_content_is_a_conflict_not_skipped(engine):
    """A replacement device that restarted its counters (or a forgery) sends an id the hub holds."""
    point = Point(engine, "qingshan")
    point.apply("fee.collected", fee_receipt_no="qingshan-F000001", amount_fen=38000, method="cash", agent="agent")
    point.apply("fee.collected", fee_receipt_no="qingshan-F000001", amount_fen=38000, method="cash", agent="agent")  # the same again: applied once
    again = point.send("fee.collected", fee_receipt_no="qingshan-F000001", amount_fen=500, method="cash", agent="agent")
    assert isinstance(again, Rejected) and again.reason == "conflict"
    point.apply("application.received", **application("qingshan", 1))
    other = point.send("application.received", **application("qingshan", 1) | {"applicant_id_number": "430524195802147719"})
    assert isinstance(other, Rejected) and other.reason == "conflict"
    with Session(engine) as s:
        assert [(r.receipt_no, r.amount_fen) for r in s.exec(select(FeeReceipt))] == [("qingshan-F000001", 38000)]
        assert [a.kind for a in s.exec(select(Alert))] == ["quarantine.conflict", "quarantine.conflict"]
