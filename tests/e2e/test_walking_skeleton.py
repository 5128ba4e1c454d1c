"""One application from a village node to a clerk's decision and back, through real processes:
nats-server (from the wheel), the hub and a village node, each its own process with its own
SQLite file. NATS is stopped in the middle; the node keeps working and catches up by itself."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import checked, collected, resident_id, submit
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_application_round_trip_survives_nats_outage(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    node_url = f"http://127.0.0.1:{spec.port}"
    agent = Api(node_url, "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)

    def hub_apps() -> list[dict]:
        return operator.get("/api/applications").json()

    # a bad resident ID is refused with a Chinese problem and nothing is saved
    bad = agent.post(
        "/api/applications",
        json={"item_code": "MZ-003", "materials_checked": checked("MZ-003"), "applicant_name": "张三", "applicant_id_number": "110105194912310021"},
    )
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    assert "校验位" in bad.json()["detail"] and agent.get("/api/applications").json() == []

    eventually(lambda: httpx.get(f"{federation.hub_url}/api/ready", timeout=5).status_code == 200, what="the hub ready (database, NATS)")
    online = [submit(agent, n, "MZ-003", by_proxy=True) for n in range(3)]
    eventually(lambda: len(hub_apps()) == 3, what="3 applications at the hub")
    assert {a["department"] for a in hub_apps()} == {"mzj"}  # routed by the hub's catalog

    # -- NATS goes away: the window keeps working ------------------------------------------------
    federation.stop("nats")
    eventually(lambda: agent.get("/api/status").json()["online"] is False, what="node to notice it is offline")
    eventually(lambda: httpx.get(f"{federation.hub_url}/api/ready", timeout=5).status_code == 503, what="the hub not ready without NATS")
    offline = [submit(agent, n, "MZ-003", by_proxy=True) for n in range(3, 6)]
    status = agent.get("/api/status").json()
    assert status["waiting_events"] >= 3 and status["offline_since"]
    time.sleep(3)  # stay down long enough for several failed reconnects and publish retries
    assert agent.get("/api/status").json()["online"] is False
    decided_offline = clerk.post(f"/api/applications/{online[0]['id']}/decision", json={"decision": "approve"})
    assert decided_offline.status_code == 200, decided_offline.text

    # -- NATS returns: everything flows without anyone doing anything ---------------------------
    federation.start_nats()
    eventually(lambda: len(hub_apps()) == 6, what="all 6 applications at the hub")
    eventually(lambda: agent.get("/api/status").json()["waiting_events"] == 0, what="node backlog drained")
    eventually(
        lambda: agent.get(f"/api/applications/{online[0]['id']}").json()["status"] == "approved",
        what="decision made during the outage to reach the node",
    )

    # exactly once at the hub, by id and by receipt number
    apps = hub_apps()
    assert Counter(a["id"] for a in apps) == Counter({a["id"]: 1 for a in online + offline})
    assert sorted(a["receipt_no"] for a in apps) == [f"shangcun-{n:06d}" for n in range(1, 7)]

    # the rest are decided (one denied, with its reason) and come back to the node
    for app in online[1:] + offline:
        decision = {"decision": "deny", "reason": "材料不齐"} if app is offline[-1] else {"decision": "approve"}
        assert clerk.post(f"/api/applications/{app['id']}/decision", json=decision).status_code == 200
    again = clerk.post(f"/api/applications/{online[1]['id']}/decision", json={"decision": "approve"})
    assert again.status_code == 409  # a case is decided once
    eventually(
        lambda: all(a["status"] in ("approved", "denied") for a in agent.get("/api/applications").json()),
        what="every decision at the node",
    )
    node_apps = {a["id"]: a for a in agent.get("/api/applications").json()}
    assert node_apps[offline[-1]["id"]]["status"] == "denied" and node_apps[offline[-1]["id"]]["decision_reason"] == "材料不齐"

    # pickup flows up again and the hub shows the case as delivered
    picked = agent.post(f"/api/applications/{online[0]['id']}/pickup", json=collected("申请人0", resident_id(0)))
    assert picked.status_code == 200 and picked.json()["status"] == "picked_up"
    eventually(lambda: operator.get(f"/api/applications/{online[0]['id']}").json()["status"] == "delivered", what="delivered at the hub")

    # the citizen rates the service and complains about another case; both reach the county
    assert agent.post(f"/api/applications/{online[0]['id']}/evaluation", json={"level": 2}).status_code == 400  # a poor rating needs a reason
    assert agent.post(f"/api/applications/{online[0]['id']}/evaluation", json={"level": 5}).status_code == 201
    assert agent.post(f"/api/applications/{online[0]['id']}/evaluation", json={"level": 4}).status_code == 409  # once
    dispatched = agent.post(f"/api/applications/{offline[0]['id']}/dispatch", json={"courier": "中国邮政 EMS", "tracking_no": "EA123456789CN"})
    assert dispatched.status_code == 200 and dispatched.json()["status"] == "dispatched"
    complaint = agent.post(
        "/api/complaints", json={"text": "等候时间太长，窗口只开了一个", "application_id": offline[1]["id"], "contact": "13800138000"}
    )
    assert complaint.status_code == 201
    eventually(lambda: [e["level"] for e in operator.get("/api/evaluations").json()] == [5], what="the evaluation at the hub")
    eventually(
        lambda: [c["complaint_id"] for c in operator.get("/api/complaints").json()] == [complaint.json()["complaint_id"]],
        what="the complaint at the hub",
    )
    eventually(lambda: operator.get(f"/api/applications/{offline[0]['id']}").json()["status"] == "dispatched", what="dispatch at the hub")

    # nothing was quarantined, and the hub's cursor is where the node's chain is
    assert operator.get("/api/quarantine").json() == []
    node_row = next(n for n in operator.get("/api/nodes").json() if n["id"] == "shangcun")
    assert node_row["up_seq"] >= 2 and node_row["down_seq"] >= 2
