"""The hub's web layer on a real SQLite file (NATS deliberately unreachable: the UI must not care)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from central.app import create_app
from central.cli import initialise
from central.db import make_engine
from central.settings import Settings
from provisioning.natsd import init_nats, new_user_seed
from sync_protocol import user_nkey_from_seed


@pytest.fixture
def client(tmp_path: Path, hub_db_url: str):
    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9", db_url=hub_db_url)
    initialise(settings, operator_password="op-pass", demo_password="pw")
    init_nats(settings.nats_dir, "127.0.0.1", 9)  # the county CA: enrolment slips carry its fingerprint
    with TestClient(create_app(settings)) as client:
        yield client


def csrf(client: TestClient, path: str) -> str:
    return re.search(r'name="_csrf_token" value="([^"]+)"', client.get(path).text).group(1)


@pytest.mark.parametrize("path", ["/login", "/api/health", "/api/schema/openapi.json"])
def test_public_pages_answer(client, path):
    assert client.get(path).status_code == 200


def test_a_page_names_its_icon_so_no_browser_asks_for_favicon_ico(client):
    """/favicon.ico was a 404 in the access log and the metrics on every first page a browser opened
    (headless Chromium asks for none, so this looks at the page itself)."""
    assert '<link rel="icon" href="data:,">' in client.get("/login").text


def test_pages_need_login_and_api_needs_a_token(client):
    assert client.get("/queue", follow_redirects=False).headers["location"] == "/login"
    response = client.get("/api/queue")
    assert response.status_code == 401 and response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "登录已失效，请重新登录"


NKEY_A, NKEY_B = user_nkey_from_seed(new_user_seed()), user_nkey_from_seed(new_user_seed())


def test_bad_api_input_is_a_problem_not_a_500(client):
    response = client.post("/api/login", json={"username": 3})
    assert response.status_code == 400 and response.json()["type"].endswith("/invalid-input")
    response = client.post("/api/enrolment", json={"code": "AAAA-BBBB-CCCC", "public_key": "zz", "nats_public_key": NKEY_A})
    assert response.status_code == 400 and "公钥" in response.json()["detail"]
    response = client.post("/api/enrolment", json={"code": "AAAA-BBBB-CCCC", "public_key": "ab" * 32, "nats_public_key": "UABC"})
    assert response.status_code == 400 and response.json()["field"] == "nats_public_key"


def test_clerk_logs_in_and_sees_an_empty_queue(client):
    token = csrf(client, "/login")
    response = client.post("/login", data={"username": "clerk-mzj", "password": "pw", "_csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200 and "审批队列" in response.text and "队列为空" in response.text


def test_form_without_csrf_token_is_refused_in_chinese(client):
    response = client.post("/login", data={"username": "clerk-mzj", "password": "pw"})
    assert response.status_code == 403 and "CSRF" in response.text


def test_operator_creates_an_enrolment_code_and_a_used_code_is_refused(client):
    token = client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    bad = client.post("/api/enrolment-codes", json={"node_id": "Bad Id", "name": "x", "kind": "village"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["field"] == "node_id"
    code = client.post("/api/enrolment-codes", json={"node_id": "shangcun", "name": "上村", "kind": "village"}, headers=auth).json()["code"]
    a = {"public_key": "ab" * 32, "nats_public_key": NKEY_A}
    b = {"public_key": "cd" * 32, "nats_public_key": NKEY_B}
    first = client.post("/api/enrolment", json={"code": code} | a)
    assert first.status_code == 200 and first.json()["node_id"] == "shangcun" and len(first.json()["catalog"]["items"]) >= 15
    assert client.post("/api/enrolment", json={"code": code} | a).json()["node_id"] == "shangcun"  # lost answer: retry is safe
    reused = client.post("/api/enrolment", json={"code": code} | b)
    assert reused.status_code == 409 and "已经使用" in reused.json()["detail"]
    assert client.post("/api/enrolment", json={"code": "XXXX-XXXX-XXXX"} | b).status_code == 404


def test_a_village_belongs_to_a_township_the_hub_knows(client):
    """New-user pass: a village's parent was taken as typed ("nosuch", or another village), and its
    township stages then waited for a township that did not exist."""
    auth = operator_api(client)
    village = {"node_id": "xicun", "name": "西村", "kind": "village"}
    for parent in ("nosuch", "shangcun"):
        if parent == "shangcun":
            client.post("/api/enrolment-codes", json={"node_id": "shangcun", "name": "上村", "kind": "village"}, headers=auth)
        refused = client.post("/api/enrolment-codes", json=village | {"parent": parent}, headers=auth)
        assert refused.status_code == 400 and refused.json()["field"] == "parent" and "乡镇" in refused.json()["detail"], parent
    township = {"node_id": "qingshan", "name": "青山镇", "kind": "township"}
    assert client.post("/api/enrolment-codes", json=township | {"parent": "qingshan"}, headers=auth).status_code == 400
    assert client.post("/api/enrolment-codes", json=township, headers=auth).status_code == 201  # on its way: its villages may follow
    by_name = client.post("/api/enrolment-codes", json=village | {"parent": "青山镇"}, headers=auth)  # a newcomer types the name
    assert by_name.status_code == 400 and "节点编号" in by_name.json()["detail"] and "qingshan（青山镇）" in by_name.json()["detail"]
    assert client.post("/api/enrolment-codes", json=village | {"parent": "qingshan"}, headers=auth).status_code == 201
    token = csrf(client, "/login")
    client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
    assert '<option value="qingshan" label="青山镇">' in client.get("/nodes").text and '<option value="shangcun"' not in client.get("/nodes").text


def test_a_point_is_told_the_hubs_nats_by_the_name_it_reaches_the_hub_by(tmp_path: Path):
    """New-user pass: the service install's hub reaches its NATS at 127.0.0.1, and told every point
    to do the same: a point on another machine looked for NATS on itself and never synced."""
    settings = Settings(data_dir=tmp_path / "hub", nats_url="tls://127.0.0.1:4700", public_url="https://hub.county:8700")
    initialise(settings, operator_password="op-pass")
    init_nats(settings.nats_dir, "hub.county", 4700)
    with TestClient(create_app(settings)) as client:
        auth = operator_api(client)
        code = client.post("/api/enrolment-codes", json={"node_id": "shangcun", "name": "上村", "kind": "village"}, headers=auth).json()["code"]
        answer = client.post("/api/enrolment", json={"code": code, "public_key": "ab" * 32, "nats_public_key": NKEY_A}).json()
    assert answer["nats_url"] == "tls://hub.county:4700"
    cluster = Settings(data_dir=tmp_path, nats_url="tls://127.0.0.1:4700,tls://10.1.0.2:4700", public_url="https://hub.county")
    assert cluster.nats_url_for_points == "tls://hub.county:4700,tls://10.1.0.2:4700"
    assert Settings(data_dir=tmp_path, public_url="http://127.0.0.1:8700").nats_url_for_points == "tls://127.0.0.1:4700"  # one machine: as it is
    v6 = Settings(data_dir=tmp_path, public_url="http://[2001:db8::5]:8700")  # second adversarial pass: no brackets, no link
    assert v6.nats_url_for_points == "tls://[2001:db8::5]:4700"
    assert Settings(data_dir=tmp_path, nats_url="tls://u:secret@10.1.1.1:4700").nats_url_for_points == "tls://10.1.1.1:4700"  # not the hub's password
    said = Settings(data_dir=tmp_path, public_url="https://hub.county", nats_public_url="tls://nats.county:4222")
    assert said.nats_url_for_points == "tls://nats.county:4222"
    # second new-user pass: `--public-url hub.county:8700` (no scheme) went onto every slip, and its points were told 127.0.0.1 again
    from click.testing import CliRunner

    from yiwang import main

    for args, said_back in (
        (["--public-url", "hub.county:8700"], "give the whole address"),
        (["--https", "--public-url", "http://hub.county:8700"], "starts https://"),
    ):
        done = CliRunner().invoke(main, ["hub", "serve", "--dir", str(settings.data_dir), *args, "--check"])
        assert done.exit_code == 2 and said_back in done.output, done.output
    assert (
        CliRunner().invoke(main, ["hub", "serve", "--dir", str(settings.data_dir), "--public-url", "https://hub.county:8700", "--check"]).exit_code
        == 0
    )


def test_operator_loads_a_year_the_holiday_library_does_not_know(client):
    token = client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    status = client.get("/api/calendar", headers=auth).json()
    assert status["warning"] is bool(status["missing_years"])
    bad = client.post("/api/calendar", json={"year": 2099, "holidays": ["2099-13-01"]}, headers=auth)
    assert bad.status_code == 400 and "格式不正确" in bad.json()["detail"]
    loaded = client.post("/api/calendar", json={"year": 2099, "holidays": ["2099-01-01"], "workdays": ["2099-01-03"]}, headers=auth)
    assert loaded.status_code == 201 and loaded.json()["days"] == 2 and 2099 in loaded.json()["loaded_years"]
    clerk = client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]
    assert client.post("/api/calendar", json={"year": 2099, "holidays": []}, headers={"Authorization": f"Bearer {clerk}"}).status_code == 403


def test_the_operator_loads_a_years_holidays_on_the_nodes_page(client):
    """Second new-user pass: the warning said to POST /api/calendar, and there was no page for it."""
    token = csrf(client, "/login")
    client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
    page = client.get("/nodes").text
    assert 'id="calendar-form"' in page
    form = {"_csrf_token": csrf(client, "/nodes"), "year": "2098", "holidays": "2098-01-01, 2098-01-02\n2098-02-01", "workdays": "2098-01-04"}
    done = client.post("/nodes/calendar", data=form)
    assert done.status_code == 200 and "已导入 2098 年的 4 个" in done.text and "2098" in done.text.split("已导入的年份")[1][:80]
    bad = client.post("/nodes/calendar", data=form | {"_csrf_token": csrf(client, "/nodes"), "holidays": "2098-13-01"})
    assert bad.status_code == 400 and "格式不正确" in bad.text
    assert client.post("/nodes/calendar", data=form | {"_csrf_token": csrf(client, "/nodes"), "year": "98"}).status_code == 400
    assert client.get("/api/actions", headers=operator_api(client)).json()[0]["action"] == "calendar.loaded"


def test_operator_page_warns_exactly_while_a_year_of_holidays_is_missing(client):
    token = csrf(client, "/login")
    client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
    api = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]}
    missing = client.get("/api/calendar", headers=api).json()["missing_years"]
    assert ('id="calendar-warning"' in client.get("/nodes").text) is bool(missing)
    for year in missing:  # load what is missing (weekday rule plus these exceptions) and the warning goes
        client.post("/api/calendar", json={"year": year, "holidays": [f"{year}-01-01"]}, headers=api)
    assert 'id="calendar-warning"' not in client.get("/nodes").text


def operator_api(client: TestClient) -> dict[str, str]:
    return {"Authorization": "Bearer " + client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]}


def test_operator_actions_are_in_the_action_log(client):
    api = operator_api(client)
    client.post("/api/enrolment-codes", json={"node_id": "shangcun", "name": "上村", "kind": "village"}, headers=api)
    client.post("/api/calendar", json={"year": 2099, "holidays": ["2099-01-01"]}, headers=api)
    client.post("/api/enrolment-codes", json={"node_id": "Bad Id", "name": "x", "kind": "village"}, headers=api)  # refused: not logged
    log = client.get("/api/actions", headers=api).json()
    assert [(e["actor"], e["action"], e["target"]) for e in log] == [
        ("operator", "calendar.loaded", "2099"),
        ("operator", "node.enrolment_code", "shangcun"),
    ]


def test_catalog_is_published_through_the_api_and_bad_input_changes_nothing(client):
    api = operator_api(client)
    item = next(i for i in client.get("/api/catalog").json()["items"] if i["code"] == "MZ-003")
    bad = client.put("/api/catalog/items/MZ-003", json=item | {"time_limit_days": -3}, headers=api)
    assert bad.status_code == 400 and bad.json()["field"] == "time_limit_days" and "整数" in bad.json()["detail"]
    assert client.put("/api/catalog/items/MZ-004", json=item, headers=api).status_code == 400  # path and body disagree
    assert client.get("/api/catalog").json()["version"] == 1
    done = client.put("/api/catalog/items/MZ-003", json=item | {"time_limit_days": 8}, headers=api)
    assert done.status_code == 200 and done.json()["version"] == 2
    assert client.get("/api/catalog/versions", headers=api).json()[0]["version"] == 2


def test_the_operator_lands_on_the_dashboard_and_metrics_are_prometheus_text(client):
    token = csrf(client, "/login")
    client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
    page = client.get("/")
    assert page.status_code == 200 and "哪些服务点落后？" in page.text and "代收费用是否全部到县？" in page.text
    assert client.get("/api/dashboard", headers=operator_api(client)).json()["county"]["total"] == 0
    refused = client.get("/metrics")  # no token set, and the test client is not the hub's own machine
    assert refused.status_code == 403 and "只有本机可以读取监控指标" in refused.text


def test_metrics_need_the_token_when_one_is_set(tmp_path: Path):
    """Issue 22 item 7: /metrics was open on the public port with per-point cash figures."""
    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9", metrics_token="scrape-me")
    initialise(settings, operator_password="op-pass", demo_password="pw")
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        metrics = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        assert "# TYPE yiwang_cases gauge" in metrics.text and 'yiwang_cases{state="received"} 0.0' in metrics.text
        # this process's HTTP requests by route template (never the raw path), sync counts, NATS
        client.get("/api/health")
        client.get("/portal/guides/NOPE-1")
        client.get("/portal/guides/NOPE-2")
        text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).text
        assert 'yiwang_http_requests_total{method="GET",route="/api/health",status="200"} 1.0' in text
        assert 'yiwang_http_requests_total{method="GET",route="/portal/guides/{code}",status="404"} 2.0' in text
        assert "# TYPE yiwang_http_request_duration_seconds histogram" in text and "NOPE" not in text
        client.get("/api/users", headers={"Authorization": "Bearer wrong"})
        text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).text
        assert 'route="/api/users",status="401"} 1.0' in text and 'status="500"' not in text  # a refusal is not an error
        assert 'yiwang_ingest_batches_total{outcome="applied"} 0.0' in text and "yiwang_nats_connected 0.0" in text
        assert "process_resident_memory_bytes" in text
        for n in range(5):  # adversarial pass: made-up methods grew a series each, for anybody, without bound
            client.request(f"ZZ{n:05d}", "/login")
        text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).text
        assert "ZZ0" not in text and 'yiwang_http_requests_total{method="other",route="unrouted",status="405"} 5.0' in text


def test_public_pages_need_no_login_and_reveal_nothing_for_a_wrong_pair(client):
    page = client.get("/progress", params={"receipt_no": "shangcun-000001", "id_last4": "1234"})
    assert page.status_code == 200 and "没有查到：请核对受理编号和身份证号码后四位" in page.text
    api = client.get("/api/public/progress", params={"receipt_no": "shangcun-000001", "id_last4": "1234"})
    assert api.status_code == 404 and api.json()["detail"] == "没有查到：请核对受理编号和身份证号码后四位"
    assert client.get("/publicity").status_code == 200 and client.get("/api/public/decisions").json() == []
    paths = client.get("/api/schema/openapi.json").json()["paths"]
    for path in (
        "/api/dashboard",
        "/api/applications/{application_id}/acceptance",
        "/api/catalog/items/{code}",
        "/api/departments/{code}/integration",
        "/api/public/progress",
    ):
        assert path in paths, path


def test_a_retry_must_bring_the_nats_key_it_enrolled_with_and_a_department_key_can_be_given_back(client, hub_db_url):
    auth = {"Authorization": f"Bearer {client.post('/api/login', json={'username': 'operator', 'password': 'op-pass'}).json()['token']}"}
    code_a = client.post("/api/enrolment-codes", json={"node_id": "acun", "name": "A村", "kind": "village"}, headers=auth).json()["code"]
    code_b = client.post("/api/enrolment-codes", json={"node_id": "bcun", "name": "B村", "kind": "village"}, headers=auth).json()["code"]
    assert client.post("/api/enrolment", json={"code": code_a, "public_key": "ab" * 32, "nats_public_key": NKEY_A}).status_code == 200
    assert client.post("/api/enrolment", json={"code": code_b, "public_key": "cd" * 32, "nats_public_key": NKEY_B}).status_code == 200
    crossed = client.post("/api/enrolment", json={"code": code_a, "public_key": "ab" * 32, "nats_public_key": NKEY_B})
    assert crossed.status_code == 409  # B's NATS key is not A's: no "retry" with another point's identity

    dept_key = user_nkey_from_seed(new_user_seed())
    for body in ({"integration": "nats", "nats_public_key": dept_key}, {"integration": ""}, {"integration": "nats", "nats_public_key": dept_key}):
        assert client.put("/api/departments/cl/integration", json=body, headers=auth).status_code == 200
    engine = make_engine(hub_db_url)
    with engine.connect() as db:
        assert db.execute(text("SELECT valid_until FROM natscredential WHERE nkey = :k"), {"k": dept_key}).one() == (None,)  # in force again
    engine.dispose()


def test_a_page_whose_path_contains_api_still_needs_its_csrf_token(client):
    """Issue 18 finding 2: the CSRF exclusion "/api" was a pattern matched anywhere in the path,
    so the revoke form of a point whose id begins with "api" passed with the session cookie alone."""
    token = csrf(client, "/login")
    client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
    forged = client.post("/nodes/apinglu/revoke", data={"reason": "跨站伪造"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert client.post("/api/nodes/apinglu/revoke", json={"reason": "x"}).status_code == 401  # the API takes no cookie at all


def test_the_slips_qr_link_opens_the_form_filled_in_without_an_error(client):
    """Issue 18 finding 6: the QR code carries the receipt number alone, and the page answered
    "没有查到" before the citizen had typed anything."""
    page = client.get("/progress", params={"receipt_no": "shangcun-000001"})
    assert page.status_code == 200 and "没有查到" not in page.text and 'value="shangcun-000001"' in page.text


def test_the_public_progress_api_lets_a_case_be_guessed_only_a_few_times(client):
    """Issue 18 finding 3, at the hub: 429 with Retry-After after five wrong tries of one receipt."""
    from weblayer.throttle import SUBJECT_FAILURES

    for n in range(SUBJECT_FAILURES):
        assert client.get("/api/public/progress", params={"receipt_no": "shangcun-000001", "id_last4": f"{n:04d}"}).status_code == 404
    held = client.get("/api/public/progress", params={"receipt_no": "shangcun-000001", "id_last4": "0005"})
    assert held.status_code == 429 and held.headers["retry-after"] and "分钟后再试" in held.json()["detail"]


def a_case_from_shangcun(client: TestClient) -> None:
    """The point shangcun enrolled and its case app1 (高龄津贴) ingested, through the real ingest."""
    from sqlmodel import Session

    from central.db import make_engine
    from central.ingest import ingest_batch
    from central.models import Node
    from sync_protocol import verify_key_to_text
    from tests.support.builders import NODE_KEY, T, chain, received

    engine = make_engine(client.app.state.ctx.settings.database_url)
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    engine.dispose()


def test_the_case_page_shows_the_full_id_to_the_deciding_clerk_on_request(client):
    """Issue 18 finding 5, on the page: masked until the clerk asks, then shown and logged."""
    a_case_from_shangcun(client)
    token = csrf(client, "/login")
    client.post("/login", data={"username": "clerk-mzj", "password": "pw", "_csrf_token": token})
    shown = client.get("/cases/app1")
    assert "11010519491231002X" not in shown.text and 'id="reveal-id"' in shown.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', shown.text).group(1)
    revealed = client.post("/cases/app1/id-number", data={"_csrf_token": token})
    assert revealed.status_code == 200 and "11010519491231002X" in revealed.text and "记入操作日志" in revealed.text


def test_a_licence_lookup_by_resident_id_is_in_the_action_log(client):
    """The licence library answers with the holder's full ID: like a view of the full ID on a
    case, each lookup is logged, with the ID masked in the log (adversarial pass, issue 18)."""
    clerk = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]}
    assert client.get("/api/licences", params={"holder_id": "11010519491231002x"}, headers=clerk).json() == []
    operator = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]}
    entry = next(a for a in client.get("/api/actions", headers=operator).json() if a["action"] == "licence.looked_up")
    assert entry["actor"] == "clerk-mzj" and "11010519491231002X" not in entry["target"] and entry["target"].endswith("002X")


def test_the_catalog_page_shows_each_items_procedure_and_what_is_withdrawn(client):
    """Issue 19: the operator sees who accepts and the stages each item runs, and which items are 停用."""
    api = operator_api(client)
    item = next(i for i in client.get("/api/catalog").json()["items"] if i["code"] == "MZ-004")
    bad = client.put(
        "/api/catalog/items/MZ-004", json=item | {"stages": [{"name": "审核", "by": ["mzj"]}, {"name": "审批", "by": ["mzj"]}]}, headers=api
    )
    assert bad.status_code == 400 and bad.json()["field"] == "stages" and "只办理一个环节" in bad.json()["detail"]
    assert client.put("/api/catalog/items/MZ-004", json=item | {"withdrawn": True}, headers=api).status_code == 200
    token = csrf(client, "/login")
    client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
    page = client.get("/catalog").text
    assert "乡镇受理；乡镇初审 → 县残疾人联合会审核 → 县民政局审批" in page  # 残疾人两项补贴
    assert "乡镇受理；乡镇审批" in page  # 宅基地
    row = next(r for r in page.split("<tr") if "MZ-004" in r)
    assert "已停用" in row


def test_a_clerk_stops_the_clock_for_a_hearing_on_the_page_and_the_api_tells_its_days(client):
    """Issue 20: the case page shows the promised and the statutory limit; the deciding clerk
    starts and ends a special procedure (行政许可法 第四十五条); bad input is a problem in Chinese."""
    a_case_from_shangcun(client)
    api = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]}
    case = client.get("/api/applications/app1", headers=api).json()
    assert case["clocks"]["decision"] is None and case["clocks"]["pre_review"]["card"] == ""  # the limit starts at 受理
    assert (case["clocks"]["limit_days"], case["clocks"]["statutory_days"]) == (10, 20)
    early = client.post("/api/applications/app1/suspensions", json={"kind": "hearing", "reason": "听证"}, headers=api)
    assert early.status_code == 409 and "不能中止" in early.json()["detail"]
    assert client.post("/api/applications/app1/acceptance", json={}, headers=api).status_code in (200, 201)
    bad = client.post("/api/applications/app1/suspensions", json={"kind": "holiday", "reason": "x"}, headers=api)
    assert bad.status_code == 400 and bad.json()["status"] == 400
    token = csrf(client, "/login")
    client.post("/login", data={"username": "clerk-mzj", "password": "pw", "_csrf_token": token})
    page = client.get("/cases/app1").text
    assert "承诺 10 个工作日，法定 20 个工作日" in page and 'id="suspend"' in page
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)
    stopped = client.post(
        "/cases/app1/suspension", data={"_csrf_token": token, "kind": "expert", "reason": "请专家评审辅助器具适配，约需 10 个工作日"}
    )
    assert stopped.status_code == 200 and "专家评审" in stopped.text and 'id="resume"' in stopped.text and "进行中" in stopped.text
    case = client.get("/api/applications/app1", headers=api).json()
    assert case["clocks"]["suspended"] == "专家评审" and case["clocks"]["decision"]["suspended"] is True
    assert [(s["kind"], s["ended_at"]) for s in case["suspensions"]] == [("expert", None)]
    ended = client.post("/api/applications/app1/suspensions/end", headers=api)
    assert ended.status_code == 200 and ended.json()["ended_by"] == "clerk-mzj"


def test_a_stages_own_days_must_fit_the_promised_limit(client):
    api = operator_api(client)
    item = next(i for i in client.get("/api/catalog").json()["items"] if i["code"] == "MZ-005")
    assert [s.get("days") for s in item["stages"]] == [5, 5, 5]
    over = item | {"stages": [s | {"days": 6} for s in item["stages"]]}
    bad = client.put("/api/catalog/items/MZ-005", json=over, headers=api)
    assert bad.status_code == 400 and bad.json()["field"] == "stages" and "超过了承诺办结时限" in bad.json()["detail"]
    bad = client.put("/api/catalog/items/MZ-005", json=item | {"stages": [s | {"days": "5"} for s in item["stages"]]}, headers=api)
    assert bad.status_code == 400 and "正整数" in bad.json()["detail"]


def test_the_case_page_lists_its_documents_and_each_prints_and_verifies(client):
    """Issue 20: every document of record can be reprinted from the case page at the hub, and
    its text verifies on /verify (a changed one does not)."""
    from central import document_texts

    a_case_from_shangcun(client)
    ctx = client.app.state.ctx
    assert document_texts.issue_pending(ctx.engine, ctx.key, "示范县", "12345") == 1  # the 收件回执
    token = csrf(client, "/login")
    client.post("/login", data={"username": "clerk-mzj", "password": "pw", "_csrf_token": token})
    case = client.get("/cases/app1").text
    link = re.search(r'href="(/cases/app1/documents/\d+)">收件回执</a>', case).group(1)
    printed = client.get(link)
    assert printed.status_code == 200 and "示范县收字〔2026〕第 1 号" in printed.text and 'id="print-document"' in printed.text
    signed = re.search(r'id="document-text">([^<]+)</textarea>', printed.text).group(1)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', printed.text).group(1)
    assert "有效" in client.post("/verify", data={"_csrf_token": token, "licence": signed}).text
    code = re.search(r"验证码 <strong>([0-9A-F-]+)</strong>", printed.text).group(1)  # what the paper shows: the text is not printed
    assert "收件回执 示范县收字〔2026〕第 1 号" in client.post("/verify", data={"_csrf_token": token, "licence": code.lower()}).text
    assert "没有这个验证码" in client.post("/verify", data={"_csrf_token": token, "licence": "0000-0000-0000"}).text
    assert (
        "无效"
        in client.post("/verify", data={"_csrf_token": token, "licence": signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB")}).text
    )
    assert client.get("/cases/app1/documents/999").status_code == 404
    assert client.get("/cases/app1/documents/99999999999999999999").status_code == 404  # an overflow was a 500
    api = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "clerk-mzj", "password": "pw"}).json()["token"]}
    [document] = client.get("/api/applications/app1", headers=api).json()["documents"]
    assert (document["kind"], document["text"]) == ("receipt", signed)


def test_the_clerk_sees_the_cases_fee_and_the_refund_the_point_owes(client):
    """Issue 20: a voided fee shows on the case page and blocks 批准; after 不予批准 the page says
    the point must give the money back."""
    from sqlmodel import Session

    from central.db import make_engine
    from central.ingest import ingest_batch
    from central.models import Node
    from sync_protocol import Record, verify_key_to_text
    from tests.support.builders import NODE_KEY, T, chain, received

    engine = make_engine(client.app.state.ctx.settings.database_url)
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    fee = {"fee_receipt_no": "shangcun-F000001", "amount_fen": 2000, "method": "cash", "agent": "agent", "application_id": "app1"}
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, item="GA-001"), Record("fee.collected", "f1", T, fee)])[0])
    engine.dispose()
    token = csrf(client, "/login")
    client.post("/login", data={"username": "clerk-gaj", "password": "pw", "_csrf_token": token})
    page = client.get("/cases/app1").text
    assert 'id="fees"' in page and "本事项收费 20.00 元" in page and "已收" in page
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)
    denied = client.post("/cases/app1/decision", data={"_csrf_token": token, "decision": "deny", "reason": "证件照片不合格"})
    assert denied.status_code == 200 and 'id="refund-due"' in denied.text and "应向申请人退还 20.00 元" in denied.text


def test_the_citizen_rates_on_their_own_phone_from_the_slips_qr_code(client):
    """Issue 20: 好差评 on the citizen's phone — the public /rate page, nothing preset, once."""
    from sqlmodel import Session

    from central import approval
    from central.models import User
    from tests.support.builders import HUB_KEY

    a_case_from_shangcun(client)
    engine = make_engine(client.app.state.ctx.settings.database_url)
    with Session(engine) as s:
        mzj = s.get(User, "clerk-mzj")
    approval.decide(engine, mzj, "app1", "approve", "", HUB_KEY)
    engine.dispose()
    form = client.get("/rate?receipt_no=shangcun-000001").text
    assert 'value="shangcun-000001"' in form and "checked" not in form
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
    base = {"_csrf_token": token, "receipt_no": "shangcun-000001"}
    assert "请选择一个评价等级" in client.post("/rate", data=base | {"id_last4": "002X"}).text
    superscript = client.post("/rate", data=base | {"id_last4": "002X", "level": "²"})  # "²".isdigit(), int("²") fails: was a 500
    assert superscript.status_code == 400 and "请选择一个评价等级" in superscript.text
    assert client.post("/rate", data=base | {"id_last4": "9999", "level": "5"}).status_code == 404
    rated = client.post("/rate", data=base | {"id_last4": "002X", "level": "4"})
    assert rated.status_code == 200 and "谢谢您的评价" in rated.text
    again = client.post("/rate", data=base | {"id_last4": "002X", "level": "1", "comment": "改评"})
    assert again.status_code == 409 and "已经评价过" in again.text


