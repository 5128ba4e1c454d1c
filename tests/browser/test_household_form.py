"""A form-heavy item in real Chromium (issue 19 item 2): a village agent takes a 低保 application with
its household on a phone (390 px wide, no sideways scrolling), a mistyped member ID is refused
naming that member; the township approver reviews the household on its own phone (乡镇审核, the
first stage of 低保) and passes it; then the county clerk reads the whole household, the members'
ages and the income-per-head hint on the case page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from provisioning.federation import LocalFederation
from tests.support.browser import log_in
from tests.support.builders import resident_id
from tests.support.federation import running_township, running_village

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_a_household_taken_on_a_phone_reaches_the_clerk_in_full(federation: LocalFederation, browser: Browser):
    township = running_township(federation, "qingshan")
    spec = running_village(federation, "shangcun", parent="qingshan")
    node_url = f"http://127.0.0.1:{spec.port}"
    phone = browser.new_page(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(phone, node_url, "agent", federation.password)
    phone.goto(node_url + "/applications/new?item=MZ-001")
    expect(phone.locator("#application-form legend")).to_contain_text("申请表")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing wider than the phone

    phone.fill("#applicant_id_number", resident_id(41))
    phone.fill("#applicant_name", "周桂香")
    for i in range(3):
        phone.check(f"#have_{i}")
    phone.fill("[name='f.address']", "青山镇上村四组 12 号")
    phone.fill("[name='f.reason']", "丈夫因病去世，本人无固定收入")
    household = [
        ("周桂香", "本人", resident_id(41), "200"),
        ("王强", "子女", resident_id(15000), "1200"),
        ("王小丽", "孙子女", resident_id(26000), "0"),
    ]
    for i, (name, relation, id_number, income) in enumerate(household):
        mistyped = id_number[:17] + ("0" if id_number[17] != "0" else "1")  # the second member's last digit
        phone.fill(f"[name='f.members.{i}.name']", name)
        phone.select_option(f"[name='f.members.{i}.relation']", relation)
        phone.fill(f"[name='f.members.{i}.id_number']", mistyped if i == 1 else id_number)
        phone.fill(f"[name='f.members.{i}.income_fen']", income)
    phone.click(".add-person")  # a fourth row, added on the phone
    expect(phone.locator("[name='f.members.3.name']")).to_have_value("")
    phone.click("#submit-intake")
    # the second member's ID was mistyped: refused, that member named, everything typed kept
    expect(phone.locator("#form-error")).to_contain_text("共同生活的家庭成员第 2 人的公民身份号码校验位不正确")
    expect(phone.locator("[name='f.members.1.id_number']")).to_have_attribute("aria-invalid", "true")
    expect(phone.locator("[name='f.members.2.name']")).to_have_value("王小丽")
    phone.fill("[name='f.members.1.id_number']", resident_id(15000))
    phone.click("#submit-intake")
    expect(phone.locator("#receipt-no")).to_have_text(re.compile(r"^shangcun-\d{6}$"))
    receipt_no = phone.locator("#receipt-no").inner_text()
    expect(phone.locator("#slip-title")).to_have_text("收件回执")  # a village point collects; the township accepts 低保

    # the filled-in 申请表 prints on one A4 page for the applicant's signature, without the page's chrome
    paper = browser.new_page(locale="zh-CN")
    log_in(paper, node_url, "agent", federation.password)
    paper.goto(phone.url)
    paper.click("#print-application-form")
    sheet = paper.locator("#application-form-print")
    expect(sheet).to_contain_text(resident_id(15000))
    expect(sheet).to_contain_text("申请人签名")
    paper.emulate_media(media="print")
    assert not paper.locator("header").is_visible() and not paper.locator(".no-print").is_visible()
    pdf = paper.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1  # one sheet of A4
    paper.close()

    approver = browser.new_page(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    township_url = f"http://127.0.0.1:{township.port}"
    log_in(approver, township_url, "boss", federation.password)
    for _ in range(150):
        approver.goto(township_url + "/reviews")
        if approver.get_by_text(receipt_no).count():
            break
        approver.wait_for_timeout(200)
    approver.get_by_text(receipt_no).click()
    expect(approver.locator("#review-form")).to_contain_text(resident_id(15000))  # the township decides: the whole household, in full
    assert approver.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    approver.fill("#review-reason", "入户核实，情况属实")
    approver.click("#review-approve")
    expect(approver.locator("#review-result")).to_contain_text("同意")

    clerk = browser.new_page(locale="zh-CN")
    log_in(clerk, federation.hub_url, "clerk-mzj", federation.password)
    for _ in range(100):
        if clerk.get_by_text(receipt_no).count():
            break
        clerk.wait_for_timeout(200)
        clerk.reload()
    clerk.get_by_text(receipt_no).click()
    form = clerk.locator("#application-form")
    expect(form).to_contain_text("青山镇上村四组 12 号")
    expect(form.locator("#form-members tbody tr")).to_have_count(3)
    expect(form.locator("#form-members")).to_contain_text("王小丽")
    expect(form.locator("#form-members")).not_to_contain_text(resident_id(15000))  # masked until the clerk asks
    expect(clerk.locator("#form-hints")).to_contain_text("人均 466.66 元")
    expect(clerk.locator("#form-hints")).to_contain_text("符合")
    expect(clerk.locator("#form-problem")).to_have_count(0)
    clerk.click("#reveal-id")  # logged; the members' numbers in full too
    expect(clerk.locator("#form-members")).to_contain_text(resident_id(15000))
