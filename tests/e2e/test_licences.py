"""电子证照: an approval issues a result signed by the hub key; it reaches the node, which verifies
it offline against the key it pinned at enrolment (NATS stopped to prove it); a tampered copy is
refused at the node and on the hub's public verification page; the library finds it by holder."""

from __future__ import annotations

import httpx
import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_licence_is_issued_sent_down_and_verified_offline(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    node_url = f"http://127.0.0.1:{spec.port}"
    agent = Api(node_url, "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    holder = resident_id(31)
    app = agent.post(
        "/api/applications",
        json={"item_code": "MZ-004", "materials_checked": checked("MZ-004"), "applicant_name": "孙桂兰", "applicant_id_number": holder},
    ).json()
    eventually(lambda: clerk.get(f"/api/applications/{app['id']}").status_code == 200, what="the case at the hub")
    assert clerk.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"}).status_code == 200

    [licence] = clerk.get("/api/licences", params={"holder_id": holder}).json()
    assert licence["application_id"] == app["id"] and licence["text"].startswith("YWL1.")

    eventually(lambda: agent.get(f"/api/applications/{app['id']}").json()["status"] == "approved", what="the decision at the node")
    eventually(lambda: agent.post("/api/licences/verify", json={"text": licence["text"]}).status_code == 200, what="the node can verify")

    federation.stop("nats")  # offline: verification needs nothing but the pinned key
    good = agent.post("/api/licences/verify", json={"text": licence["text"]})
    assert good.status_code == 200 and good.json()["licence"]["holder_name"] == "孙桂兰" and "*" in good.json()["licence"]["holder_id"]
    tampered = licence["text"][:-6] + ("A" if licence["text"][-6] != "A" else "B") + licence["text"][-5:]
    bad = agent.post("/api/licences/verify", json={"text": tampered})
    assert bad.status_code == 400 and "无效" in bad.json()["detail"]

    public = httpx.get(f"{federation.hub_url}/verify", params={"licence": licence["text"]}, timeout=10)
    assert public.status_code == 200 and "有效" in public.text and "孙桂兰" in public.text
    forged = httpx.get(f"{federation.hub_url}/verify", params={"licence": tampered}, timeout=10)
    assert "无效" in forged.text


def test_a_later_application_reuses_a_licence_instead_of_paper(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    cl, mzj = (Api(federation.hub_url, u, federation.password) for u in ("clerk-cl", "clerk-mzj"))
    holder, other = resident_id(41), resident_id(42)
    cert = agent.post(
        "/api/applications",
        json={"item_code": "CL-001", "materials_checked": checked("CL-001"), "applicant_name": "周建国", "applicant_id_number": holder},
    ).json()
    eventually(lambda: cl.get(f"/api/applications/{cert['id']}").status_code == 200, what="the 残疾人证 case at the hub")
    assert cl.post(f"/api/applications/{cert['id']}/decision", json={"decision": "approve"}).status_code == 200
    [licence] = cl.get("/api/licences", params={"holder_id": holder}).json()
    # the licence reaches the node with the decision (one downlink transaction); /verify alone would
    # pass before it arrived, since it checks any text offline
    eventually(lambda: agent.get(f"/api/applications/{cert['id']}").json()["status"] == "approved", what="the licence at the node")

    paperless = [m for m in checked("MZ-005") if m != "残疾人证"]
    form = {"item_code": "MZ-005", "materials_checked": paperless, "applicant_name": "周建国", "applicant_id_number": holder}
    without = agent.post("/api/applications", json=form)
    assert without.status_code == 400 and "残疾人证" in without.json()["detail"]
    someone_else = agent.post(
        "/api/applications", json=form | {"applicant_name": "吴秀英", "applicant_id_number": other, "licences": {"残疾人证": licence["text"]}}
    )
    assert someone_else.status_code == 400 and "不是申请人本人" in someone_else.json()["detail"]
    unknown = agent.post("/api/applications", json=form | {"licences": {"残疾人证": "YW202600009999"}})
    assert unknown.status_code == 400 and "出示证照全文" in unknown.json()["detail"]
    app = agent.post("/api/applications", json=form | {"licences": {"残疾人证": licence["licence_no"]}})
    assert app.status_code == 201, app.text
    case = eventually(lambda: mzj.get(f"/api/applications/{app.json()['id']}").json().get("licences_used"), what="the case at the hub")
    assert case == [{"material": "残疾人证", "licence_no": licence["licence_no"], "verified": True, "application_id": cert["id"]}]
