"""The county operator in real Chromium: the dashboard answers its three questions from a running
federation (a point that collected cash it has not remitted, a complaint waiting), the operator
answers the complaint (an empty answer is refused in Chinese), and publishes a catalog change
that the node then reports running."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.browser import log_in
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.browser


def test_operator_reads_the_dashboard_answers_a_complaint_and_publishes_the_catalog(federation: LocalFederation, browser: Browser):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    paid = agent.post(
        "/api/applications",
        json={
            "item_code": "YB-001",
            "materials_checked": checked("YB-001"),
            "applicant_name": "钱玉梅",
            "applicant_id_number": resident_id(51),
            "payment_method": "cash",
        },
    )
    assert paid.status_code == 201, paid.text
    assert agent.post("/api/complaints", json={"text": "窗口中午无人值守"}).status_code == 201
    eventually(
        lambda: operator.get("/api/dashboard").json()["complaints_open"] and operator.get("/api/dashboard").json()["fees"],
        what="the fee and the complaint at the hub",
    )

    page = browser.new_page(locale="zh-CN")
    log_in(page, federation.hub_url, "operator", federation.password)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#answer-fees")).to_contain_text("尚有现金 380.00 元未解缴")
    expect(page.locator("#fees tr[data-node=shangcun]")).to_contain_text("380.00")
    expect(page.locator("#nodes-health tr[data-node=shangcun]")).to_be_visible()
    expect(page.locator("#answer-cases")).to_contain_text("没有超期办件")
    expect(page.locator("#cases-chart svg rect").first).to_be_visible()

    page.locator("#complaints button[value=final]").click()  # empty answer
    expect(page.locator("#form-error")).to_contain_text("请填写答复内容")
    page.fill("#complaints textarea", "已电话联系服务点，了解午间值守情况")
    page.locator("#complaints button[value=first]").click()  # 初步答复 within 24 hours, then 办结答复
    expect(page.locator("#complaints")).to_contain_text("初步答复：已电话联系服务点")
    page.fill("#complaints textarea", "已调整午间轮班，保证有人值守")
    page.locator("#complaints button[value=final]").click()
    expect(page.locator("#complaints")).to_contain_text("没有待答复的投诉")
    expect(page.locator("#complaints-answered")).to_contain_text("已调整午间轮班")  # answered ones stay visible
    assert operator.get("/api/actions").json()[0]["action"] == "complaint.answered_final"

    page.goto(federation.hub_url + "/catalog/items/MZ-003")
    page.fill("#time_limit_days", "十")
    page.click("#publish")
    expect(page.locator("#form-error")).to_contain_text("承诺办结时限应为数字")
    page.fill("#time_limit_days", "7")
    page.fill("#note", "压缩时限")
    page.click("#publish")
    expect(page.locator("#published")).to_contain_text("已发布第 2 版")
    eventually(
        lambda: next(n for n in operator.get("/api/dashboard").json()["nodes"] if n["id"] == "shangcun")["catalog_version"] == 2,
        what="the node on version 2",
    )
    page.reload()
    expect(page.locator("#catalog-versions tbody tr").first).to_contain_text("压缩时限")
    expect(page.locator("#catalog-versions tbody tr").first.locator("td").last).to_have_text("1")
