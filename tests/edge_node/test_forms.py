"""Item-specific intake at the window (issue 19 items 1 and 2): the item's application form is read
from the page, checked, saved with the case and sent in its record; a point takes in only what the
catalog lets it (handling level, in person, withdrawn)."""

from __future__ import annotations

import json

import pytest

from central.catalog import sample_catalog
from edge_node import cases, forms
from edge_node.catalog import install_catalog
from tests.support.builders import AGENT, checked, resident_id
from weblayer.errors import InvalidInput


@pytest.fixture
def sample(store):
    install_catalog(store, {"version": 2, "items": sample_catalog()["items"]})
    return store


def item(code: str) -> dict:
    return next(i for i in sample_catalog()["items"] if i["code"] == code)


APPLICANT = {"applicant_name": "李桂芳", "applicant_id_number": resident_id(1)}
POSTED = {
    "f.address": " 青山镇上村三组 ",
    "f.reason": "因病致贫",
    "f.members.0.name": "李桂芳",
    "f.members.0.relation": "本人",
    "f.members.0.id_number": resident_id(1),
    "f.members.0.income_fen": "300.50",
    "f.members.1.name": "",  # a blank row is no row
    "f.members.1.relation": "",
    "f.members.2.name": "王小军",
    "f.members.2.relation": "子女",
    "f.members.2.id_number": resident_id(2),
    "f.members.2.income_fen": "1,200",
}


def test_a_posted_household_is_read_row_by_row_with_money_in_fen():
    values = forms.values_from_post(item("MZ-001"), POSTED)
    assert values["members"] == [
        {"name": "李桂芳", "relation": "本人", "id_number": resident_id(1), "income_fen": 30050},
        {"name": "王小军", "relation": "子女", "id_number": resident_id(2), "income_fen": 120000},
    ]
    assert forms.people_rows(POSTED) == {"members": 3}


def test_the_form_is_saved_with_the_case_and_travels_in_its_record(sample):
    filled = forms.check(item("MZ-001"), forms.values_from_post(item("MZ-001"), POSTED))
    app = cases.submit_application(sample, {"item_code": "MZ-001", "form": filled} | APPLICANT, AGENT, checked=checked("MZ-001"))
    row = sample.one("SELECT form_json, catalog_version FROM applications WHERE id = ?", (app["id"],))
    assert json.loads(row["form_json"]) == filled and row["catalog_version"] == 2
    (event,) = [json.loads(e["data_json"]) for e in sample.query("SELECT data_json FROM outbox WHERE kind = 'application.received'")]
    assert event["form"] == filled and event["catalog_version"] == 2 and filled["address"] == "青山镇上村三组"


def test_a_form_that_breaks_its_item_saves_nothing_and_names_the_field(sample):
    bad = forms.values_from_post(item("MZ-001"), POSTED | {"f.members.2.income_fen": "一千"})
    with pytest.raises(InvalidInput) as refused:
        cases.submit_application(sample, {"item_code": "MZ-001", "form": bad} | APPLICANT, AGENT, checked=checked("MZ-001"))
    assert refused.value.field == "form.members.1.income_fen" and "月收入" in refused.value.message
    assert sample.one("SELECT COUNT(*) FROM applications")[0] == 0 and sample.one("SELECT COUNT(*) FROM outbox")[0] == 0


@pytest.mark.parametrize(
    ("code", "kind", "change", "field", "words"),
    [
        ("GA-001", "village", {}, "item_code", "须到乡镇便民服务中心办理"),  # a township item, and its fee, at a village
        ("GA-001", "township", {"by_proxy": "1"}, "by_proxy", "本人到场"),  # photo and fingerprints
    ],
)
def test_a_point_takes_in_only_what_the_catalog_lets_it(sample, code, kind, change, field, words):
    form = {"item_code": code} | APPLICANT | change
    with pytest.raises(InvalidInput) as refused:
        cases.submit_application(sample, form, AGENT, checked=checked(code), payment=("cash", ""), point_kind=kind)
    assert refused.value.field == field and words in refused.value.message
    assert sample.one("SELECT COUNT(*) FROM fee_receipts")[0] == 0 and sample.one("SELECT COUNT(*) FROM outbox")[0] == 0
    app = cases.submit_application(sample, {"item_code": code} | APPLICANT, AGENT, checked=checked(code), payment=("cash", ""), point_kind="township")
    assert app["receipt_no"]  # the same citizen, in person, at the township


def test_a_withdrawn_item_is_not_taken_in(store):
    install_catalog(store, {"version": 3, "items": [item("MZ-003") | {"withdrawn": True}]})
    with pytest.raises(InvalidInput, match="已停用"):
        cases.submit_application(store, {"item_code": "MZ-003"} | APPLICANT, AGENT, checked=checked("MZ-003"))
