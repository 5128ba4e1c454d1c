"""Fees at the window in real Chromium: pay with the intake, print the fee receipt, void with a
second person, close the day with a discrepancy, reconcile a WeChat Pay statement."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from provisioning.federation import LocalFederation, NodeSpec, free_port
from tests.support.builders import resident_id

pytestmark = pytest.mark.browser


def intake(page: Page, base: str, item: str, n: int, method: str, reference: str = "") -> None:
    page.goto(f"{base}/applications/new?item={item}")
    page.fill("#applicant_id_number", resident_id(n))
    page.fill("#applicant_name", f"缴费人{n}")
    for box in page.locator("input[name^=have_]").all():
        box.check()
    page.select_option("#payment_method", method)
    page.fill("#payment_reference", reference)
    page.click("#submit-intake")


def test_fee_payment_void_daily_close_and_reconciliation(federation: LocalFederation, browser: Browser, tmp_path):
    spec = NodeSpec(
        "shangcun",
        "青山镇便民服务中心",
        "township",  # 身份证换领 (and its fee) is a township item
        free_port(),
        users=[("agent", "代办员 王秀兰", "village_agent"), ("chief", "站长 李建国", "township_staff")],
    )
    federation.enrol_node(spec)
    federation.start_node(spec)
    base = f"http://127.0.0.1:{spec.port}"
    page = browser.new_page(locale="zh-CN")
    page.goto(base + "/login")
    page.fill("#username", "agent")
    page.fill("#password", federation.password)
    page.click("#submit-login")

    # a fee item without a payment method: refused with the amount, nothing saved
    page.goto(f"{base}/applications/new?item=YB-001")
    expect(page.locator("#payment legend")).to_contain_text("380.00")
    page.fill("#applicant_id_number", resident_id(1))
    page.fill("#applicant_name", "缴费人1")
    page.check("#have_0")
    page.click("#submit-intake")
    expect(page.locator("#form-error")).to_contain_text("380.00")

    intake(page, base, "YB-001", 1, "cash")
    expect(page.locator("#fee")).to_contain_text("380.00")
    page.locator("#fee a").click()
    expect(page.locator("#fee-receipt-no")).to_have_text("shangcun-F000001")
    expect(page.locator("#fee-receipt")).to_contain_text("现金")

    intake(page, base, "GA-001", 2, "wechat", "4200000001")
    expect(page.locator("#fee")).to_contain_text("20.00")

    page.goto(base + "/fees")
    expect(page.locator("#cash-expected")).to_have_text("380.00")
    row = page.locator("#receipts tr", has_text="shangcun-F000002")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("重复收费")
    row.locator("input[name=approver]").fill("agent")
    row.locator("input[name=approver_password]").fill(federation.password)
    row.get_by_role("button", name="作废").click()
    expect(page.locator("#fees-error")).to_contain_text("另一名工作人员")
    row = page.locator("#receipts tr", has_text="shangcun-F000002")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("重复收费")
    row.locator("input[name=approver]").fill("chief")
    row.locator("input[name=approver_password]").fill(federation.password)
    row.get_by_role("button", name="作废").click()
    expect(page.locator("#fees-message")).to_contain_text("已作废")

    page.fill("#cash_counted", "379.50")
    page.click("#submit-close")
    expect(page.locator("#fees-error")).to_contain_text("短少 0.50")
    page.fill("#cash_counted", "379.50")
    page.fill("#note", "找零少收五角")
    page.click("#submit-close")
    expect(page.locator("#fees-message")).to_contain_text("短少 0.50 元，已记录")
    expect(page.locator("#closes")).to_contain_text("-0.50")

    statement = tmp_path / "wechat.csv"
    statement.write_text("交易时间,交易单号,金额(元)\n2026-11-23 10:00:00,`4200000001,¥20.00\n", encoding="utf-8")
    page.set_input_files("#statement", str(statement))
    page.click("#submit-reconcile")
    expect(page.locator("#reconcile-report")).to_contain_text("本点无收据")  # the voided receipt's money is in the statement
    page.screenshot(path=str(tmp_path / "fees.png"), full_page=True)
