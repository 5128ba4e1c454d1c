"""Issue 19 item 6: 一号申请 across the county. A citizen got a 残疾人证 at 上村; at 下村 the agent
looks them up while online and sees that case and the e-licence; with the network down the point
answers from what it learned, and the e-licence stands in for the paper 残疾人证, offline."""

from __future__ import annotations

import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_a_persons_county_record_is_looked_up_online_and_served_from_the_cache_offline(federation: LocalFederation):
    here, there = running_village(federation, "shangcun"), running_village(federation, "xiacun")
    first, second = (Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password) for spec in (here, there))
    cl = Api(federation.hub_url, "clerk-cl", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    person = resident_id(51)

    cert = first.post(
        "/api/applications",
        json={"item_code": "CL-001", "materials_checked": checked("CL-001"), "applicant_name": "周建国", "applicant_id_number": person},
    ).json()
    eventually(lambda: cl.get(f"/api/applications/{cert['id']}").status_code == 200, what="the 残疾人证 case at the hub")
    shared = cl.get(f"/api/applications/{cert['id']}").json()["shared_materials"]  # 户口簿 comes by data sharing
    assert [(m["material"], m["state"]) for m in shared] == [("户口簿", "none")]  # the stand-in registry does not hold this person
    assert cl.post(f"/api/applications/{cert['id']}/decision", json={"decision": "approve"}).status_code == 200

    online = eventually(lambda: (r := second.get(f"/api/people/{person}/county").json())["found"] and r["licences"] and r, what="the county's answer")
    assert online["live"] and online["applicant_name"] == "周建国"
    assert [(c["receipt_no"], c["point"], c["status"]) for c in online["cases"]] == [(cert["receipt_no"], "shangcun 代办点", "approved")]
    [licence] = online["licences"]
    assert person not in str(second.get(f"/api/people/{person}/county").json())  # the answer carries no full ID
    assert any(a["action"] == "person.looked_up" and a["actor"] == "xiacun" for a in operator.get("/api/actions").json())

    federation.stop("nats")
    eventually(lambda: second.get("/api/status").json()["online"] is False, what="下村 to notice the link is down")
    offline = second.get(f"/api/people/{person}/county").json()
    assert offline["found"] and not offline["live"] and offline["cases"] == online["cases"] and offline["fetched_at"]
    assert second.get(f"/api/people/{resident_id(52)}/county").json() == second.get(f"/api/people/{resident_id(52)}/county").json() | {"found": False}

    paperless = [m for m in checked("MZ-005") if m != "残疾人证"]
    taken = second.post(
        "/api/applications",
        json={
            "item_code": "MZ-005",
            "materials_checked": paperless,
            "applicant_name": "周建国",
            "applicant_id_number": person,
            "licences": {"残疾人证": licence["licence_no"]},  # known to 下村 only from the county's answer
        },
    )
    assert taken.status_code == 201, taken.text
    federation.start_nats()
