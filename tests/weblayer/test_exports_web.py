"""The export downloads, the feed and the action log page through the hub's web layer: an
operator's, with clear errors for a bad period or an unknown export (issue 22 item 6)."""

from __future__ import annotations

import io
import re
import zipfile

from litestar.testing import TestClient


def test_downloads_feed_and_the_action_log_page(hub_client: TestClient):
    op = {"Authorization": "Bearer " + hub_client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]}
    clerk = {"Authorization": "Bearer " + hub_client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]}
    hub_client.post(
        "/api/users",
        json={"username": "clerk-y", "display_name": "审批员 杨", "role": "clerk", "password": "secret1", "department": "mzj"},
        headers=op,
    )
    xlsx = hub_client.get("/api/exports/actions.xlsx", headers=op)
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "新增账号" in zipfile.ZipFile(io.BytesIO(xlsx.content)).read("xl/sharedStrings.xml").decode()
    csv = hub_client.get("/api/exports/cases.csv", params={"department": "mzj"}, headers=op)
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf") and 'filename="yiwang-cases-' in csv.headers["content-disposition"]
    unknown = hub_client.get("/api/exports/people.csv", headers=op)
    assert unknown.status_code == 404 and "没有这种导出" in unknown.json()["detail"]
    assert hub_client.get("/api/exports/cases.csv", params={"start": "2026-13-01"}, headers=op).json()["field"] == "start"
    assert hub_client.get("/api/exports/cases.csv", headers=clerk).status_code == 403
    # new-user pass: ?month= (as the monthly report takes it) was ignored, an unknown point gave an empty file
    november = hub_client.get("/api/exports/cases.csv", params={"month": "2026-11"}, headers=op)
    assert november.status_code == 200 and 'filename="yiwang-cases-2026-11-01-2026-11-30.csv"' in november.headers["content-disposition"]
    for bad, field in (({"node": "nosuch"}, "node"), ({"department": "zzz"}, "department"), ({"month": "2026-11", "start": "2026-11-01"}, "month")):
        refused = hub_client.get("/api/exports/cases.csv", params=bad, headers=op)
        assert refused.status_code == 400 and refused.json()["field"] == field, bad
    # second new-user pass: GET /api/actions took only an exact target and ignored every other filter
    api_log = lambda **q: hub_client.get("/api/actions", params=q, headers=op)  # noqa: E731
    assert [(a["action"], a["target"]) for a in api_log(target="clerk").json()] == [("user.added", "clerk-y")]  # part of it
    assert [a["action"] for a in api_log(action="user").json()] == ["user.added"] and api_log(actor="nobody").json() == []
    assert api_log(start="yesterday").status_code == 400 and api_log(start="2020-01-01", end="2020-01-31").json() == []
    feed = hub_client.get("/api/feed/cases", params={"limit": 5}, headers=op).json()

    assert feed == {"items": [], "next": "", "more": False}
    assert hub_client.get("/api/feed/cases", params={"limit": 0}, headers=op).status_code == 400

    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', hub_client.get("/login").text).group(1)
    hub_client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": csrf})
    page = hub_client.get("/actions")
    assert page.status_code == 200 and "新增账号" in page.text and "县级运维" in page.text and "user.added" not in page.text.split("<select")[0]
    assert "clerk-y" in hub_client.get("/actions", params={"target": "clerk-y"}).text
    assert "这段时间没有符合条件的记录" in hub_client.get("/actions", params={"action": "node"}).text
    assert "日期格式" in hub_client.get("/actions", params={"start": "yesterday"}).text  # said, and the last 30 days shown
    download = hub_client.get("/exports/download", params={"kind": "cases", "fmt": "xlsx", "start": "2026-12-01", "end": "2026-12-31"})
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert "没有这种导出" in hub_client.get("/exports/download", params={"kind": "x", "fmt": "csv"}).text
    assert 'id="export-form"' in hub_client.get("/exports").text


def test_a_nul_in_a_query_or_path_is_a_clear_400_not_a_500(hub_client: TestClient):
    """Adversarial pass: on PostgreSQL a NUL in a query parameter reached a query and was a 500."""
    op = {"Authorization": "Bearer " + hub_client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]}
    for path in ("/api/feed/cases?since=%00", "/api/exports/cases.csv?node=%00", "/api/actions?target=a%00b", "/api/users/a%00b"):
        answer = hub_client.get(path, headers=op) if "users" not in path else hub_client.put(path, json={"disabled": True}, headers=op)
        assert answer.status_code == 400 and "NUL" in answer.json()["detail"], path
    added = hub_client.post("/api/users", json={"username": "n", "display_name": "a\u0000b", "role": "operator", "password": "secret1"}, headers=op)
    assert added.status_code == 400 and added.json()["field"] == "display_name"
    # second adversarial pass: a NUL in any other body text, JSON or form, was a 500 on PostgreSQL
    coded = hub_client.post("/api/enrolment-codes", json={"node_id": "x1", "name": "a\u0000b", "kind": "village"}, headers=op)
    assert coded.status_code == 400 and coded.json()["field"] == "name" and "NUL" in coded.json()["detail"]
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', hub_client.get("/login").text).group(1)
    hub_client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": csrf})
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', hub_client.get("/nodes").text).group(1)
    form = hub_client.post("/nodes/enrolment-codes", data={"node_id": "x2", "name": "a\x00b", "kind": "village", "_csrf_token": csrf})
    assert form.status_code == 400 and "NUL" in form.text
    assert hub_client.get("/actions", params={"before": "99999999999999999999999"}).status_code in (200, 302)  # the newest page, not a 500
