"""Every page says whether the point is online, and when it is not, since when and how much is
waiting — in real Chromium, with NATS really stopped and started."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village

pytestmark = pytest.mark.browser


def test_offline_banner_shows_since_when_and_how_many_wait(federation: LocalFederation, browser: Browser):
    spec = running_village(federation, "shangcun")
    base = f"http://127.0.0.1:{spec.port}"
    page = browser.new_page(locale="zh-CN")
    page.goto(base + "/login")
    page.fill("#username", "agent")
    page.fill("#password", federation.password)
    page.click("#submit-login")
    expect(page.locator("#sync-status")).to_contain_text("在线")

    federation.stop("nats")
    agent = Api(base, "agent", federation.password)
    for n in range(3):
        agent.post(
            "/api/applications",
            json={"item_code": "MZ-003", "materials_checked": checked("MZ-003"), "applicant_name": f"村民{n}", "applicant_id_number": resident_id(n)},
        )
    page.goto(base + "/catalog")  # any page
    expect(page.locator("#sync-status")).to_contain_text(re.compile(r"离线 · 连接中断（自 \d{4}-\d\d-\d\d \d\d:\d\d 起） · 3 条记录等待上传"))
    expect(page.locator("#sync-status")).to_have_class(re.compile("offline"))

    federation.start_nats()
    for _ in range(60):
        page.reload()
        if "所有记录已同步" in page.locator("#sync-status").inner_text():
            break
        page.wait_for_timeout(250)
    expect(page.locator("#sync-status")).to_contain_text("在线 · 所有记录已同步到县中枢")
