"""一号申请 across the county at the point (issue 19 item 6): the county's answer is used while
online and kept for offline; a licence the county sent stands in for paper offline; the cache is
bounded."""

from __future__ import annotations

from edge_node import cases, people
from sync_protocol import seal_licence
from tests.support.builders import HUB_KEY, resident_id

PERSON = resident_id(7)


def reply(n_cases: int = 1, licence: str = "") -> dict:
    return {
        "id_number": PERSON,
        "applicant_name": "王桂兰",
        "cases": [
            {
                "receipt_no": f"shangcun-{i:06d}",
                "item_code": "CL-001",
                "item_name": "残疾人证申领",
                "status": "approved",
                "status_text": "已批准",
                "submitted_at": "2026-10-01T00:00:00.000000Z",
                "point": "上村",
            }
            for i in range(n_cases)
        ],
        "licences": [
            {
                "licence_no": "YW202600000007",
                "item_code": "CL-001",
                "item_name": "残疾人证申领",
                "issued_at": "2026-10-02T00:00:00.000000Z",
                "text": licence,
            }
        ]
        if licence
        else [],
    }


def test_the_countys_answer_is_used_online_and_recalled_offline(store):
    assert people.county_view(store, lambda _: None, PERSON) is None  # offline, never asked
    live = people.county_view(store, lambda _: reply(2), PERSON)
    assert live["live"] and len(live["cases"]) == 2
    offline = people.county_view(store, lambda _: None, PERSON)
    assert not offline["live"] and offline["fetched_at"] == live["fetched_at"] and offline["cases"] == live["cases"]


def test_a_licence_the_county_sent_stands_in_for_paper_offline(store):
    doc = {
        "licence_no": "YW202600000007",
        "kind": "办理结果",
        "item_code": "CL-001",
        "item_name": "残疾人证申领",
        "holder_name": "王桂兰",
        "holder_id": PERSON,
        "application_id": "a7",
        "issued_at": "2026-10-02T00:00:00.000000Z",
        "issuer": "县级政务服务中枢",
    }
    people.remember(store, reply(licence=seal_licence(doc, HUB_KEY)))
    assert [lic["licence_no"] for lic in cases.holder_licences(store, PERSON)] == ["YW202600000007"]
    item = {"materials": [{"name": "残疾人证", "licence_item": "CL-001"}]}
    used = cases.licences_in_place(store, HUB_KEY.verify_key, item, PERSON, {"残疾人证": "YW202600000007"})  # by its number: no paper, no network
    assert used == [{"material": "残疾人证", "licence_no": "YW202600000007"}]


def test_the_cache_is_bounded(store, monkeypatch):
    monkeypatch.setattr(people, "MAX_PEOPLE", 3)
    for n in range(5):
        people.remember(store, reply() | {"id_number": resident_id(100 + n)})
    kept = [r["id_number"] for r in store.query("SELECT id_number FROM person_cache ORDER BY fetched_at")]
    assert kept == [resident_id(102), resident_id(103), resident_id(104)]  # the oldest answers went first
