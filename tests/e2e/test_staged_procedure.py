"""Issue 19 item 3: 残疾人两项补贴 runs township 初审 → county 残联 审核 → county 民政 审批. A
village point takes it in; the hub sends it to the village's township; the township approver
decides the first stage with the network down; when the link returns the decision goes up
signed, the county's stages follow in order, and the result reaches the village."""

from __future__ import annotations

import pytest

from provisioning.federation import LocalFederation, NodeSpec, free_port
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_a_township_stage_decided_offline_then_the_county_stages_in_order(federation: LocalFederation):
    township = NodeSpec("qingshan", "青山镇便民服务中心", "township", free_port(), users=[("boss", "乡镇审批 周敏", "township_approver")])
    village = NodeSpec("shangcun", "上村代办点", "village", free_port(), parent="qingshan", users=[("agent", "代办员 王秀兰", "village_agent")])
    for spec in (township, village):
        federation.enrol_node(spec)
        federation.start_node(spec)
    agent = Api(f"http://127.0.0.1:{village.port}", "agent", federation.password)
    boss = Api(f"http://127.0.0.1:{township.port}", "boss", federation.password)
    cl, mzj = Api(federation.hub_url, "clerk-cl", federation.password), Api(federation.hub_url, "clerk-mzj", federation.password)

    app = agent.post(
        "/api/applications",
        json={"item_code": "MZ-005", "applicant_name": "周建国", "applicant_id_number": resident_id(41), "materials_checked": checked("MZ-005")},
    ).json()
    eventually(lambda: [r["application_id"] for r in boss.get("/api/reviews").json()] == [app["id"]], what="the case on the township's review list")
    [review] = boss.get("/api/reviews").json()
    assert (review["stage_name"], review["final"], review["from_node"]) == ("初审", False, "shangcun")
    assert review["applicant_id_number"] == "1101**********" + resident_id(41)[-4:]  # masked in the API; in full on the review page
    early = cl.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"})
    assert early.status_code == 409 and "乡镇初审环节" in early.json()["detail"]

    federation.stop("nats")
    eventually(lambda: boss.get("/api/status").json()["online"] is False, what="the township to notice the link is down")
    agent_refusal = Api(f"http://127.0.0.1:{village.port}", "agent", federation.password).post(
        f"/api/reviews/{app['id']}/0/decision", json={"decision": "approved"}
    )
    assert agent_refusal.status_code == 403  # a village agent decides no stage
    done = boss.post(f"/api/reviews/{app['id']}/0/decision", json={"decision": "approved", "reason": "入户核实属实"})
    assert done.status_code == 200 and done.json()["status"] == "approved"
    again = boss.post(f"/api/reviews/{app['id']}/0/decision", json={"decision": "denied", "reason": "改主意"})
    assert again.status_code == 409
    federation.start_nats()

    eventually(lambda: agent.get(f"/api/applications/{app['id']}").json()["status"] == "accepted", what="受理 by the township at the village")
    view = mzj.get(f"/api/applications/{app['id']}").json()
    assert view["status"] == "accepted" and view["accepted_by"] == "乡镇审批 周敏"
    not_yet = mzj.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"})
    assert not_yet.status_code == 409 and "尚未到本部门" in not_yet.json()["detail"]
    assert cl.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve", "reason": "残疾等级核实无误"}).status_code == 200
    assert mzj.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"}).status_code == 200
    eventually(lambda: agent.get(f"/api/applications/{app['id']}").json()["status"] == "approved", what="the result at the village")
    assert Api(federation.hub_url, "operator", federation.password).get("/api/quarantine").json() == []
