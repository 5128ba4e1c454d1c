"""An agent's phone and the window's printer (issue 22 item 9), in real Chromium at 390 px wide:
no agent page scrolls sideways, list tables show each row as a labelled card (the case list
wrapped item names one character per line and the fees table overflowed), and printing shows
the paper only — no header, navigation, sync banner, form or button."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from provisioning.federation import LocalFederation, NodeSpec, free_port
from tests.support.browser import log_in, printed_chrome
from tests.support.builders import resident_id

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def no_sideways_scroll(page: Page, path: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} is {width} px wide on a {PHONE['width']} px phone"


def test_agent_pages_fit_a_phone_and_print_clean(federation: LocalFederation, browser: Browser):
    spec = NodeSpec(
        "shangcun",
        "青山镇便民服务中心",
        "township",
        free_port(),
        users=[("agent", "代办员 王秀兰", "village_agent"), ("chief", "站长 李建国", "township_staff")],
    )
    federation.enrol_node(spec)
    federation.start_node(spec)
    base = f"http://127.0.0.1:{spec.port}"
    page = browser.new_page(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(page, base, "agent", federation.password)

    # two cases on the phone, one with a fee
    for n, (item, method) in enumerate([("MZ-003", None), ("YB-001", "cash")]):
        page.goto(f"{base}/applications/new?item={item}")
        no_sideways_scroll(page, f"/applications/new?item={item}")
        page.fill("#applicant_id_number", resident_id(n))
        page.fill("#applicant_name", f"申请人{n}")
        for box in page.locator("input[name^=have_]").all():
            box.check()
        if method:
            page.select_option("#payment_method", method)
        page.click("#submit-intake")
    receipt_url = page.url  # the intake ends on the slip
    case_url = receipt_url.removesuffix("/receipt")

    for path in ["/", "/catalog", "/fees", "/notices", "/complaints", "/appointments", "/consultations", "/faq", case_url.removeprefix(base)]:
        page.goto(base + path)
        no_sideways_scroll(page, path)

    page.goto(base + "/")
    row = page.locator("table.stack tbody tr").first
    expect(page.locator("table.stack thead")).to_be_hidden()  # the headings move into each card
    item_cell = row.locator("td").nth(1)
    assert item_cell.get_attribute("data-label") == "事项"
    assert item_cell.bounding_box()["width"] > 250  # the item's name on a line, not a character per line
    page.goto(base + "/fees")
    receipt_row = page.locator("#receipts tbody tr").first
    assert receipt_row.evaluate("r => getComputedStyle(r).display") == "block"
    assert receipt_row.locator("td").nth(2).get_attribute("data-label") == "金额"

    # the paper: the slip alone when printed
    page.goto(receipt_url)
    assert printed_chrome(page) == []
    page.emulate_media(media="print")
    expect(page.locator("main")).to_be_visible()
    assert "申请人1" in page.locator("main").inner_text()
    page.emulate_media(media="screen")

    # the township's staff manage accounts on the phone too
    log_in(page, base, "chief", federation.password)
    page.goto(base + "/users")
    no_sideways_scroll(page, "/users")
    expect(page.locator("#user-agent td").first).to_have_attribute("data-label", "用户名")

    # new-user pass: the operator's dashboard, nodes page (with a slip) and e-supervision scrolled sideways at 390 px
    log_in(page, federation.hub_url, "operator", federation.password)
    page.goto(federation.hub_url + "/nodes")
    page.fill("#node_id", "xiacun")
    page.fill("#name", "下村代办点")
    page.locator("#name").press("Enter")  # the phone keyboard's 前往
    expect(page.locator("#enrolment-slip")).to_be_visible()
    no_sideways_scroll(page, "/nodes (with a slip)")
    for path in ("/dashboard", "/nodes", "/supervision", "/actions", "/exports", "/users"):
        page.goto(federation.hub_url + path)
        no_sideways_scroll(page, path)
    page.goto(federation.hub_url + "/dashboard")
    expect(page.locator("#nodes-health td").first).to_have_attribute("data-label", "节点")
