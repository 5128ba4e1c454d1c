"""The rest of the path in real Chromium: a clerk accepts (受理) and approves in the hub UI, the agent sees
"result ready" at the village node and records the pickup with the collector's signature, the hub
shows the case delivered. The documents of record (受理通知书, 给付决定书, 送达回证) reach the point
and print clean: A4, no buttons, no nav, no step bar (issue 20)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.browser import log_in, printed_chrome, sign
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
    expect(agent.locator("#results-ready")).to_contain_text("请电话通知领取")
    agent.get_by_text(app["receipt_no"]).click()
    expect(agent.locator("#result-ready")).to_contain_text("13800138000")
    agent.fill("#collector_id_number", resident_id(3))
    agent.click("#submit-pickup")  # no signature: refused, in Chinese, nothing changes
    expect(agent.get_by_role("alert")).to_contain_text("请领取人在屏幕上签名")
    agent.fill("#collector_id_number", resident_id(3))
    sign(agent, "#pickup-pad")
    agent.click("#submit-pickup")
    expect(agent.locator("#case-status")).to_have_text("已领取")
    case_url = agent.url
    for _ in range(100):  # the county's documents arrive on the downlink: 收件回执, 受理通知书, 给付决定书, then the 送达回证
        if agent.locator("#documents li").count() >= 4:
            break
        agent.wait_for_timeout(200)
        agent.reload()
    titles = agent.locator("#documents li a").all_inner_texts()
    assert titles == ["收件回执", "受理通知书", "给付决定书", "送达回证"], titles
    agent.locator("#documents").get_by_text("给付决定书", exact=True).click()
    expect(agent.locator("#document")).to_contain_text("决定准予给付")
    assert printed_chrome(agent) == []  # the paper alone
    agent.emulate_media(media="print")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", agent.pdf(format="A4"))) == 1  # one sheet of A4
    agent.emulate_media(media="screen")
    agent.goto(case_url)
    agent.locator("#documents").get_by_text("送达回证", exact=True).click()
    expect(agent.locator("#document")).to_contain_text("申请人本人")
    for title in ("收件回执", "受理通知书", "送达回证"):  # every document prints as the paper alone
        agent.goto(case_url)
        agent.locator("#documents").get_by_text(title, exact=True).click()
        expect(agent.locator("#document h1")).to_have_text(title)
        assert printed_chrome(agent) == [], title
    hub_case = clerk.url.split("/cases/")[0] + "/cases/" + app["id"]
    clerk.goto(hub_case)  # and at the hub, the same paper
    clerk.locator("#documents").get_by_text("给付决定书", exact=True).click()
    expect(clerk.locator("#document-number")).to_contain_text("决字〔")
    assert printed_chrome(clerk) == []
    clerk.goto(hub_case)

    for _ in range(50):
        clerk.reload()
        if "已送达" in clerk.locator("h1").inner_text():
            break
        clerk.wait_for_timeout(200)
    expect(clerk.locator("h1")).to_contain_text("已送达")
