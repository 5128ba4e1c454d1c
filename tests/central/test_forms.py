"""Application forms at the hub (issue 19 item 2): the hub checks a case's form again, against the
catalog version the point ran, with the point's own rules, so the same values are accepted or
refused at both ends; the clerk sees the whole form, and hints computed from it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from central import forms as hub_forms
from central.catalog import publish_item, sample_catalog
from central.ingest import ingest_batch
from central.models import Alert, Application, User
from edge_node import forms as node_forms
from sync_protocol import Accepted, Record
from tests.support.builders import T, chain, resident_id
from weblayer.errors import InvalidInput

LOW_INCOME = [
    {"name": "李桂芳", "relation": "本人", "id_number": resident_id(1), "income_fen": 30000},
    {"name": "王小军", "relation": "子女", "id_number": resident_id(20000), "income_fen": 60000},
]
CASES = {
    "filled": {"address": "青山镇上村三组", "members": LOW_INCOME, "reason": "因病致贫"},
    "no members": {"address": "青山镇上村三组", "reason": "因病致贫"},
    "bad member id": {"address": "上村", "reason": "病", "members": [LOW_INCOME[0] | {"id_number": resident_id(1)[:17] + "0"}]},
    "money as text": {"address": "上村", "reason": "病", "members": [LOW_INCOME[0] | {"income_fen": "300"}]},
    "unknown field": {"address": "上村", "reason": "病", "members": LOW_INCOME, "car": "有"},
    "nothing": {},
}


def dibao() -> dict:
    return next(i for i in sample_catalog()["items"] if i["code"] == "MZ-001")


def received(n: int, form: dict | None, version: int | None = 1) -> Record:
    data = {
        "application_id": f"app{n}",
        "receipt_no": f"shangcun-{n:06d}",
        "item_code": "MZ-001",
        "applicant_name": "李桂芳",
        "applicant_id_number": resident_id(1),
        "agent": "agent",
    }
    return Record(
        "application.received", f"ev{n}", T, data | ({"form": form} if form is not None else {}) | ({"catalog_version": version} if version else {})
    )


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_form_is_accepted_or_refused_at_the_point_and_at_the_hub(engine, case):
    try:
        node_forms.check(dibao(), CASES[case])
        at_the_point = ""
    except InvalidInput as exc:
        at_the_point = exc.message
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, CASES[case])])[0]), Accepted)
    with Session(engine) as s:
        app = s.get(Application, "app1")
        assert app.intake_problem == at_the_point
    assert (at_the_point == "") == (case == "filled")


def test_the_clerk_sees_the_whole_form_members_masked_with_their_ages_and_the_income_hint(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, CASES["filled"])])[0])
    with Session(engine) as s:
        app = s.get(Application, "app1")
        shown = hub_forms.case_form(s, app, date(2026, 12, 7))
        revealed = hub_forms.case_form(s, app, date(2026, 12, 7), reveal=True)
    fields = {f["name"]: f for f in shown["fields"]}
    assert [f["name"] for f in shown["fields"]] == [f["name"] for f in dibao()["form"]["fields"]]
    assert fields["housing"]["value"] == ""  # left empty, still shown
    first = fields["members"]["value"][0]
    assert first["id_number"] == resident_id(1)[:4] + "*" * 10 + resident_id(1)[-4:] and first["age"] == 76  # born 1950-01-02
    assert {f["name"]: f for f in revealed["fields"]}["members"]["value"][0]["id_number"] == resident_id(1)
    (hint,) = shown["hints"]
    assert hint["met"] is True and "人均 450.00 元" in hint["detail"] and shown["problem"] == ""


def test_the_hub_checks_against_the_version_the_point_ran_not_the_one_in_force(engine):
    """A point that filled in version 1's form is not refused for a field version 2 added."""
    item = dibao()
    item["form"] = {"fields": [*item["form"]["fields"], {"name": "assets", "label": "家庭财产", "type": "text", "required": True}]}
    operator = User(username="operator", display_name="运维", role="operator", password_hash="")
    version = publish_item(engine, operator, item)["version"]
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, CASES["filled"], version=1), received(2, CASES["filled"], version=version)])[0])
    with Session(engine) as s:
        assert s.get(Application, "app1").intake_problem == ""
        assert s.get(Application, "app2").intake_problem == "请填写家庭财产"


def test_an_older_point_that_sends_no_form_is_shown_to_the_clerk_not_refused(engine):
    """A point on software from before forms sends none: the case arrives (its sync must not
    stall), and the clerk reads why the form is incomplete."""
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, None, version=None)])[0]), Accepted)
    with Session(engine) as s:
        app = s.get(Application, "app1")
        assert app.intake_problem == "请填写家庭住址" and app.form_json == "{}"
        assert hub_forms.case_form(s, app, date(2026, 12, 7))["hints"][0]["met"] is None


def test_the_age_hint_for_a_pension_at_80(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, CASES["filled"])])[0])
    with Session(engine) as s:
        app = s.get(Application, "app1")
        form = {"fields": [], "checks": [{"kind": "age_at_least", "years": 80, "label": "年满80周岁"}]}
        (hint,) = hub_forms.hints(form, {}, app.applicant_id_number, date(2030, 1, 1))
        (before,) = hub_forms.hints(form, {}, app.applicant_id_number, date(2030, 1, 2))
    assert hint == {"label": "年满80周岁", "met": False, "detail": "申请人今天 79 周岁"}
    assert before["met"] is True


def test_a_township_item_from_a_village_point_is_marked_for_the_clerk_and_alerts_the_operator(engine):
    """The village point's own software refuses this; a point whose software was changed is caught."""
    record = received(1, None)
    record = Record(record.kind, record.id, record.at, record.data | {"item_code": "GA-001", "proxy_agent": "代办员 王秀兰"})
    assert isinstance(ingest_batch(engine, "yiwang.up.shangcun", chain([record])[0]), Accepted)
    with Session(engine) as s:
        assert s.get(Application, "app1").intake_problem == "该事项须在乡镇便民服务中心办理，村代办点无权收件"
        (alert,) = s.exec(select(Alert).where(Alert.kind == "intake.out_of_scope")).all()
    assert alert.node_id == "shangcun" and "shangcun-000001" in alert.message
