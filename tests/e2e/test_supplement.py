"""补正: the clerk asks for a supplement with the complete list; the case comes back to the agent
with that list; an incomplete supplement is refused; the complete one goes up with its materials
and the case returns to the clerk, who decides."""

from __future__ import annotations

import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e
SCAN = b"%PDF-1.4\n" + bytes(50_000)


def test_supplement_round_trip(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    app = agent.post(
        "/api/applications",
        json={
            "item_code": "MZ-003",  # accepted by the county (低保's 补正 would be the township's)
            "applicant_name": "李桂芳",
            "applicant_id_number": resident_id(11),
            "materials_checked": checked("MZ-003"),
        },
    ).json()
    eventually(lambda: clerk.get(f"/api/applications/{app['id']}").status_code == 200, what="the case at the hub")

    assert clerk.post(f"/api/applications/{app['id']}/supplement-request", json={"missing": [" "]}).status_code == 400
    wanted = ["村委会出具的家庭收入证明", "近六个月银行流水"]
    asked = clerk.post(f"/api/applications/{app['id']}/supplement-request", json={"missing": wanted})
    assert asked.status_code == 200 and asked.json()["status"] == "supplement_requested"
    eventually(lambda: agent.get(f"/api/applications/{app['id']}").json()["status"] == "supplement_requested", what="the request at the node")
    assert agent.get(f"/api/applications/{app['id']}").json()["supplement"] == ["村委会出具的家庭收入证明", "近六个月银行流水"]

    half = agent.post(
        f"/api/applications/{app['id']}/supplement", data={"have_0": "1"}, files={"file_1": ("", b"", "application/octet-stream")}
    )  # as a browser sends an empty file input
    assert half.status_code == 400 and "近六个月银行流水" in half.json()["detail"]  # the list is supplied in full, once
    done = agent.post(f"/api/applications/{app['id']}/supplement", data={"have_0": "1"}, files={"file_1": ("流水.pdf", SCAN, "application/pdf")})
    assert done.status_code == 200 and done.json()["status"] == "submitted"

    def back_with_materials() -> bool:
        view = clerk.get(f"/api/applications/{app['id']}").json()
        return view["status"] == "received" and [m["material"] for m in view["materials"]] == ["近六个月银行流水"] and view["materials_complete"]

    eventually(back_with_materials, what="the case back in the clerk's queue with the scan")
    assert clerk.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"}).status_code == 200
    eventually(lambda: agent.get(f"/api/applications/{app['id']}").json()["status"] == "approved", what="the decision at the node")