def test_readiness_says_what_is_down(client):
    """Issue 22 item 8: a readiness endpoint that checks the database and NATS (this app's NATS is
    deliberately unreachable)."""
    answer = client.get("/api/ready")
    assert answer.status_code == 503 and answer.headers["content-type"].startswith("application/problem+json")
    assert "NATS 未连接" in answer.json()["detail"] and answer.json()["type"].endswith("/unavailable")


def test_the_operator_is_warned_two_months_before_a_certificate_ends(tmp_path: Path):
    """New-user pass: the NATS server's certificate lasts two years, and nothing said so: the day
    it ends, every point's link fails at once."""
    from datetime import UTC, datetime, timedelta

    from central import certificates
    from provisioning import tls

    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9", metrics_token="t")
    initialise(settings, operator_password="op-pass")
    init_nats(settings.nats_dir, "127.0.0.1", 9)
    ends = certificates.expiries(settings.nats_dir)
    assert {e.file for e in ends} == {"server.pem", "web.pem"} and certificates.expiring(settings.nats_dir) == []
    assert certificates.expiring(settings.nats_dir, now=datetime.now(UTC) + timedelta(days=365 * tls.SERVER_YEARS - 30))  # two months before
    with TestClient(create_app(settings)) as client:
        text = client.get("/metrics", headers={"Authorization": "Bearer t"}).text
        shown = re.search(r'yiwang_certificate_not_after_seconds\{file="server.pem"\} (\S+)', text)
        assert shown and float(shown[1]) == ends[0].not_after.timestamp()
        token = csrf(client, "/login")
        client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
        assert "certificate-warning" not in client.get("/dashboard").text
    tls.SERVER_YEARS, kept = 0, tls.SERVER_YEARS  # a certificate issued for no time at all: ended already
    try:
        tls.issue_server_cert(settings.nats_dir, ["127.0.0.1"])
    finally:
        tls.SERVER_YEARS = kept
    with TestClient(create_app(settings)) as client:
        token = csrf(client, "/login")
        client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": token})
        page = client.get("/dashboard").text
    assert 'id="certificate-server"' in page and "NATS 服务器证书" in page and "已于" in page and "yiwang hub init" in page
    assert "到期后各服务点无法同步" in page and 'id="certificate-web"' not in page  # the web certificate still has two years


