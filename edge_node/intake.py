"""Pure intake rules: what makes an application acceptable at the window. No I/O."""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from sync_protocol import BIDI_CONTROLS
from weblayer.errors import InvalidInput

PHONE = re.compile(r"^1\d{10}$")


@dataclass(frozen=True)
class Intake:
    item_code: str
    applicant_name: str
    applicant_id_number: str
    applicant_phone: str
    by_proxy: bool
    sms_consent: bool = False  # the applicant agreed to be told of each step by SMS, at that number (central/sms.py)
    home_visit: str = ""  # 上门办理: where the agent took it in at the citizen's home ("" : at the window)


# GB 11643's first six digits are the region where the number was *issued* (numbers exist since
# 1984, and were issued to citizens of every age), not a place valid at the birth date; many of
# them have since been abolished or renumbered. So a code is looked up in python-stdnum's table
# of every era's codes ignoring the era, and one the table lacks altogether is a warning the agent
# confirms against the card, never a refusal. Only the province must be real. 830000 is the
# region of Taiwan residents' residence permits (台湾居民居住证, numbered by GB 11643 since 2018),
# which the table does not list.
EXTRA_REGIONS = {"830000": "台湾居民居住证"}
EARLIEST_BIRTH = datetime.date(1880, 1, 1)


class RegionUnconfirmed(InvalidInput):
    """The region code is in no table: the agent checks the card and confirms (``id_region_confirmed``)."""

    type_slug = "region-unconfirmed"


@functools.cache
def _provinces() -> frozenset[str]:
    """Every two-digit province code python-stdnum's region table lists, and EXTRA_REGIONS'."""
    from stdnum import numdb

    return frozenset(low for _length, low, _high, _props, _children in numdb.get("cn/loc").prefixes) | {code[:2] for code in EXTRA_REGIONS}


def region_name(number: str) -> str | None:
    """The province and county of an ID's region code in any era, or None when no table has it."""
    from stdnum import numdb

    if number[:6] in EXTRA_REGIONS:
        return EXTRA_REGIONS[number[:6]]
    info = {k: v for _part, props in numdb.get("cn/loc").info(number[:6]) for k, v in props.items()}
    county = info.get("county")
    if not county:
        return None
    # "[-1991]东郊区,[1992-]东丽区": the names one code had over time, the newest last
    name = re.sub(r"^\[[0-9-]*\]", "", county.split(",")[-1])
    return info.get("province", "") + name


def validate_resident_id(value: str, field: str = "applicant_id_number", who: str = "申请人", region_confirmed: bool = False) -> str:
    """GB 11643 resident ID: 18 characters, ISO 7064 check digit, a real birth date (not in the
    future), a real province; a region code no table knows needs ``region_confirmed``."""
    # a Chinese IME may give full-width digits (４３０５…), and agents group digits as on the card
    number = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", value or "")).upper()
    if not number:
        raise InvalidInput(f"请填写{who}的公民身份号码", field=field)
    if len(number) != 18:
        raise InvalidInput("公民身份号码应为 18 位，请核对后重新输入", field=field)
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidInput("公民身份号码只能由数字和末位的 X 组成，请核对后重新输入", field=field)
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidInput("公民身份号码校验位不正确，可能有数字输错，请对照证件逐位核对", field=field)
    try:
        born = ric.get_birth_date(number)
    except stdnum_errors.ValidationError:
        raise InvalidInput(
            f"公民身份号码中的出生日期 {number[6:10]}-{number[10:12]}-{number[12:14]} 不存在，请核对第 7 至 14 位", field=field
        ) from None
    if not EARLIEST_BIRTH <= born <= datetime.date.today():
        raise InvalidInput(f"公民身份号码中的出生日期 {born.isoformat()} 不可能，请核对第 7 至 14 位", field=field)
    if number[:2] not in _provinces():
        raise InvalidInput(f"公民身份号码前两位 {number[:2]} 不是省级行政区划代码，请核对后重新输入", field=field)
    if not region_confirmed and region_name(number) is None:
        raise RegionUnconfirmed(
            f"地区码 {number[:6]} 不在行政区划代码表中（可能是已撤销或调整的旧地区码）：请对照{who}的身份证原件核对，确认无误后勾选“已核对证件”再提交",
            field="id_region_confirmed",
        )
    return number


def is_resident_id(value: str) -> bool:
    """Whether ``value`` is a valid resident ID by the rules above, unknown regions included."""
    try:
        validate_resident_id(value, region_confirmed=True)
    except InvalidInput:
        return False
    return True


def warm_up() -> None:
    """Load the region-code table python-stdnum parses on first use (about a second), at start-up
    rather than while the day's first citizen waits at the window."""
    _provinces()
    region_name("110105")


