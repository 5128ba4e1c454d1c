"""The citizen on their own phone (issue 21): the portal at 390 px in real Chromium — a guide found
by theme and by words, a question asked and its answer read with the token, an appointment booked
with an SMS code and cancelled, the case's progress, a rating, and a complaint answered — every
page without sideways scrolling. The SMS code is read from the hub's file sink (the demo's
gateway: no phone is involved)."""

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


def code_in_sink(federation: LocalFederation) -> str:
    sink = federation.root / "hub" / "sms.jsonl"
    found = re.findall(r"验证码是(\d{6})", sink.read_text(encoding="utf-8")) if sink.exists() else []
    return found[-1] if found else ""


def test_a_citizen_finds_asks_follows_rates_and_complains_from_a_phone(federation: LocalFederation, browser: Browser):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    window = {
        "id": "w1",
        "name": "1号窗口",
        "days": [1, 2, 3, 4, 5, 6, 7],
        "start": "08:00",
        "end": "18:00",
        "minutes": 60,
        "capacity": 2,
        "online": 1,
    }
    assert agent.put("/api/appointments/schedule", json={"windows": [window], "days_ahead": 14}).status_code == 200
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

    eventually(lambda: operator.get("/api/public/appointment-points").json(), what="the point's windows at the county")
    page.locator("#portal-nav a", has_text="预约办事").click()
    page.locator("#points a").first.click()
    page.locator("#slots input[type=radio]:not([disabled])").first.check()
    page.fill("#name", "周桂兰")
    page.fill("#phone", "13912345678")
    page.click("#send-code")
    expect(page.locator("#code-sent")).to_be_visible()
    fits(page)
    eventually(lambda: code_in_sink(federation), what="the code in the hub's SMS file")
    page.locator("#slots input[type=radio]:not([disabled])").first.check()  # the choice, as the citizen made it
    page.fill("#code", code_in_sink(federation))
    page.click("#book")
    booking = page.locator("#token").inner_text().strip()
    fits(page)
    page.goto(f"{base}/portal/appointments?token={booking}")
    expect(page.locator("#appointment-point")).to_contain_text("shangcun 代办点")
    page.once("dialog", lambda dialog: dialog.accept())  # 确定取消这个预约吗？
    page.click("#cancel")
    expect(page.locator("#appointment-status")).to_have_text("已取消")

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