def test_a_village_cannot_sit_under_a_village_or_itself_or_an_expired_code(engine):
    """Second adversarial pass: a township's code and then a village's code for the same id, with
    itself as township, made t1 a village that townships() still offered; an expired township
    code still made a valid parent; township stages (with the applicant's ID and form) would then
    go down to a village point."""
    from sqlmodel import Session, select

    from central import enrolment
    from central.models import EnrolmentCode
    from weblayer.errors import Conflict, InvalidInput

    enrolment.create_code(engine, "t1", "一号镇", "township", None)
    with pytest.raises(Conflict, match="未使用的乡镇便民服务中心登记码"):
        enrolment.create_code(engine, "t1", "一号村", "village", None)
    with pytest.raises(InvalidInput, match="不能是这个节点自己"):
        enrolment.create_code(engine, "t1", "一号村", "village", "t1")
    enrolment.create_code(engine, "t9", "九号镇", "township", None)
    with Session(engine) as s:
        for code in s.exec(select(EnrolmentCode).where(EnrolmentCode.node_id == "t9")).all():
            code.expires_at = "2020-01-01T00:00:00Z"
            s.add(code)
        s.commit()
        assert set(enrolment.townships(s)) == {"t1"}
    with pytest.raises(InvalidInput, match="所属乡镇"):
        enrolment.create_code(engine, "v9", "九号村", "village", "t9")
    enrolment.create_code(engine, "t9", "九号村", "village", None)  # the id is free again once that code has expired
