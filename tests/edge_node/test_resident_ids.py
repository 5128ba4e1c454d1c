"""Real citizens' resident IDs (GB 11643) are accepted whatever their age and wherever the number
was issued: the region code is where the ID was issued (from 1984 on), and many codes have been
abolished or renumbered since. Checksum, birth date and province are still checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from stdnum.cn import ric

from edge_node import cases
from edge_node.catalog import install_catalog
from edge_node.intake import RegionUnconfirmed, region_name, validate_resident_id
from edge_node.store import Store, set_meta
from weblayer.errors import InvalidInput


def with_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "?")


# (number, region as the window shows it): the three the field report found refused, then the
# 1930s to the 2000s, abolished and renumbered counties, X check digits and 29 February
REAL = [
    ("430524195802147719", "湖南省隆回县"),  # 隆回县's code dates from 1986; its citizen was born in 1958
    ("410102195603120026", "河南省中原区"),
    ("410102196809010038", "河南省中原区"),
    (with_check("43252419330615002"), "湖南省新化县"),  # 432524: 新化县 until 1999, renumbered since
    (with_check("52212119471103041"), "贵州省遵义县"),  # 522121: 遵义县, abolished 1997
    (with_check("11010319520229003"), "北京市崇文区"),  # 崇文区 merged into 东城区 in 2010; 1952 is a leap year
    (with_check("13022319640229001"), "河北省滦县"),  # 滦县 became 滦州市 in 2018
    (with_check("12011019791010005"), "天津市东丽区"),  # 120110: 东郊区 until 1991, then 东丽区
    (with_check("36042620000229002"), "江西省德安县"),  # 29 February 2000
    (with_check("44030620080808006"), "广东省宝安区"),
]


def _x_digit() -> str:
    """A real-region number whose check digit is X (one in eleven are)."""
    return next(n for seq in range(1000) if (n := with_check(f"43052419580214{seq:03d}")).endswith("X"))


@pytest.mark.parametrize("number, region", REAL)
def test_ids_of_every_era_and_abolished_counties_are_accepted(number, region):
    assert validate_resident_id(number) == number
    assert region_name(number) == region


def test_x_check_digits_are_accepted_in_either_case():
    number = _x_digit()
    assert validate_resident_id(number.lower()) == number
    assert validate_resident_id(number[:6] + " " + number[6:14] + " " + number[14:]) == number
    assert validate_resident_id(number.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})) == number  # full-width digits


@pytest.mark.parametrize(
    "number, message",
    [
        (with_check("41010219570229002"), "出生日期 1957-02-29 不存在"),  # 1957 is no leap year
        (with_check("41010219001301002"), "出生日期"),
        (with_check("41010221000101002"), "不可能"),  # born in 2100
        (with_check("41010218700101002"), "不可能"),  # before 1880
        (with_check("99010219580214771"), "前两位 99"),
        (with_check("00010219580214771"), "前两位 00"),
        ("430524195802147718", "校验位"),
        ("43052419580214771", "18 位"),
        ("4305241958021477A9", "只能由数字"),
    ],
)
def test_impossible_ids_are_still_refused(number, message):
    with pytest.raises(InvalidInput) as err:
        validate_resident_id(number)
    assert message in err.value.message
    assert not isinstance(err.value, RegionUnconfirmed)


def test_a_region_no_table_lists_is_a_warning_the_agent_confirms():
    number = with_check("41999919580214771")  # 河南, but no county has ever had 9999
    with pytest.raises(RegionUnconfirmed) as err:
        validate_resident_id(number)
    assert "419999" in err.value.message and "已核对证件" in err.value.message
    assert err.value.field == "id_region_confirmed" and err.value.type_slug == "region-unconfirmed"
    assert validate_resident_id(number, region_confirmed=True) == number


@pytest.fixture
def store(tmp_path: Path):
    store = Store(tmp_path / "node.sqlite3")
    with store.write() as conn:
        set_meta(conn, "node_id", "shangcun")
    install_catalog(
        store,
        {
            "version": 1,
            "items": [
                {"code": "MZ-004", "name": "高龄津贴申领", "department": "mzj", "department_name": "县民政局", "time_limit_days": 10, "fee_fen": 0}
            ],
        },
    )
    yield store
    store.close()


def test_a_1958_citizen_is_taken_in_and_an_unlisted_region_after_confirmation(store):
    agent = {"username": "agent", "display_name": "代办员"}
    app = cases.submit_application(store, {"item_code": "MZ-004", "applicant_name": "刘桂英", "applicant_id_number": "430524195802147719"}, agent)
    assert app["applicant_id_number"] == "430524195802147719"
    unlisted = {"item_code": "MZ-004", "applicant_name": "陈冬生", "applicant_id_number": with_check("41999919580214771")}
    with pytest.raises(RegionUnconfirmed):
        cases.submit_application(store, unlisted, agent)
    assert store.one("SELECT COUNT(*) FROM applications")[0] == 1
    cases.submit_application(store, unlisted | {"id_region_confirmed": "1"}, agent)
    assert store.one("SELECT COUNT(*) FROM applications")[0] == 2
