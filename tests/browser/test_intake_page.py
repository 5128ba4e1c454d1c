"""The village agent's intake page in real Chromium: fill in, submit, see the receipt number."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from provisioning.federation import LocalFederation

from ..conftest import Api, resident_id, village

pytestmark = pytest.mark.browser


def test_agent_submits_an_application_and_sees_the_receipt(federation: LocalFederation, browser: Browser, tmp_path):
    spec = village("shangcun")
    federation.enrol_node(spec)
    federation.start_node(spec)
    base = f"http://127.0.0.1:{spec.port}"
    page = browser.new_page(locale="zh-CN")

    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("#username", "agent")
    page.fill("#password", "wrong")
    page.click("#submit-login")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    page.fill("#password", federation.password)
    page.click("#submit-login")
    expect(page.locator("#sync-status")).to_be_visible()

    page.goto(base + "/applications/new")
    page.select_option("#item_code", "MZ-003")
    page.fill("#applicant_name", "张秀英")
    page.fill("#applicant_phone", "13800138000")

    # a mistyped ID number: a clear Chinese message, the form keeps what was typed, nothing saved
    page.fill("#applicant_id_number", "110105194912310021")
    page.click("#submit-intake")
    expect(page.locator("#form-error")).to_contain_text("校验位不正确")
    expect(page.locator("#applicant_name")).to_have_value("张秀英")
    agent = Api(base, "agent", federation.password)
    assert agent.get("/api/applications").json() == []

    page.fill("#applicant_id_number", resident_id(7))
    page.check("input[name=by_proxy]")
    page.click("#submit-intake")
    expect(page.locator("#receipt-no")).to_have_text("shangcun-000001")
    expect(page.locator("#receipt")).to_contain_text("高龄津贴申领")
    expect(page.locator("#receipt")).to_contain_text("代办员 王秀兰")
    page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)

    saved = agent.get("/api/applications").json()
    assert [a["receipt_no"] for a in saved] == ["shangcun-000001"]
    assert saved[0]["applicant_id_number"].startswith("1101") and "*" in saved[0]["applicant_id_number"]
