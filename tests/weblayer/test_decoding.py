"""JSON bodies are decoded strictly (issue 18 finding 4): numbers sent as strings ("0") and JSON
sent as text/plain were accepted, because Litestar converts bodies leniently. Each refusal is a
problem that names the field, and changes nothing."""

from __future__ import annotations

import json

from litestar.testing import TestClient

from weblayer.decoding import MAX_ITEMS
from weblayer.problems import PROBLEM_BASE


def bearer(client: TestClient, username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + client.post("/api/login", json={"username": username, "password": password}).json()["token"]}


def refused(answer, status: int = 400, field: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body.get("field") == field
    return body


def test_a_number_sent_as_text_is_refused_and_nothing_is_closed(node_client):
    agent = bearer(node_client, "agent", "pw")
    body = refused(node_client.post("/api/fees/close", json={"cash_counted_fen": "0"}, headers=agent), field="cash_counted_fen")
    assert body["type"] == PROBLEM_BASE + "invalid-input" and "应为整数" in body["detail"]
    assert node_client.get("/api/fees", headers=agent).json()["closes"] == []
    # the same as a number reaches the domain, which answers that no fee was taken today to close
    assert node_client.post("/api/fees/close", json={"cash_counted_fen": 0}, headers=agent).json()["type"] == PROBLEM_BASE + "conflict"


def test_a_boolean_sent_as_text_is_refused(node_client, hub_client):
    agent = bearer(node_client, "agent", "pw")
    form = {"item_code": "RS-001", "applicant_name": "张三", "applicant_id_number": "11010519491231002X", "by_proxy": "true"}
    refused(node_client.post("/api/applications", json=form, headers=agent), field="by_proxy")
    assert node_client.get("/api/applications", headers=agent).json() == []
    operator = bearer(hub_client, "operator", "op-pass")
    refused(hub_client.post("/api/nodes/cun01/link", json={"metered": "true"}, headers=operator), field="metered")


def test_json_sent_as_text_plain_is_refused(node_client):
    agent = bearer(node_client, "agent", "pw")
    answer = node_client.post("/api/complaints", content=json.dumps({"text": "窗口上午一直没人"}), headers=agent | {"content-type": "text/plain"})
    assert refused(answer, 415)["type"] == PROBLEM_BASE + "unsupported-media-type"
    sent = node_client.post("/api/complaints", content=json.dumps({"text": "窗口上午一直没人"}), headers=agent | {"content-type": "application/json"})
    assert sent.status_code == 201


def test_strings_and_lists_are_bounded_at_the_edge(node_client, hub_client):
    agent = bearer(node_client, "agent", "pw")
    form = {"item_code": "RS-001", "applicant_name": "张三", "applicant_id_number": "11010519491231002X"}
    refused(
        node_client.post("/api/applications", json=form | {"materials_checked": ["身份证"] * (MAX_ITEMS + 1)}, headers=agent),
        field="materials_checked",
    )
    refused(node_client.post("/api/applications", json=form | {"applicant_name": "张" * 100_000}, headers=agent), field="applicant_name")
    operator = bearer(hub_client, "operator", "op-pass")
    year = {"year": 2027, "holidays": ["2027-01-01"] * (MAX_ITEMS + 1)}
    refused(hub_client.post("/api/calendar", json=year, headers=operator), field="holidays")
    refused(hub_client.post("/api/login", json={"username": "operator", "password": "x" * 1_000_000}), field="password")


def test_a_field_the_api_does_not_know_is_refused_by_name(node_client):
    """A typo was ignored: ``materials_check`` read as no materials ticked, and the answer blamed
    missing materials instead of the field (new-user pass, issue 18)."""
    agent = bearer(node_client, "agent", "pw")
    form = {"item_code": "RS-001", "applicant_name": "张三", "applicant_id_number": "11010519491231002X", "materials_check": ["居民身份证"]}
    body = refused(node_client.post("/api/applications", json=form, headers=agent), field="materials_check")
    assert body["detail"] == "请求内容不符合要求：没有 materials_check 这个字段，请核对字段名"
    assert node_client.get("/api/applications", headers=agent).json() == []
