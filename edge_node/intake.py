"""Pure intake rules: what makes an application acceptable at the window. No I/O."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from .errors import InvalidInput

PHONE = re.compile(r"^1\d{10}$")


@dataclass(frozen=True)
class Intake:
    item_code: str
    applicant_name: str
    applicant_id_number: str
    applicant_phone: str
    by_proxy: bool


def validate_resident_id(value: str, field: str = "applicant_id_number", who: str = "申请人") -> str:
    """GB 11643 resident ID: 18 characters, valid region and birth date, ISO 7064 check digit."""
    number = ric.compact(value or "")
    if not number:
        raise InvalidInput(f"请填写{who}的公民身份号码", field=field)
    try:
        return ric.validate(number)
    except stdnum_errors.InvalidLength:
        raise InvalidInput("公民身份号码应为 18 位，请核对后重新输入", field=field) from None
    except stdnum_errors.InvalidFormat:
        raise InvalidInput("公民身份号码只能由数字和末位的 X 组成，请核对后重新输入", field=field) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidInput("公民身份号码校验位不正确，可能有数字输错，请对照证件逐位核对", field=field) from None
    except stdnum_errors.InvalidComponent:
        raise InvalidInput("公民身份号码中的出生日期或地区码无效，请核对后重新输入", field=field) from None
    except stdnum_errors.ValidationError:
        raise InvalidInput("公民身份号码无效，请核对后重新输入", field=field) from None


def warm_up() -> None:
    """Load the region-code table python-stdnum parses on first use (about a second), at start-up
    rather than while the day's first citizen waits at the window."""
    with contextlib.suppress(stdnum_errors.ValidationError):
        ric.get_birth_place("110105194912310021")


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


def validate_intake(form: Mapping[str, Any], known_items: set[str], legal_person: bool = False) -> Intake:
    """Check a submitted intake form; raise InvalidInput naming the first bad field."""
    item_code = str(form.get("item_code") or "").strip()
    if item_code not in known_items:
        raise InvalidInput("请从事项目录中选择要办理的事项", field="item_code")
    name = str(form.get("applicant_name") or "").strip()
    if not name:
        raise InvalidInput("请填写单位名称" if legal_person else "请填写申请人姓名", field="applicant_name")
    if len(name) > 100:
        raise InvalidInput("名称不能超过 100 个字", field="applicant_name")
    raw_id = str(form.get("applicant_id_number") or "")
    id_number = validate_credit_code(raw_id) if legal_person else validate_resident_id(raw_id)
    phone = str(form.get("applicant_phone") or "").strip()
    if phone and not PHONE.match(phone):
        raise InvalidInput("手机号码应为 11 位数字，以 1 开头", field="applicant_phone")
    by_proxy = str(form.get("by_proxy", "")).lower() in ("1", "true", "on", "yes")
    return Intake(item_code, name, id_number, phone, by_proxy)


def mask_id(id_number: str) -> str:
    """Resident IDs are masked in every list and log: first 4 and last 4 characters."""
    return id_number[:4] + "*" * max(len(id_number) - 8, 0) + id_number[-4:] if len(id_number) > 8 else "****"
