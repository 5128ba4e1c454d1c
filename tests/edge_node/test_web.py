"""The node's web layer on a real SQLite file, offline (NATS unreachable on purpose)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from nacl.signing import SigningKey

from edge_node.app import create_app
from edge_node.settings import Settings
from edge_node.store import Store
from tests.support.api import login
from tests.support.builders import CATALOG, T, collected, node_dir, resident_id

from ..images import photo, signature


def test_offline_banner_and_intake_through_the_form(client):
    login(client)
    home = client.get("/")
    assert home.status_code == 200 and "离线" in home.text
    form = client.get("/applications/new")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text).group(1)
    bad = client.post("/applications", data={"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": "123", "_csrf_token": token})
    assert bad.status_code == 400 and "18 位" in bad.text and 'value="张三"' in bad.text
    ok = client.post(
        "/applications",
        data={"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(1), "_csrf_token": token},
        follow_redirects=True,
    )
    assert ok.status_code == 200 and "shangcun-000001" in ok.text and "收件回执" in ok.text and "受理回执" not in ok.text
    status = client.get("/api/status").json()
    assert status == status | {"online": False, "waiting_events": 1}
    assert client.get("/api/health").json() == {"status": "ok", "nats_connected": False}  # no login needed: for a monitor


def test_api_problems(client):
    assert client.get("/api/applications").status_code == 401
    token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    missing = client.post("/api/applications", json={"item_code": "MZ-003"}, headers=auth)
    assert missing.status_code == 400 and missing.headers["content-type"].startswith("application/problem+json")
    unknown = client.get("/api/applications/nope", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "没有找到这个办件"
    early = client.post("/api/applications/x/pickup", json=collected("张三", resident_id(4)), headers=auth)
    assert early.status_code == 404


def test_material_uploads_are_checked_and_a_refused_one_saves_nothing(client):
    token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    app = client.post(
        "/api/applications", json={"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(1)}, headers=auth
    ).json()
    url = f"/api/applications/{app['id']}/materials"
    exe = client.post(url, data={"material": "居民身份证"}, files={"file": ("x.jpg", b"MZ\x90\x00 not an image", "image/jpeg")}, headers=auth)
    assert exe.status_code == 400 and "JPG" in exe.json()["detail"]
    big = client.post(
        url, data={"material": "居民身份证"}, files={"file": ("x.jpg", b"\xff\xd8\xff" + b"\0" * (20 * 1024 * 1024), "image/jpeg")}, headers=auth
    )
    assert big.status_code in (400, 413) and big.headers["content-type"].startswith("application/problem+json")
    unnamed = client.post(url, data={"material": " "}, files={"file": ("x.png", b"\x89PNG\r\n\x1a\nabc", "image/png")}, headers=auth)
    assert unnamed.status_code == 400 and unnamed.json()["field"] == "material"
    broken = client.post(url, data={"material": "居民身份证"}, files={"file": ("x.png", b"\x89PNG\r\n\x1a\nabc", "image/png")}, headers=auth)
    assert broken.status_code == 400 and "重新拍照" in broken.json()["detail"] and broken.json()["field"] == "file"
    assert client.get(url, headers=auth).json() == []
    ok = client.post(url, data={"material": "居民身份证"}, files={"file": ("x.png", signature(), "image/png")}, headers=auth)
    assert ok.status_code == 201 and ok.json()["media_type"] == "image/png"
    assert [m["material"] for m in client.get(url, headers=auth).json()] == ["居民身份证"]


def test_wizard_form_as_a_browser_sends_it_with_empty_file_inputs(client):
    """Browsers send every file input, empty ones as a part with filename="" and no bytes."""
    login(client)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/applications/new?item=MZ-003").text).group(1)
    fields = {"_csrf_token": token, "item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(2), "applicant_phone": ""}
    files = {"file_0": ("", b"", "application/octet-stream")}
    response = client.post("/applications", data=fields, files=files, follow_redirects=True)
    assert response.status_code == 200 and "收件回执" in response.text, response.text[:500]


def test_fee_api_round(client, tmp_path):
    """Collect, void with a second person, close the day: every refusal is a problem in Chinese."""
    from edge_node.auth import add_user as add

    token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    app = client.app.state.ctx
    add(app.store, "chief", "站长", "township_staff", "pw2")
    from edge_node.catalog import install_catalog

    install_catalog(
        app.store,
        {
            "version": 2,
            "items": [
                {"code": "YB-001", "name": "医保缴费", "department": "ybj", "department_name": "县医疗保障局", "time_limit_days": 1, "fee_fen": 38000}
            ],
        },
    )
    body = {"item_code": "YB-001", "applicant_name": "张三", "applicant_id_number": resident_id(3)}
    unpaid = client.post("/api/applications", json=body, headers=auth)
    assert unpaid.status_code == 400 and "380.00" in unpaid.json()["detail"] and unpaid.json()["field"] == "payment_method"
    paid = client.post("/api/applications", json=body | {"payment_method": "cash"}, headers=auth)
    assert paid.status_code == 201 and paid.json()["fee_receipt"]["amount_fen"] == 38000
    no = paid.json()["fee_receipt"]["receipt_no"]
    alone = client.post(f"/api/fees/{no}/void", json={"reason": "错收", "approver": "agent", "approver_password": "pw"}, headers=auth)
    assert alone.status_code == 403 and "另一名" in alone.json()["detail"]
    assert (
        client.post(f"/api/fees/{no}/void", json={"reason": "错收", "approver": "chief", "approver_password": "pw2"}, headers=auth).json()["status"]
        == "voided"
    )
    assert client.get("/api/fees", headers=auth).json()["totals"]["cash_expected_fen"] == 0
    nothing = client.post("/api/fees/close", json={"cash_counted_fen": 0}, headers=auth)
    assert nothing.status_code == 201  # the voided receipt is still covered by the close


def test_the_api_cannot_forward_an_incomplete_case(client):
    """The one-time-notice rule holds for API callers too: a problem naming every missing item."""
    from edge_node.catalog import install_catalog

    install_catalog(
        client.app.state.ctx.store,
        {
            "version": 3,
            "items": [
                {
                    "code": "MZ-001",
                    "name": "最低生活保障申请",
                    "department": "mzj",
                    "department_name": "县民政局",
                    "time_limit_days": 30,
                    "fee_fen": 0,
                    "materials": [
                        {"name": "居民身份证", "shared": False},
                        {"name": "户口簿", "shared": True},
                        {"name": "家庭收入情况声明", "shared": False},
                    ],
                }
            ],
        },
    )
    token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    body = {"item_code": "MZ-001", "applicant_name": "张三", "applicant_id_number": resident_id(8)}
    refused = client.post("/api/applications", json=body | {"materials_checked": ["居民身份证"]}, headers=auth)
    assert refused.status_code == 400 and refused.json()["field"] == "materials"
    assert "家庭收入情况声明" in refused.json()["detail"] and "户口簿" not in refused.json()["detail"]
    assert client.get("/api/applications", headers=auth).json() == []
    ok = client.post("/api/applications", json=body | {"materials_checked": ["居民身份证", "家庭收入情况声明"]}, headers=auth)
    assert ok.status_code == 201


def test_the_service_guide_prints_basis_conditions_and_never_demands_shared_materials(client):
    from edge_node.catalog import install_catalog

    install_catalog(
        client.app.state.ctx.store,
        {
            "version": 4,
            "items": [
                {
                    "code": "MZ-001",
                    "name": "最低生活保障申请",
                    "department": "mzj",
                    "department_name": "县民政局",
                    "time_limit_days": 30,
                    "fee_fen": 0,
                    "legal_basis": "《社会救助暂行办法》第九条",
                    "conditions": "人均收入低于当地低保标准",
                    "service_object": "natural",
                    "level": "village",
                    "materials": [{"name": "居民身份证", "shared": False}, {"name": "户口簿", "shared": True}],
                }
            ],
        },
    )
    login(client)
    guide = client.get("/catalog/MZ-001")
    assert guide.status_code == 200
    assert "《社会救助暂行办法》第九条" in guide.text and "人均收入低于当地低保标准" in guide.text and "30 个工作日" in guide.text
    assert "户口簿（部门通过数据共享获取，<strong>无需提交</strong>）" in guide.text
    assert client.get("/catalog/NOPE").status_code == 404


def test_the_home_page_rotates_the_node_key_once_until_the_hub_confirms(client, tmp_path):
    login(client)
    home = client.get("/")
    assert 'id="key-state">正常' in home.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', home.text).group(1)
    started = client.post("/node/rotate-key", data={"_csrf_token": token}, follow_redirects=True)
    assert "已生成新密钥" in started.text and "新密钥等待县中枢确认" in started.text and re.search(r'id="rotate-key" disabled', started.text)
    busy = client.post("/node/rotate-key", data={"_csrf_token": token}, follow_redirects=True)
    assert "上一次密钥轮换尚未完成" in busy.text
    store = Store(tmp_path / "node" / "node.sqlite3")
    assert [r["kind"] for r in store.query("SELECT kind FROM outbox")] == ["node.key_rotated"]  # offline: queued, once
    store.close()


def test_an_unlisted_region_code_asks_the_agent_to_confirm_on_the_page_and_in_the_api(client):
    from stdnum.cn import ric

    unlisted = "41999919580214771" + ric.calc_check_digit("41999919580214771?")
    login(client)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/applications/new?item=MZ-003").text).group(1)
    form = {"item_code": "MZ-003", "applicant_name": "陈冬生", "applicant_id_number": unlisted, "_csrf_token": token}
    warned = client.post("/applications", data=form)
    assert warned.status_code == 400 and "419999" in warned.text and 'id="id_region_confirmed"' in warned.text and 'value="陈冬生"' in warned.text
    ok = client.post("/applications", data=form | {"id_region_confirmed": "1"}, follow_redirects=True)
    assert ok.status_code == 200 and "收件回执" in ok.text
    old = client.post("/applications", data=form | {"applicant_id_number": "430524195802147719", "applicant_name": "刘桂英"}, follow_redirects=True)
    assert old.status_code == 200 and "收件回执" in old.text  # born 1958, 隆回县's code dates from 1986

    api = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]}
    body = {"item_code": "MZ-003", "applicant_name": "陈冬生", "applicant_id_number": unlisted}
    problem = client.post("/api/applications", json=body, headers=api)
    assert problem.status_code == 400 and problem.json()["type"].endswith("/region-unconfirmed") and problem.json()["field"] == "id_region_confirmed"
    assert client.post("/api/applications", json=body | {"id_region_confirmed": True}, headers=api).status_code == 201


def test_a_page_whose_path_contains_api_still_needs_its_csrf_token(client):
    """Issue 18 finding 2, at a node: a receipt number carries the point's id, and a point named
    "api…" (阿坪村 and the like) had its void form pass without a CSRF token."""
    login(client)
    forged = client.post("/fees/apinglu-F000001/void", data={"reason": "跨站伪造"})
    assert forged.status_code == 403 and "CSRF" in forged.text


def test_the_slips_qr_link_opens_the_form_filled_in_without_an_error(client):
    """Issue 18 finding 6, at the node: the receipt's QR link opened on "没有查到"."""
    page = client.get("/progress", params={"receipt_no": "shangcun-000001"})
    assert page.status_code == 200 and "没有查到" not in page.text and 'value="shangcun-000001"' in page.text
    assert "没有查到" in client.get("/progress", params={"receipt_no": "shangcun-000001", "id_last4": "1234"}).text


