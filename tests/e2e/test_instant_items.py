"""即办件: a township approver decides an instant item on the spot; the county records it as
decided at the township under delegation. Other items, other roles and village points cannot."""

from __future__ import annotations

import pytest

from provisioning.federation import LocalFederation, NodeSpec, free_port
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_instant_item_decided_at_the_township_is_recorded_as_such(federation: LocalFederation):
    spec = NodeSpec(
        "qingshan",
        "青山镇便民服务中心",
        "township",
        free_port(),
        users=[("staff", "窗口 刘洋", "township_staff"), ("boss", "即办审批 周敏", "township_approver")],
    )
    federation.enrol_node(spec)
    federation.start_node(spec)
    base = f"http://127.0.0.1:{spec.port}"
    staff, approver = Api(base, "staff", federation.password), Api(base, "boss", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)

    instant = staff.post(
        "/api/applications",
        json={"item_code": "WJ-001", "applicant_name": "赵敏", "applicant_id_number": resident_id(21), "materials_checked": ["夫妻双方居民身份证"]},
    ).json()
    ordinary = staff.post(
        "/api/applications",
        json={"item_code": "MZ-003", "materials_checked": checked("MZ-003"), "applicant_name": "钱七", "applicant_id_number": resident_id(22)},
    ).json()

    refused = staff.post(f"/api/applications/{instant['id']}/decide-on-the-spot", json={"decision": "approved"})
    assert refused.status_code == 403 and "乡镇审批人" in refused.json()["detail"]
    not_instant = approver.post(f"/api/applications/{ordinary['id']}/decide-on-the-spot", json={"decision": "approved"})
    assert not_instant.status_code == 403 and "县级部门审批" in not_instant.json()["detail"]
    # the hub delegates the township's key for its instant items: the result is signed here, at once
    eventually(lambda: staff.get("/api/status").json()["delegated_until"], what="the hub's delegation at the township")
    done = approver.post(f"/api/applications/{instant['id']}/decide-on-the-spot", json={"decision": "approved"})
    assert done.status_code == 200 and done.json()["status"] == "approved"

    def decided_at_the_hub() -> bool:
        view = operator.get(f"/api/applications/{instant['id']}")
        return view.status_code == 200 and view.json()["status"] == "approved" and view.json()["decided_locally"] is True

    eventually(decided_at_the_hub, what="the delegated decision at the hub")
    assert operator.get(f"/api/applications/{instant['id']}").json()["decided_by"] == "即办审批 周敏"
    [result] = operator.get("/api/licences", params={"holder_id": resident_id(21)}).json()  # in the county's library too
    assert result["licence_no"] == "YW-qingshan-000001"
    checked_here = staff.post("/api/licences/verify", json={"text": result["text"]}).json()  # offline check with the pinned hub key
    assert checked_here["valid"] and checked_here["licence"]["issuer_node"] == "qingshan"
    eventually(lambda: operator.get(f"/api/applications/{ordinary['id']}").status_code == 200, what="the ordinary case at the hub")
    assert operator.get(f"/api/applications/{ordinary['id']}").json()["status"] == "received"  # still the department's to decide
    assert operator.get("/api/quarantine").json() == []
