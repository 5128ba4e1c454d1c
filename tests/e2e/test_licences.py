"""电子证照: an approval issues a result signed by the hub key; it reaches the node, which verifies
it offline against the key it pinned at enrolment (NATS stopped to prove it); a tampered copy is
refused at the node and on the hub's public verification page; the library finds it by holder."""

from __future__ import annotations

import httpx
import pytest

from provisioning.federation import LocalFederation

from ..conftest import Api, checked, resident_id, village
from .test_walking_skeleton import eventually

pytestmark = pytest.mark.e2e


def test_licence_is_issued_sent_down_and_verified_offline(federation: LocalFederation):
    spec = village("shangcun")
    federation.enrol_node(spec)
    federation.start_node(spec)
    node_url = f"http://127.0.0.1:{spec.port}"
    agent = Api(node_url, "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    holder = resident_id(31)
    app = agent.post("/api/applications", json={"item_code": "MZ-004", "materials_checked": checked("MZ-004"), "applicant_name": "孙桂兰", "applicant_id_number": holder}).json()
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
