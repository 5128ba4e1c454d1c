"""Every clerk action reaches the point that took the application in, through real processes:
受理 and a parallel approval by two departments (with its e-licence), and 不予受理 with its reason
(refused without one), handed to the citizen at the window."""

from __future__ import annotations

import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import birth_form, checked, collected, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_acceptance_parallel_approval_and_non_acceptance_reach_the_point(federation: LocalFederation):
    spec = running_village(federation, "shangcun", kind="township")  # 新生儿出生“一件事” is a township item
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    mzj, gaj, ybj = (Api(federation.hub_url, u, federation.password) for u in ("clerk-mzj", "clerk-gaj", "clerk-ybj"))
    both = agent.post(  # 公安 leads, 医保 decides in parallel
        "/api/applications",
        json={
            "item_code": "GA-007",
            "applicant_name": "周建国",
            "applicant_id_number": resident_id(21),
            "materials_checked": checked("GA-007"),
            "form": birth_form(21),
        },
    ).json()
    one = agent.post(
        "/api/applications",
        json={"item_code": "MZ-003", "applicant_name": "吴秀英", "applicant_id_number": resident_id(22), "materials_checked": checked("MZ-003")},
    ).json()
    eventually(lambda: len(mzj.get("/api/queue").json()) == 1 and len(gaj.get("/api/queue").json()) == 1, what="the cases in their queues")
    [shared] = ybj.get("/api/queue").json()
    assert shared["id"] == both["id"] and shared["pre_review_deadline"] is not None and shared["task"]["status"] == "pending"

    assert gaj.post(f"/api/applications/{both['id']}/acceptance").status_code == 200
    eventually(lambda: agent.get(f"/api/applications/{both['id']}").json()["status"] == "accepted", what="受理 at the node")
    assert ybj.post(f"/api/applications/{both['id']}/decision", json={"decision": "approve"}).status_code == 200
    assert gaj.get(f"/api/applications/{both['id']}").json()["status"] == "accepted"  # 公安局 has not decided yet
    assert gaj.post(f"/api/applications/{both['id']}/decision", json={"decision": "approve"}).status_code == 200
    eventually(lambda: agent.get(f"/api/applications/{both['id']}").json()["status"] == "approved", what="the joint approval at the node")
    [licence] = gaj.get("/api/licences", params={"holder_id": resident_id(21)}).json()  # one result for the joint decision
    assert licence["application_id"] == both["id"]

    refused = mzj.post(f"/api/applications/{one['id']}/non-acceptance", json={"reason": ""})
    assert (
        refused.status_code == 400 and refused.headers["content-type"].startswith("application/problem+json") and "原因" in refused.json()["detail"]
    )
    assert mzj.get(f"/api/applications/{one['id']}").json()["status"] == "received"
    reason = "申请人未满80周岁"
    assert mzj.post(f"/api/applications/{one['id']}/non-acceptance", json={"reason": reason}).status_code == 200
    eventually(lambda: agent.get(f"/api/applications/{one['id']}").json()["status"] == "not_accepted", what="不予受理 at the node")
    assert agent.get(f"/api/applications/{one['id']}").json()["decision_reason"] == reason
    handed = agent.post(f"/api/applications/{one['id']}/pickup", json=collected("吴秀英", resident_id(22)))
    assert handed.status_code == 200
    eventually(lambda: mzj.get(f"/api/applications/{one['id']}").json()["delivered_at"] is not None, what="the notice handed over, at the hub")
    assert mzj.get(f"/api/applications/{one['id']}").json()["status"] == "not_accepted"
