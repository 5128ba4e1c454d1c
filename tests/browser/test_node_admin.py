"""The county operator manages points in real Chromium: the enrolment slip (code, CA fingerprint,
the whole command as text and QR) enrols a real node, and the revoke button cuts that node off."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from provisioning.enrol import enroll
from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.browser import log_in
from tests.support.federation import AGENT_ROLE, village
from tests.support.polling import eventually

pytestmark = pytest.mark.browser


def test_operator_prints_a_slip_that_enrols_a_point_and_revokes_it_with_a_reason(federation: LocalFederation, browser: Browser):
    page = browser.new_page(locale="zh-CN")
    log_in(page, federation.hub_url, "operator", federation.password)
    page.goto(federation.hub_url + "/nodes")
    page.fill("#node_id", "xicun")
    page.fill("#name", "西村代办点")
    page.locator("form[action='/nodes/enrolment-codes'] button").click()
    slip = page.locator("#enrolment-slip")
    expect(slip).to_contain_text("服务点登记单")
    expect(page.locator("#ca-fingerprint")).to_have_text(federation.ca_fingerprint())
    expect(page.locator("#enrol-qr svg")).to_be_visible()
    command = page.locator("#enrol-command").inner_text()
    code = page.locator("#new-code").inner_text()
    assert command == f"yiwang node enroll {code} --hub {federation.hub_url} --ca {federation.ca_fingerprint()}"
    page.emulate_media(media="print")  # the printout is the slip alone
    expect(slip).to_be_visible()
    expect(page.locator("table").first).to_be_hidden()
    page.emulate_media(media="screen")

    # at the village: the command as printed
    _, _, _, code, _, hub_url, _, ca = command.split()
    spec = village("xicun")
    enroll(code, hub_url, federation.node_dir("xicun"), ca)
    federation.add_node_user(federation.node_dir("xicun"), "agent", "代办员", AGENT_ROLE)
    federation.start_node(spec)
    status = f"http://127.0.0.1:{spec.port}/api/status"
    eventually(lambda: httpx.get(status).json()["online"], what="the new point online")

    page.goto(federation.hub_url + "/nodes")
    page.locator("#revoke-xicun").click()  # no reason: the browser asks for one, nothing is sent
    expect(page.locator("#message")).to_have_count(0)
    page.fill("#revoke-reason-xicun", "电脑被盗")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#revoke-xicun").click()
    expect(page.locator("#message")).to_contain_text("节点 xicun 已吊销")
    expect(page.locator("#revoke-xicun")).to_have_count(0)
    eventually(lambda: httpx.get(status).json()["credentials_refused"], what="NATS to refuse the revoked point")
    operator = Api(federation.hub_url, "operator", federation.password)
    revoked = operator.get("/api/actions").json()[0]
    assert revoked["action"] == "node.revoked" and revoked["target"] == "xicun" and "电脑被盗" in str(revoked)
    assert re.search(r"已吊销", page.locator("table").first.inner_text())