def an_application(client: TestClient) -> tuple[dict[str, str], dict]:
    """The agent's bearer header, and a 高龄津贴 case for 张三 taken in through the API."""
    token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    app = client.post(
        "/api/applications",
        json={"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(1), "materials_checked": ["居民身份证"]},
        headers=auth,
    ).json()
    return auth, app


def at_the_point(tmp_path: Path, apply: Any, *records: dict) -> None:
    """Downlink records applied by their handler (``cases.apply_…``) to the test client's node store."""
    store = Store(tmp_path / "node" / "node.sqlite3")
    with store.write() as conn:
        for data in records:
            apply(conn, data)
    store.close()


def approved(app: dict) -> dict:
    return {"application_id": app["id"], "decision": "approved", "decided_by": "王敏", "decided_at": "2026-12-04T08:00:00.000000Z"}


def test_no_api_answer_carries_a_full_resident_id(client, tmp_path):
    """Issue 18 finding 5: the applications list, the pickup and the dispatch answers carried the
    collector's full ID number (only the applicant's was masked)."""
    from edge_node import cases
    from tests.support.logs import full_resident_ids

    auth, app = an_application(client)
    at_the_point(tmp_path, cases.apply_decision, approved(app))
    handed = client.post(
        f"/api/applications/{app['id']}/pickup",
        json=collected("张小三", resident_id(2), authorisation_base64=base64.b64encode(photo()).decode()),
        headers=auth,
    )
    assert handed.status_code == 200, handed.text
    answers = [handed.text, client.get("/api/applications", headers=auth).text, client.get(f"/api/applications/{app['id']}", headers=auth).text]
    assert not any(full_resident_ids(a) for a in answers), answers
    assert handed.json()["collector_id_number"].endswith(resident_id(2)[-4:])  # masked, not dropped


@pytest.mark.parametrize(
    "enrolled, printed",
    [
        ({"progress_url": "https://zwfw.example.gov.cn/progress"}, "https://zwfw.example.gov.cn/progress?receipt_no=shangcun-000001"),
        (
            {"hub_url": "https://hub.example.gov.cn:8700/"},
            "https://hub.example.gov.cn:8700/progress?receipt_no=shangcun-000001",
        ),  # enrolled before the hub named it
    ],
)
def test_the_slip_points_citizens_at_the_countys_public_page(tmp_path: Path, enrolled, printed):
    """Issue 18 finding 6: the slip's QR code and link pointed at the node's own address
    (http://127.0.0.1:8702/progress…), which a citizen's phone at home cannot reach. It now
    points at the county's public page the hub named at enrolment; the point's own lookup is
    printed beside it for the window."""
    data = node_dir(tmp_path / "node", identity=enrolled, catalog=CATALOG, users=(("agent", "代办员 王秀兰", "pw"),))
    with TestClient(create_app(Settings(data_dir=data))) as client:
        token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
        app = client.post(
            "/api/applications",
            json={"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(1)},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        login(client)
        slip = client.get(f"/applications/{app['id']}/receipt").text
    assert printed in slip and "也可在本服务点查询" in slip


def test_a_special_procedure_at_the_county_shows_on_the_points_case_page(client, tmp_path: Path):
    """Issue 20: 行政许可法 第四十五条 asks that the applicant be told, in writing, what stops the
    clock and why; the point hears it on the downlink (clock.suspended / clock.resumed), once."""
    from edge_node.link import apply_downlink
    from sync_protocol import GENESIS, Record, seal_next
    from tests.support.builders import HUB_KEY, T

    token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    app = client.post(
        "/api/applications",
        json={"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(1), "materials_checked": ["居民身份证"]},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    suspended = {"application_id": app["id"], "kind": "hearing", "name": "听证", "reason": "申请人要求听证，约需 5 个工作日", "at": T, "by": "王敏"}
    resumed = {"application_id": app["id"], "kind": "hearing", "name": "听证", "at": "2026-11-30T08:00:00.000000Z"}
    store = Store(tmp_path / "node" / "node.sqlite3")
    first, head = seal_next("shangcun", "down", GENESIS, [Record("clock.suspended", "c1", T, suspended)] * 2, T, HUB_KEY)
    apply_downlink(store, "shangcun", HUB_KEY.verify_key, first)
    login(client)
    page = client.get(f"/applications/{app['id']}").text
    assert page.count('class="pause"') == 1 and "听证：申请人要求听证" in page and "进行中：请告知申请人" in page
    second, _ = seal_next("shangcun", "down", head, [Record("clock.resumed", "c2", T, resumed)], T, HUB_KEY)
    apply_downlink(store, "shangcun", HUB_KEY.verify_key, second)
    store.close()
    assert "进行中" not in client.get(f"/applications/{app['id']}").text


def test_a_county_document_is_kept_printed_and_verified_at_the_point_offline(tmp_path: Path):
    """Issue 20: documents of record reach the point signed (document.issued), print from the
    signed text alone, verify offline on the point's /verify, and a tampered one is refused."""
    from sync_protocol import verify_key_to_text
    from tests.support.builders import HUB_KEY

    data_dir = node_dir(
        tmp_path / "node",
        identity={"hub_public_key": verify_key_to_text(HUB_KEY.verify_key)},
        catalog=CATALOG,
        users=(("agent", "代办员 王秀兰", "pw"),),
    )
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        _document_at_the_point(client, tmp_path)


def _document_at_the_point(client: TestClient, tmp_path: Path) -> None:
    from edge_node.link import apply_downlink
    from sync_protocol import GENESIS, Record, Rejected, seal_document, seal_next
    from tests.support.builders import HUB_KEY, T

    auth, app = an_application(client)
    doc = {
        "number": "示范县受字〔2026〕第 7 号",
        "kind": "acceptance",
        "title": "受理通知书",
        "application_id": app["id"],
        "receipt_no": app["receipt_no"],
        "addressee": "张三",
        "issuer": "示范县民政局",
        "issued_at": T,
        "paragraphs": ["张三：您的申请本机关决定予以受理。"],
        "facts": [["受理编号", app["receipt_no"]]],
    }
    signed = seal_document(doc, HUB_KEY)
    forged = seal_document(doc | {"number": "示范县受字〔2026〕第 8 号"}, SigningKey(bytes([9]) * 32))
    store = Store(tmp_path / "node" / "node.sqlite3")
    data = {"application_id": app["id"], "kind": "acceptance"}
    bad, _ = seal_next(
        "shangcun", "down", GENESIS, [Record("document.issued", "d0", T, data | {"number": "示范县受字〔2026〕第 8 号", "text": forged})], T, HUB_KEY
    )
    assert isinstance(apply_downlink(store, "shangcun", HUB_KEY.verify_key, bad), Rejected)  # not the county's seal: refused, nothing kept
    good, _ = seal_next(
        "shangcun", "down", GENESIS, [Record("document.issued", "d1", T, data | {"number": doc["number"], "text": signed})], T, HUB_KEY
    )
    apply_downlink(store, "shangcun", HUB_KEY.verify_key, good)
    store.close()
    [listed] = client.get(f"/api/applications/{app['id']}/documents", headers=auth).json()
    assert (listed["number"], listed["title"], listed["text"]) == (doc["number"], "受理通知书", signed)
    login(client)
    case = client.get(f"/applications/{app['id']}").text
    assert 'id="documents"' in case and "示范县受字〔2026〕第 7 号" in case
    printed = client.get(f"/applications/{app['id']}/documents/{listed['id']}")
    assert printed.status_code == 200 and "您的申请本机关决定予以受理" in printed.text and 'id="print-document"' in printed.text
    assert client.get(f"/applications/{app['id']}/documents/999").status_code == 404
    token = re.search(r'name="_csrf_token" value="([^"]+)"', printed.text).group(1)
    verified = client.post("/verify", data={"_csrf_token": token, "licence": signed})
    assert "有效" in verified.text and "示范县受字〔2026〕第 7 号" in verified.text
    code = re.search(r"验证码 <strong>([0-9A-F-]+)</strong>", printed.text).group(1)
    assert "示范县受字〔2026〕第 7 号" in client.post("/verify", data={"_csrf_token": token, "licence": code}).text  # offline, by the printed code
    refused = client.post("/verify", data={"_csrf_token": token, "licence": forged})
    assert "无效" in refused.text


def test_the_fee_receipt_prints_the_item_the_payee_and_the_amount_in_capitals(tmp_path: Path):
    """Issue 20 finding: the receipt showed the item code and the username, and no capitals."""
    item = {"code": "GA-001", "name": "居民身份证换领", "department": "gaj", "department_name": "县公安局", "time_limit_days": 20, "fee_fen": 2000}
    data_dir = node_dir(tmp_path / "node", catalog={"version": 1, "items": [item]}, users=(("agent", "代办员 王秀兰", "pw"),))
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        token = client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
        app = client.post(
            "/api/applications",
            json={"item_code": "GA-001", "applicant_name": "张三", "applicant_id_number": resident_id(1), "payment_method": "cash"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert app.status_code == 201, app.text
        login(client)
        printed = client.get(f"/fees/{app.json()['fee_receipt']['receipt_no']}").text
    assert "居民身份证换领" in printed and "代办员 王秀兰" in printed and "人民币（大写）贰拾元整" in printed


def test_the_citizen_rates_on_a_screen_of_their_own_with_nothing_chosen_and_hears_the_complaint_answers(client, tmp_path: Path):
    """Issue 20 findings: 好差评 was entered on the screen of the agent being rated, with ★★★★★
    preselected; a complaint's answer never reached the point."""
    from edge_node import cases

    auth, app = an_application(client)
    at_the_point(tmp_path, cases.apply_decision, approved(app))
    assert client.post(f"/api/applications/{app['id']}/pickup", json=collected("张三", resident_id(1)), headers=auth).status_code == 200
    filed = client.post("/api/complaints", json={"text": "窗口等候太久了", "application_id": app["id"]}, headers=auth)
    assert filed.status_code == 201, filed.text
    filed = filed.json()
    login(client)
    case = client.get(f"/applications/{app['id']}").text
    assert 'id="open-rating"' in case and "★★★★★" not in case  # no rating form on the agent's own page
    screen = client.get(f"/applications/{app['id']}/rate").text
    assert 'type="radio"' in screen and "checked" not in screen and "/rate?receipt_no=" in screen and "<svg" in screen
    token = re.search(r'name="_csrf_token" value="([^"]+)"', screen).group(1)
    nothing = client.post(f"/applications/{app['id']}/evaluation", data={"_csrf_token": token, "comment": ""})
    assert nothing.status_code == 400 and "请选择" in nothing.text
    superscript = client.post(f"/applications/{app['id']}/evaluation", data={"_csrf_token": token, "level": "²"})
    assert superscript.status_code == 400 and "请选择" in superscript.text
    done = client.post(f"/applications/{app['id']}/evaluation", data={"_csrf_token": token, "level": "4"})
    assert done.status_code == 200 and "谢谢您的评价" in done.text
    # the citizen had rated on their phone first: the county's rating stands
    at_the_point(tmp_path, cases.apply_rating, {"application_id": app["id"], "level": 2, "comment": "等太久", "source": "phone", "at": T})
    assert "等太久" in client.get(f"/applications/{app['id']}/rate").text
    answers = (("first", "已核实，正在处理"), ("final", "已增开一个窗口"), ("final", "重复送达"))
    at_the_point(
        tmp_path,
        cases.apply_complaint_answer,
        *({"complaint_id": filed["complaint_id"], "stage": st, "answer": a, "by": "王敏", "at": T} for st, a in answers),
    )
    listed = client.get("/complaints").text
    assert "已增开一个窗口" in listed and "重复送达" not in listed and "初步答复" not in listed.split("已增开一个窗口")[1][:50]
    assert "县里办结答复" in client.get(f"/applications/{app['id']}").text


def test_a_villages_slip_never_says_the_village_accepted_the_case(client, tmp_path: Path):
    """Issue 20 new-user pass: after the county accepted, the village's slip turned into a 受理回执
    saying "上村代办点已当场受理"."""
    from edge_node import cases

    _, app = an_application(client)
    at_the_point(tmp_path, cases.apply_acceptance, {"application_id": app["id"], "by": "王敏", "at": T})
    login(client)
    slip = client.get(f"/applications/{app['id']}/receipt").text
    assert 'id="slip-title">收件回执' in slip and "已当场受理" not in slip and "已于" in slip


def test_a_result_for_an_applicant_told_by_sms_does_not_ask_the_agent_to_phone(client, tmp_path: Path):
    """Issue 21: "请电话通知申请人" was the only way a citizen heard; with their consent the county
    tells them by SMS, and the point says so (and still asks for a call where there is none)."""
    from edge_node import cases

    auth, silent = an_application(client)
    told = client.post(
        "/api/applications",
        json={
            "item_code": "MZ-003",
            "applicant_name": "李四",
            "applicant_id_number": resident_id(2),
            "materials_checked": ["居民身份证"],
            "applicant_phone": "13912345678",
            "sms_consent": True,
        },
        headers=auth,
    ).json()
    at_the_point(tmp_path, cases.apply_decision, approved(silent), approved(told))
    login(client)
    assert "县里会短信通知申请人（13912345678）" in client.get(f"/applications/{told['id']}").text
    assert "请电话通知申请人" in client.get(f"/applications/{silent['id']}").text
    assert "其中 1 件申请人未同意短信通知，请电话通知领取" in client.get("/").text


def test_a_point_offline_is_ready_all_the_same(client):
    """Issue 22 item 8: readiness checks the node's database; NATS is reported, not required."""
    assert client.get("/api/ready").json() == {"status": "ready", "database": "ok", "nats": "offline"}
