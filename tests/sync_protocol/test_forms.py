"""The application-form language (sync_protocol._forms): every field type accepted and refused,
with the field named, and definitions checked before a catalog can carry them."""

from __future__ import annotations

import pytest
from stdnum.cn import ric

from sync_protocol import FormInvalid, canonical_bytes, check_form, form_problem
from tests.support.builders import resident_id

FORM = {
    "fields": [
        {"name": "address", "label": "家庭住址", "type": "address", "required": True},
        {"name": "members", "label": "家庭成员", "type": "people", "income": True, "min": 1, "max": 3, "required": True},
        {"name": "reason", "label": "申请理由", "type": "text", "multiline": True, "max_chars": 20},
        {"name": "housing", "label": "住房情况", "type": "choice", "options": ["自有住房", "租住"]},
        {"name": "storeys", "label": "层数", "type": "number", "min": 1, "max": 3, "unit": "层"},
        {"name": "amount", "label": "申请金额", "type": "money", "min": 100, "max": 500_000},
        {"name": "born", "label": "出生日期", "type": "date"},
        {"name": "father", "label": "父亲身份证号", "type": "id_number"},
        {"name": "contact", "label": "联系电话", "type": "phone"},
        {"name": "land", "label": "用地面积", "type": "area", "min": 1, "max": 300},
    ]
}
ME = {"name": "李桂芳", "relation": "本人", "id_number": resident_id(1), "income_fen": 30000}
GOOD = {
    "address": "  青山镇上村三组 ",
    "members": [ME, {"name": "王小军", "relation": "子女", "id_number": resident_id(2).lower(), "income_fen": 0}],
    "reason": "因病致贫\n无劳动能力",
    "housing": "租住",
    "storeys": 2,
    "amount": 150_000,
    "born": "2024-02-29",
    "father": resident_id(3),
    "contact": "0731-84561234",
    "land": "120.5",
}


def test_a_well_filled_form_is_kept_as_typed_stripped_and_upper_case():
    clean = check_form(FORM, GOOD)
    assert clean["address"] == "青山镇上村三组"
    assert clean["members"][1]["id_number"] == resident_id(2).upper()
    assert clean["land"] == "120.5" and clean["amount"] == 150_000
    canonical_bytes(clean)  # travels in a record: no float anywhere
    assert check_form(FORM, clean) == clean  # checked again at the hub: the same


def test_optional_fields_may_be_left_out_and_required_ones_may_not():
    assert check_form(FORM, {"address": "上村", "members": [ME]}) == {"address": "上村", "members": [ME]}
    with pytest.raises(FormInvalid) as refused:
        check_form(FORM, {"members": [ME]})
    assert (refused.value.field, refused.value.message) == ("address", "请填写家庭住址")
    with pytest.raises(FormInvalid) as refused:
        check_form(FORM, {"address": "上村", "members": []})
    assert refused.value.field == "members"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"storeys": 0}, "storeys", "在 1 层 到 3 层 之间"),
        ({"storeys": "2"}, "storeys", "整数"),
        ({"storeys": True}, "storeys", "整数"),
        ({"amount": 99}, "amount", "在 1 元 到 5000 元 之间"),
        ({"amount": 150.5}, "amount", "以分计"),
        ({"housing": "别墅"}, "housing", "自有住房、租住"),
        ({"born": "2023-02-29"}, "born", "日期"),
        ({"born": "29/02/2024"}, "born", "日期"),
        ({"father": resident_id(3)[:17] + "0"}, "father", "校验位"),
        ({"father": "11010219500230001" + ric.calc_check_digit("11010219500230001?")}, "father", "出生日期不存在"),
        ({"contact": "123"}, "contact", "手机号码"),
        ({"land": "120.555"}, "land", "两位小数"),
        ({"land": "301"}, "land", "300 平方米"),
        ({"land": 120}, "land", "平方米数"),
        ({"reason": "字" * 21}, "reason", "最多 20 个字"),
        ({"address": "上村\u202e组"}, "address", "控制字符"),
        ({"address": "   "}, "address", "请填写家庭住址"),
        ({"nickname": "x"}, "nickname", "没有“nickname”这一项"),
    ],
)
def test_each_type_refuses_what_it_cannot_be_and_names_the_field(change, field, words):
    with pytest.raises(FormInvalid) as refused:
        check_form(FORM, GOOD | change)
    assert refused.value.field == field and words in refused.value.message


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({"relation": "邻居"}, "members.1.relation", "与申请人关系"),
        ({"id_number": resident_id(1)}, "members.1.id_number", "重复"),
        ({"income_fen": -1}, "members.1.income_fen", "月收入"),
        ({"income_fen": "300"}, "members.1.income_fen", "月收入"),
        ({"name": ""}, "members.1.name", "第 2 人的姓名"),
        ({"salary": 1}, "members.1.salary", "salary"),
    ],
)
def test_a_household_member_is_checked_column_by_column(row, field, words):
    second = {"name": "王小军", "relation": "子女", "id_number": resident_id(2), "income_fen": 0} | row
    with pytest.raises(FormInvalid) as refused:
        check_form(FORM, GOOD | {"members": [ME, second]})
    assert refused.value.field == field and words in refused.value.message


def test_a_list_of_people_is_bounded():
    many = [ME | {"id_number": resident_id(10 + i)} for i in range(4)]
    with pytest.raises(FormInvalid, match="最多 3 人"):
        check_form(FORM, GOOD | {"members": many})


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"field": []}, "fields"),
        ({"fields": [{"name": "Address", "label": "住址", "type": "address"}]}, "name"),
        ({"fields": [{"name": "a", "label": "住址", "type": "address"}] * 2}, "重复"),
        ({"fields": [{"name": "a", "label": "", "type": "address"}]}, "label"),
        ({"fields": [{"name": "a", "label": "住址", "type": "gps"}]}, "gps"),
        ({"fields": [{"name": "a", "label": "选", "type": "choice", "options": []}]}, "options"),
        ({"fields": [{"name": "a", "label": "数", "type": "number", "min": 5, "max": 1}]}, "min 大于 max"),
        ({"fields": [{"name": "a", "label": "数", "type": "number", "max": 1.5}]}, "非负整数"),
        ({"fields": [{"name": "a", "label": "人", "type": "people", "max": 31}]}, "最多 30 行"),
    ],
)
def test_a_broken_definition_is_named_before_any_catalog_carries_it(form, words):
    problem = form_problem(form)
    assert problem is not None and words in problem
    assert form_problem(FORM) is None
