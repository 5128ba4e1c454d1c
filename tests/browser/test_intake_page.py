"""The village agent's intake wizard in real Chromium: find the item, enter the applicant, check
the materials (one photographed), get a one-time notice when something is missing, submit, see
the receipt number and QR code; the returning citizen is recognised by ID (一号申请); the citizen
checks progress without logging in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.browser import printed_chrome, sign
from tests.support.builders import resident_id
from tests.support.federation import running_village

from ..images import photo

pytestmark = pytest.mark.browser
PHOTO = photo()


def test_agent_runs_the_intake_wizard(federation: LocalFederation, browser: Browser, tmp_path):
    spec = running_village(federation, "shangcun")
    base = f"http://127.0.0.1:{spec.port}"
    page = browser.new_page(locale="zh-CN")
    agent = Api(base, "agent", federation.password)

    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("#username", "agent")
    page.fill("#password", "wrong")
    page.click("#submit-login")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    page.fill("#password", federation.password)
    page.click("#submit-login")
    expect(page.locator("#sync-status")).to_be_visible()

    # ① find the item by a Chinese keyword
    page.goto(base + "/catalog")
    page.fill("#q", "低保 最低")
    page.click("#search")
    expect(page.locator("#items tbody tr")).to_have_count(1)
    expect(page.locator("#items")).to_contain_text("最低生活保障申请")
    page.get_by_role("link", name="办理").click()

    # ② a mistyped ID: a clear message, the form keeps what was typed, nothing saved
    page.fill("#applicant_id_number", "110105194912310021")
    page.fill("#applicant_name", "张秀英")
    page.click("#submit-intake")
    expect(page.locator("#form-error")).to_contain_text("校验位不正确")
    expect(page.locator("#applicant_name")).to_have_value("张秀英")

    # materials missing: ONE notice lists all of them; still nothing saved as an application
    page.fill("#applicant_id_number", resident_id(7))
    page.fill("#applicant_phone", "13800138000")
    page.check("#have_0")  # 居民身份证 seen; the authorisation and the income statement are not here
    page.click("#submit-intake")
    expect(page.locator("#notice-no")).to_have_text("shangcun-N000001")
    expect(page.locator("#missing li")).to_have_text(["家庭经济状况核对授权书", "家庭收入情况声明"])
    expect(page.locator("#notice")).not_to_contain_text("户口簿")  # obtained by data sharing: never demanded
    assert agent.get("/api/applications").json() == []

    # the citizen comes back with everything; one material is photographed at the window
    page.goto(base + "/applications/new?item=MZ-001")
    page.fill("#applicant_id_number", resident_id(7))
    page.fill("#applicant_name", "张秀英")
    page.fill("#applicant_phone", "13800138000")
    page.check("#have_0")
    page.set_input_files("#file_1", files=[{"name": "授权书.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}])
    page.check("#have_2")
    page.fill("[name='f.address']", "青山镇上村三组")  # the item's own application form (申请表)
    page.fill("[name='f.reason']", "因病致贫")
    page.fill("[name='f.members.0.name']", "张秀英")
    page.select_option("[name='f.members.0.relation']", "本人")
    page.fill("[name='f.members.0.id_number']", resident_id(7))
    page.fill("[name='f.members.0.income_fen']", "300")
    page.check("#by_proxy")
    expect(page.locator("#review-applicant")).to_contain_text("张秀英")  # ④ read back before submitting
    expect(page.locator("#review-materials")).to_contain_text("家庭经济状况核对授权书（已拍照）")
    expect(page.locator("#review-proxy")).to_contain_text("是")
    page.click("#submit-intake")  # proxy without the applicant's authorisation: refused
    expect(page.locator("#form-error")).to_contain_text("申请人的授权")
    page.set_input_files("#file_1", files=[{"name": "授权书.jpg", "mimeType": "image/jpeg", "buffer": PHOTO}])
    sign(page, "#signature-pad")  # the applicant signs with a finger (here: the mouse)
    page.click("#submit-intake")
    expect(page.locator("#receipt-no")).to_have_text("shangcun-000001")
    expect(page.locator("#receipt")).to_contain_text("最低生活保障申请")
    expect(page.locator("#uploaded")).to_have_text("家庭经济状况核对授权书、委托代办授权书（手写签名）")
    expect(page.locator("#checked")).to_have_text("居民身份证、家庭收入情况声明")
    expect(page.locator("#qr svg")).to_be_visible()
    assert printed_chrome(page) == []  # issue 20: the slip prints without the step bar or the buttons
    page.click("#print-authorisation")
    expect(page.locator("#authorisation")).to_contain_text("委托人：张秀英")
    expect(page.locator("#signature-image")).to_be_visible()
    assert page.locator("#signature-image").evaluate("img => img.naturalWidth") == 480  # the drawn PNG, served back
    page.go_back()
    page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)
    saved = agent.get("/api/applications").json()
    assert [a["receipt_no"] for a in saved] == ["shangcun-000001"]
    assert "*" in saved[0]["applicant_id_number"]
    assert [m["material"] for m in agent.get(f"/api/applications/{saved[0]['id']}/materials").json()] == [
        "家庭经济状况核对授权书",
        "委托代办授权书（手写签名）",
    ]

    # 一号申请: the same ID next time brings back name, phone and earlier results
    page.goto(base + "/applications/new?item=MZ-004")
    page.fill("#lookup", resident_id(7))
    page.click("#submit-lookup")
    expect(page.locator("#known-applicant")).to_contain_text("shangcun-000001")
    expect(page.locator("#applicant_name")).to_have_value("张秀英")
    expect(page.locator("#applicant_phone")).to_have_value("13800138000")

    # the citizen checks progress without an account: receipt number + last 4 of the ID
    citizen = browser.new_page(locale="zh-CN")
    citizen.goto(base + "/progress?receipt_no=shangcun-000001")
    citizen.fill("#id_last4", "0000")
    citizen.click("#submit-progress")
    expect(citizen.get_by_role("alert")).to_contain_text("没有查到")
    citizen.fill("#id_last4", resident_id(7)[-4:])
    citizen.click("#submit-progress")
    expect(citizen.locator("#progress-result")).to_contain_text("已提交，等待受理")
