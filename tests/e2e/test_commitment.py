"""Issue 19 item 7, end to end: 告知承诺制. A 居住证 applicant signs the commitment instead of
bringing 居住地住址证明; the county decides at once (先予办理) and the result reaches the window;
the commitment is published; the 公安局 post-check finds it false and the decision is revoked at
the window too."""

from __future__ import annotations

import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import RESIDENCE_FORM, SIGNATURE_PNG, checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_a_commitment_is_decided_at_once_published_post_checked_and_revoked(federation: LocalFederation):
    spec = running_village(federation, "qingshan", kind="township")  # 居住证 is a township item
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    gaj = Api(federation.hub_url, "clerk-gaj", federation.password)
    public = Api(federation.hub_url, "operator", federation.password)
    body = {
        "item_code": "GA-006",
        "applicant_name": "赵丽",
        "applicant_id_number": resident_id(61),
        "materials_checked": [m for m in checked("GA-006") if m != "居住地住址证明"],
        "form": RESIDENCE_FORM,
    }
    refused = agent.post("/api/applications", json=body)
    assert refused.status_code == 400 and "居住地住址证明" in refused.json()["detail"]  # without the commitment it is missing
    app = agent.post("/api/applications", json=body | {"commitment": True, "commitment_png_base64": SIGNATURE_PNG})
    assert app.status_code == 201, app.text
    app_id = app.json()["id"]

    eventually(lambda: agent.get(f"/api/applications/{app_id}").json()["status"] == "approved", what="the decision, at once, at the window")
    assert agent.get(f"/api/applications/{app_id}").json()["decided_by"] == "告知承诺制（先予办理）"
    [published] = [c for c in public.get("/api/public/commitments").json() if c["receipt_no"] == app.json()["receipt_no"]]
    assert published["applicant"] == "赵*" and published["replaces"] == ["居住地住址证明"] and published["post_check"] == "核查中"
    [check] = gaj.get("/api/postchecks").json()
    assert check["application_id"] == app_id and check["state"] == "pending" and not check["overdue"]

    assert gaj.post(f"/api/postchecks/{app_id}", json={"outcome": "false"}).status_code == 400  # the reason is required
    done = gaj.post(f"/api/postchecks/{app_id}", json={"outcome": "false", "reason": "经入户核查，申请人未在申报地址居住"})
    assert done.status_code == 200 and done.json()["state"] == "false"
    eventually(lambda: agent.get(f"/api/applications/{app_id}").json()["status"] == "revoked", what="the revocation at the window")
    assert "未在申报地址居住" in agent.get(f"/api/applications/{app_id}").json()["decision_reason"]
    assert public.get("/api/quarantine").json() == []
