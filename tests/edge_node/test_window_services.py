"""咨询导办 and 上门办理 at the point (issue 21 items 4 and 5): a consultation is noted in one short
form and goes up; a case taken in at the citizen's home says where, only for the items the catalog
marks for it, and the record says so."""

from __future__ import annotations

import json

import pytest

from edge_node import cases, consultations
from edge_node.appointments import today
from edge_node.catalog import install_catalog
from tests.support.api import login
from tests.support.builders import AGENT, CATALOG, FORM
from weblayer.errors import InvalidInput

RELIEF = CATALOG["items"][0] | {"code": "MZ-001", "name": "最低生活保障申请", "home_visit": True}


def sent(store, kind: str) -> list[dict]:
    return [json.loads(r["data_json"]) for r in store.query("SELECT data_json FROM outbox WHERE kind = ? ORDER BY seq", (kind,))]


def test_a_consultation_is_noted_and_goes_up(store):
    row = consultations.record(store, AGENT, "低保要带什么？", "身份证、户口簿、收入证明", "MZ-003", case_followed=True)
    consultations.record(store, AGENT, "几点下班？", "")
    assert row["id"] == "shangcun-Q000001"
    assert sent(store, "consultation.recorded")[0] == {
        "consultation_id": "shangcun-Q000001",
        "question": "低保要带什么？",
        "answer": "身份证、户口簿、收入证明",
        "case_followed": True,
        "agent": "agent",
        "item_code": "MZ-003",
    }
    assert [c["question"] for c in consultations.of_day(store, today())] == ["几点下班？", "低保要带什么？"]
    for bad in (
        lambda: consultations.record(store, AGENT, " ", "x"),
        lambda: consultations.record(store, AGENT, "问" * 201, ""),
        lambda: consultations.record(store, AGENT, "问", "", "NOPE"),
    ):
        with pytest.raises(InvalidInput):
            bad()


def test_a_case_taken_at_home_says_where_only_for_items_marked_for_it(store):
    install_catalog(store, CATALOG | {"version": 2, "items": [*CATALOG["items"], RELIEF]})
    with pytest.raises(InvalidInput, match="上门的地点") as err:
        cases.submit_application(store, FORM | {"item_code": "MZ-001", "home_visit": "1"}, AGENT, checked=["居民身份证"])
    assert err.value.field == "home_visit_place"
    with pytest.raises(InvalidInput, match="不提供上门办理"):
        cases.submit_application(store, FORM | {"home_visit": "1", "home_visit_place": "上村三组"}, AGENT, checked=["居民身份证"])
    app = cases.submit_application(
        store, FORM | {"item_code": "MZ-001", "home_visit": "1", "home_visit_place": "上村三组 李桂芳家"}, AGENT, checked=["居民身份证"]
    )
    assert sent(store, "application.received")[-1]["home_visit"] == "上村三组 李桂芳家"
    assert store.one("SELECT home_visit FROM applications WHERE id = ?", (app["id"],))["home_visit"] == "上村三组 李桂芳家"
    cases.submit_application(store, FORM | {"item_code": "MZ-001"}, AGENT, checked=["居民身份证"])  # at the window
    assert "home_visit" not in sent(store, "application.received")[-1]


def test_the_consultation_page_takes_a_note_in_one_form(client):
    login(client)
    page = client.get("/consultations")
    token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]
    bad = client.post("/consultations", data={"_csrf_token": token, "question": "", "answer": "已答复"})
    assert bad.status_code == 400 and "请填写群众问的事" in bad.text and 'value="已答复"' in bad.text
    done = client.post(
        "/consultations",
        data={"_csrf_token": token, "question": "社保卡丢了怎么办", "answer": "到乡镇补办", "case_followed": "1"},
        follow_redirects=True,
    )
    assert "社保卡丢了怎么办" in done.text and "已受理" in done.text
