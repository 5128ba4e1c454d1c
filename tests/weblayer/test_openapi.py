"""The OpenAPI documents say what the APIs do (issue 18 finding 7): JSON handlers returned dicts,
so there were no response schemas, no 4xx or application/problem+json responses and no security
scheme, and the pages were listed as if they were API."""

from __future__ import annotations

import pytest

METHODS = {"get", "post", "put", "delete", "patch"}
OPEN = {("post", "/api/login"), ("get", "/api/health"), ("get", "/api/ready")}
PUBLIC = {  # what anybody may call: nothing else is reached without a token
    "node_client": OPEN | {("get", "/api/status"), ("post", "/api/licences/verify")},
    "hub_client": OPEN
    | {
        ("get", "/api/public/progress"),
        ("get", "/api/public/decisions"),
        ("get", "/api/public/commitments"),  # 告知承诺公示: published by law, names partly hidden
        ("post", "/api/public/ratings"),  # 好差评 from the citizen's phone: receipt number plus the ID's last four, throttled
        ("get", "/api/catalog"),
        ("get", "/api/enrolment/ca"),
        ("post", "/api/enrolment"),  # the enrolment code is the credential
        ("get", "/api/nodes/{node_id}/history"),  # the restore token is the credential
        ("post", "/api/sms/reports"),
        ("get", "/api/public/guides"),  # the portal (issue 21): guides, announcements, FAQ …
        ("get", "/api/public/announcements"),
        ("get", "/api/public/faq"),
        ("post", "/api/public/consultations"),  # … questions and complaints anybody may send, limited per address,
        ("get", "/api/public/consultations/{token}"),  # read back with the token they were given
        ("post", "/api/public/complaints"),
        ("get", "/api/public/complaints/{token}"),
        ("get", "/api/public/appointment-points"),  # 预约: points, slots, a code to the phone, the booking by its token
        ("get", "/api/public/appointment-points/{node_id}/slots"),
        ("post", "/api/public/phone-codes"),
        ("post", "/api/public/appointments"),
        ("get", "/api/public/appointments/{token}"),
        ("post", "/api/public/appointments/{token}/cancellation"),  # the SMS gateway's delivery reports: its report token is the credential
    },
}


@pytest.mark.parametrize("app", ["node_client", "hub_client"])
def test_every_operation_documents_its_problems_and_its_token(app, request):
    doc = request.getfixturevalue(app).get("/api/schema/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer", "description": "POST /api/login 返回的 token"}
    assert all(path.startswith("/api/") for path in doc["paths"])  # the pages are not API
    operations = [(method, path, op) for path, item in doc["paths"].items() for method, op in item.items() if method in METHODS]
    assert len(operations) > 15
    for _, path, op in operations:
        for status in ("400", "401", "404", "409", "429", "500"):
            assert op["responses"][status]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}, (
                path,
                status,
            )
    assert {(method, path) for method, path, op in operations if op.get("security") != [{"bearer": []}]} == PUBLIC[app]
    assert doc["paths"]["/api/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HealthOut"
    }


def test_a_case_is_a_typed_allow_list_with_masked_ids(node_client):
    doc = node_client.get("/api/schema/openapi.json").json()
    listed = doc["paths"]["/api/applications"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"type": "array", "items": {"$ref": "#/components/schemas/ApplicationOut"}}
    fields = set(doc["components"]["schemas"]["ApplicationOut"]["properties"])
    assert {"receipt_no", "status_text", "applicant_id_number", "supplement"} <= fields
    assert not fields & {"supplement_json", "agent_password", "token_hash"}


@pytest.mark.parametrize("app", ["node_client", "hub_client"])
def test_the_api_reference_is_one_page_with_nothing_from_a_cdn(app, request):
    """Issue 22 item 8: the stock viewers loaded their scripts from public CDNs, so they were blank
    offline. /api/schema is now one server-rendered page; the stock viewers' paths are gone."""
    client = request.getfixturevalue(app)
    page = client.get("/api/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script" not in html and "cdn" not in html.lower() and 'src="http' not in html and 'href="http' not in html
    doc = client.get("/api/schema/openapi.json").json()
    assert "/api/health" in html and "HealthOut" in html and f"{doc['info']['title']}" in html
    assert html.count('class="op" id=') >= sum(len([m for m in ops.values() if isinstance(m, dict)]) for ops in doc["paths"].values())
    for stock in ("swagger", "redoc", "rapidoc", "elements", "openapi.yaml"):
        assert client.get(f"/api/schema/{stock}").status_code == 404


def test_the_reference_lists_operations_by_area_and_the_values_a_field_takes(hub_client):
    """New-user pass: every operation was under 其他, and nothing said that a decision is approve or
    deny: `{"decision": "approved"}` was refused without naming the values."""
    doc = hub_client.get("/api/schema/openapi.json").json()
    assert doc["components"]["schemas"]["DecisionIn"]["properties"]["decision"]["enum"] == ["approve", "deny"]
    assert doc["components"]["schemas"]["EnrolmentCodeIn"]["properties"]["kind"]["enum"] == ["village", "township"]
    html = hub_client.get("/api/schema").text
    assert "approve / deny" in html and ">其他<" not in html and ">applications<" in html and ">exports<" in html
    assert ">enrolment-codes<" not in html and "<code>403</code> 没有权限" in html and "Request fulfilled" not in html  # errors listed, in Chinese
    token = hub_client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]
    said = hub_client.post("/api/applications/nosuch/decision", json={"decision": "approved"}, headers={"Authorization": f"Bearer {token}"})
    assert said.status_code == 400 and said.json()["field"] == "decision" and "不能是 'approved'" in said.json()["detail"]
