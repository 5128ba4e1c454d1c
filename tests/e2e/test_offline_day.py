"""Issue 4's proof: a village agent runs a whole day at the window with the network down —
intake with and without fees, a photographed material, a void approved by a second person, the
daily close — and when the network comes back everything reaches the hub, once, to the fen."""

from __future__ import annotations

import pytest

from provisioning.federation import LocalFederation, NodeSpec, free_port
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.polling import eventually

from ..images import photo

pytestmark = pytest.mark.e2e
PHOTO = photo(format="PNG")


def test_a_full_day_offline_then_everything_reaches_the_hub(federation: LocalFederation):
    spec = NodeSpec(
        "shangcun",
        "青山镇便民服务中心",
        "township",  # 身份证换领 (and its fee) is a township item
        free_port(),
        users=[("agent", "代办员 王秀兰", "village_agent"), ("chief", "站长 李建国", "township_staff")],
    )
    federation.enrol_node(spec)
    federation.start_node(spec)
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)

    federation.stop("nats")  # the link is down before the first citizen arrives
    eventually(lambda: agent.get("/api/status").json()["online"] is False, what="the node to notice")

    def intake(n: int, item: str, **payment) -> dict:
        r = agent.post(
            "/api/applications",
            json={"item_code": item, "applicant_name": f"村民{n}", "applicant_id_number": resident_id(n), "materials_checked": checked(item)}
            | payment,
        )
        assert r.status_code == 201, r.text
        return r.json()

    free = intake(1, "MZ-004")
    photo = agent.post(
        f"/api/applications/{free['id']}/materials", data={"material": "近期免冠照片"}, files={"file": ("photo.png", PHOTO, "image/png")}
    )
    assert photo.status_code == 201
    insured = [intake(n, "YB-001", payment_method="cash") for n in (2, 3)]  # 2 × 380.00 cash
    card = intake(4, "GA-001", payment_method="wechat", payment_reference="4200000042")  # 20.00 WeChat
    mistaken = intake(5, "GA-001", payment_method="cash")  # 20.00 cash ...
    void = agent.post(
        f"/api/fees/{mistaken['fee_receipt']['receipt_no']}/void",
        json={"reason": "重复收费", "approver": "chief", "approver_password": federation.password},
    )
    assert void.status_code == 200  # ... voided
    day = agent.get("/api/fees").json()
    assert day["unclosed"]["net"] == {"cash": 76000, "wechat": 2000, "alipay": 0, "unionpay": 0}
    closed = agent.post("/api/fees/close", json={"cash_counted_fen": 76000})
    assert closed.status_code == 201 and closed.json()["discrepancy_fen"] == 0
    status = agent.get("/api/status").json()
    assert status["online"] is False and status["waiting_events"] >= 12  # 5 intakes, 1 photo, 4 fees, 1 void, 1 close

    federation.start_nats()  # the link comes back; nobody does anything
    eventually(lambda: agent.get("/api/status").json()["waiting_events"] == 0, timeout=60, what="the backlog to drain")
    eventually(lambda: len(operator.get("/api/applications").json()) == 5, what="5 applications at the hub")
    apps = operator.get("/api/applications").json()
    assert sorted(a["id"] for a in apps) == sorted(x["id"] for x in [free, *insured, card, mistaken])
    eventually(
        lambda: (
            operator.get(f"/api/applications/{free['id']}").json()["materials_complete"]
            and operator.get(f"/api/applications/{free['id']}").json()["materials"]
        ),
        what="the photo verified at the hub",
    )
    eventually(lambda: operator.get("/api/fees").json() and operator.get("/api/fees").json()[0]["closes"] == 1, what="the close at the hub")
    [fees] = operator.get("/api/fees").json()
    assert fees == {
        "node_id": "shangcun",
        "receipts": 4,
        "voided": 1,
        "collected_fen": 78000,
        "refunded_fen": 0,
        "closes": 1,
        "cash_counted_fen": 76000,
        "discrepancy_fen": 0,
        "remitted_fen": 0,
        "unremitted_fen": 76000,
        "cash_collected_fen": 76000,
        "cash_refunded_fen": 0,
        "epay_collected_fen": 2000,
        "cash_outstanding_fen": 76000,
        "cash_to_return_fen": 0,
        "closes_with_discrepancy": 0,
        "all_reached_county": False,  # closed but not yet remitted
    }
    assert operator.get("/api/quarantine").json() == []