def validate_credit_code(value: str, field: str = "applicant_id_number") -> str:
    """GB 32100 unified social credit code: 18 characters, with its check character."""
    code = uscc.compact(value or "")
    if not code:
        raise InvalidInput("请填写统一社会信用代码", field=field)
    try:
        return uscc.validate(code)
    except stdnum_errors.InvalidLength:
        raise InvalidInput("统一社会信用代码应为 18 位，请核对营业执照后重新输入", field=field) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidInput("统一社会信用代码校验位不正确，可能有字符输错，请对照营业执照逐位核对", field=field) from None
    except stdnum_errors.ValidationError:
        raise InvalidInput("统一社会信用代码格式不正确（由数字和大写字母组成，不含 I、O、S、V、Z）", field=field) from None


# what a name may not hold: control characters (NUL and the like, from a broken script or a paste)
# and surrogates; and it must show something: a name of zero-width or other format characters
# only (Cf) looks empty on paper. Private-use characters (Co) stay: some systems type rare
# characters (生僻字) that way.
_INVISIBLE = {"Cf", "Zs", "Zl", "Zp"}
# bidirectional overrides, embeddings and isolates reorder what is printed after them: "a\u202eb"
# prints as a different name on the slip than the one stored


def person_name(value: Any, field: str, label: str, most: int = 100) -> str:
    """A name as typed (a person's, or a unit's), stripped; InvalidInput naming ``field`` if it is
    empty, too long, holds control characters, or shows nothing."""
    name = str(value or "").strip()
    if not name:
        raise InvalidInput(f"请填写{label}", field=field)
    if len(name) > most:
        raise InvalidInput(f"{label}不能超过 {most} 个字", field=field)
    categories = [unicodedata.category(c) for c in name]
    if any(c in ("Cc", "Cs") for c in categories):
        raise InvalidInput(f"{label}中有无法打印的控制字符，请删除后重新输入", field=field)
    if any(c in BIDI_CONTROLS for c in name):
        raise InvalidInput(f"{label}中有改变文字方向的控制字符，请删除后重新输入", field=field)
    if all(c in _INVISIBLE for c in categories):
        raise InvalidInput(f"{label}只有看不见的字符，请重新输入", field=field)
    return name


def validate_intake(form: Mapping[str, Any], known_items: set[str], legal_person: bool = False) -> Intake:
    """Check a submitted intake form; raise InvalidInput naming the first bad field."""
    item_code = str(form.get("item_code") or "").strip()
    if item_code not in known_items:
        raise InvalidInput("请从事项目录中选择要办理的事项", field="item_code")
    name = person_name(form.get("applicant_name"), "applicant_name", "单位名称" if legal_person else "申请人姓名")
    raw_id = str(form.get("applicant_id_number") or "")
    confirmed = str(form.get("id_region_confirmed", "")).lower() in ("1", "true", "on", "yes")
    id_number = validate_credit_code(raw_id) if legal_person else validate_resident_id(raw_id, region_confirmed=confirmed)
    phone = str(form.get("applicant_phone") or "").strip()
    if phone and not PHONE.match(phone):
        raise InvalidInput("手机号码应为 11 位数字，以 1 开头", field="applicant_phone")
    by_proxy = str(form.get("by_proxy", "")).lower() in ("1", "true", "on", "yes")
    sms_consent = str(form.get("sms_consent", "")).lower() in ("1", "true", "on", "yes")
    if sms_consent and not phone:
        raise InvalidInput("申请人同意短信通知的，请填写其手机号码，并当面核对", field="applicant_phone")
    home_visit = ""
    if str(form.get("home_visit", "")).lower() in ("1", "true", "on", "yes"):
        home_visit = str(form.get("home_visit_place") or "").strip()
        if not home_visit or len(home_visit) > 100:
            raise InvalidInput("上门办理的，请填写上门的地点（如：某村某组 某某家，最多 100 字）", field="home_visit_place")
    return Intake(item_code, name, id_number, phone, by_proxy, sms_consent, home_visit)


def intake_refusal(item: Mapping[str, Any], point_kind: str, by_proxy: bool) -> InvalidInput | None:
    """Why, naming the field, when this point may not take the item in this way: a township item at a village
    point (the catalog's handling level), a proxy for an item the person must attend in person."""
    if item.get("withdrawn"):
        return InvalidInput(f"“{item['name']}”已停用，暂不受理：请告知申请人，或咨询县政务服务中心", field="item_code")
    if item.get("level") == "township" and point_kind != "township":
        return InvalidInput(
            f"“{item['name']}”须到乡镇便民服务中心办理，村代办点不能收件（也不能代收费用）：请告知申请人到乡镇办理", field="item_code"
        )
    if by_proxy and item.get("proxy") is False:
        return InvalidInput(f"“{item['name']}”须申请人本人到场（现场采集照片、指纹或签名），不能代办", field="by_proxy")
    return None
