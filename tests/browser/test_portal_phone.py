"""The citizen on their own phone (issue 21): the portal at 390 px in real Chromium — a guide found
by theme and by words, a question asked and its answer read with the token, the case's progress,
a rating, and a complaint answered — every page without sideways scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import collected, resident_id, submit
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def fits(page: Page) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide"


def test_a_citizen_finds_asks_follows_rates_and_complains_from_a_phone(federation: LocalFederation, browser: Browser):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    assert operator.post("/api/guidance/announcements", json={"title": "元旦假期安排", "body": "1月1日休息，2日照常办理。"}).status_code == 201
    case = submit(agent, 7, "MZ-003", by_proxy=True)
    eventually(lambda: clerk.get(f"/api/applications/{case['id']}").status_code == 200, what="the case at the hub")
    assert clerk.post(f"/api/applications/{case['id']}/decision", json={"decision": "approve"}).status_code == 200
    eventually(lambda: agent.get(f"/api/applications/{case['id']}").json()["status"] == "approved", what="the result at the point")
    assert agent.post(f"/api/applications/{case['id']}/pickup", json=collected("申请人7", resident_id(7))).status_code == 200
    eventually(lambda: clerk.get(f"/api/applications/{case['id']}").json()["status"] == "delivered", what="the pickup at the hub")
    last4 = resident_id(7)[-4:]

    page = browser.new_context(**PHONE).new_page()
    base = federation.hub_url
    page.goto(base + "/portal")
    expect(page.locator("#announcements")).to_contain_text("元旦假期安排")
    fits(page)
    page.locator("#themes a", has_text="养老服务").click()  # a theme, then its guide
    page.locator("#guides a").first.click()
    expect(page.locator("#guide")).to_contain_text("申请材料")
    fits(page)
    page.goto(base + "/portal")
    page.fill("#q", "高龄")
    page.click("#search")
    expect(page.locator("#guides")).to_contain_text("高龄津贴")
    page.locator("#guides a", has_text="高龄津贴").click()
    page.click("#ask-about")  # a question about this item
    page.fill("#question", "老人卧床不能到场，可以代办吗？")
    page.fill("#phone", "1391234")
    page.click("#submit-question")
    expect(page.locator("#ask-error")).to_contain_text("手机号码")  # a bad number: said in Chinese, what was typed kept
    expect(page.locator("#question")).to_have_value("老人卧床不能到场，可以代办吗？")
    page.fill("#phone", "13912345678")
    page.click("#submit-question")
    token = page.locator("#token").inner_text().strip()
    fits(page)
    [asked] = [c for c in clerk.get("/api/consultations").json() if c["token"] == token]
    assert clerk.post(f"/api/consultations/{asked['id']}/answer", json={"answer": "可以，由村代办员上门代办。"}).status_code == 200
    page.goto(f"{base}/portal/consultations?token={token}")
    expect(page.locator("#answer")).to_contain_text("上门代办")

    page.locator("#portal-nav a", has_text="进度查询").click()
    page.fill("#receipt_no", case["receipt_no"])
    page.fill("#id_last4", last4)
    page.click("#submit-progress")
    expect(page.locator("main")).to_contain_text("准予给付")
    fits(page)

    page.goto(f"{base}/rate?receipt_no={case['receipt_no']}")
    page.fill("#id_last4", last4)
    page.locator("input[name=level][value='5']").check()
    page.click("#submit-rating")
    expect(page.locator("#rated")).to_contain_text("非常满意")
    fits(page)

    page.locator("#portal-nav a", has_text="我要投诉").click()
    page.fill("#text", "代办点中午没人")
    page.fill("#receipt_no", case["receipt_no"])
    page.fill("#id_last4", last4)
    page.click("#submit-complaint")
    complaint_token = page.locator("#token").inner_text().strip()
    fits(page)
    [filed] = [c for c in operator.get("/api/dashboard").json()["complaints_open"] if c["complaint_id"].endswith(complaint_token)]
    assert operator.post(f"/api/complaints/{filed['complaint_id']}/answer", json={"answer": "已调整午间值班。"}).status_code == 200
    page.goto(f"{base}/portal/complaints?token={complaint_token}")
    expect(page.locator("#answer")).to_contain_text("已调整午间值班")
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", complaint_token)
