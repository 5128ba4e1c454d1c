"""The rest of the path in real Chromium: a clerk accepts (受理) and approves in the hub UI, the agent sees
"result ready" at the village node and records the pickup, the hub shows the case delivered."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.browser import log_in
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village

pytestmark = pytest.mark.browser


def test_clerk_decides_and_agent_hands_over_the_result(federation: LocalFederation, browser: Browser):
    spec = running_village(federation, "shangcun")
    node_url = f"http://127.0.0.1:{spec.port}"
    agent_api = Api(node_url, "agent", federation.password)
    app = agent_api.post(
        "/api/applications",
        json={
            "item_code": "MZ-003",
            "materials_checked": checked("MZ-003"),
            "applicant_name": "赵淑兰",
            "applicant_id_number": resident_id(3),
            "applicant_phone": "13800138000",
        },
    ).json()

    clerk = browser.new_page(locale="zh-CN")
    log_in(clerk, federation.hub_url, "clerk-mzj", federation.password)
    expect(clerk).to_have_url(re.compile(r"/queue$"))
    # the queue fills as soon as the batch is ingested; reload until it is there
    for _ in range(50):
        if clerk.get_by_text(app["receipt_no"]).count():
            break
        clerk.wait_for_timeout(200)
        clerk.reload()
    clerk.get_by_text(app["receipt_no"]).click()
    expect(clerk.locator("h1")).to_contain_text("待受理")
    clerk.click("#not-accept")  # 不予受理 without a reason is refused, in Chinese, and changes nothing
    expect(clerk.get_by_role("alert")).to_contain_text("不予受理必须说明原因")
    expect(clerk.locator("h1")).to_contain_text("待受理")
    clerk.click("#accept")
    expect(clerk.locator("h1")).to_contain_text("已受理")
    expect(clerk.locator("#pre-review")).to_have_count(0)
    clerk.click("button[value=deny]")  # a denial without a reason is refused, in Chinese
    expect(clerk.get_by_role("alert")).to_contain_text("不予批准必须填写理由")
    clerk.click("button[value=approve]")
    expect(clerk.locator("h1")).to_contain_text("已批准")

    agent = browser.new_page(locale="zh-CN")
    log_in(agent, node_url, "agent", federation.password)
    for _ in range(50):
        if agent.locator("#results-ready").count():
            break
        agent.wait_for_timeout(200)
        agent.reload()
    expect(agent.locator("#results-ready")).to_contain_text("请通知申请人领取")
    agent.get_by_text(app["receipt_no"]).click()
    expect(agent.locator("#result-ready")).to_contain_text("13800138000")
    agent.fill("#collector_id_number", resident_id(3))
    agent.click("#submit-pickup")
    expect(agent.locator("#case-status")).to_have_text("已领取")

    for _ in range(50):
        clerk.reload()
        if "已送达" in clerk.locator("h1").inner_text():
            break
        clerk.wait_for_timeout(200)
    expect(clerk.locator("h1")).to_contain_text("已送达")
