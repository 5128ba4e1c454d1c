"""Application forms (申请表): the one schema language both ends read, and its validator.

A catalog item's ``form`` is ``{"fields": [field, ...]}``; it travels inside the item on
``catalog.version``, so a form is versioned with the catalog. The values an agent enters travel on
``application.received`` as ``form`` (name -> value), with the ``catalog_version`` the node ran.
The node checks them before it saves the case; the hub checks them again against that same
version; both call :func:`check_form`, so the same values are accepted or refused at both ends.

A field is ``{"name", "label", "type", "required"?, "help"?}`` plus what its type takes:

=========  ==========================================  =============================================
type       value on the wire                           options
=========  ==========================================  =============================================
text       string                                      ``max_chars`` (default 500), ``multiline``
number     integer                                     ``min``, ``max``, ``unit``
money      integer fen (never a float)                 ``min``, ``max`` (fen)
date       ``YYYY-MM-DD``                              ``past`` (not after the day it is checked)
choice     one of ``options``                          ``options`` (strings)
id_number  GB 11643 resident ID, upper case            —
phone      mobile (11 digits) or landline              —
address    string                                      ``max_chars`` (default 200)
area       decimal string, square metres, ≤ 2 places   ``min``, ``max`` (square metres, integers)
people     list of ``{name, relation, id_number}``     ``min``, ``max`` (rows), ``income``: each row
           (+ ``income_fen``: monthly income)          also carries its monthly income in fen
=========  ==========================================  =============================================

Numbers are integers and money is fen because a record cannot carry a float (``_canonical``).
Only structure and checksums are checked here, nothing that needs a table or a clock the two ends
may not share: a resident ID's check digit and birth date, not its region code.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

FIELD_TYPES = ("text", "number", "money", "date", "choice", "id_number", "phone", "address", "area", "people")
# relations in a household (与申请人关系), as 低保 and 临时救助 forms list them
RELATIONS = ("本人", "配偶", "子女", "父母", "儿媳", "女婿", "孙子女", "祖父母", "外祖父母", "兄弟姐妹", "其他")
MAX_FIELDS = 40
MAX_PEOPLE = 30
MAX_TEXT = 2000
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PHONE_PATTERN = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
AREA_PATTERN = re.compile(r"^\d{1,7}(\.\d{1,2})?$")
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class FormInvalid(ValueError):
    """A value breaks its field: ``field`` names it (``members.2.id_number`` for a row's column),
    ``message`` says in Chinese what is wrong and what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def id_check_digit(first17: str) -> str:
    """GB 11643's ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def birth_date(id_number: str) -> datetime.date | None:
    """The birth date a resident ID holds, or None if those digits are no date."""
    try:
        return datetime.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def form_problem(form: object) -> str | None:
    """Why ``form`` is not a well-formed form definition (in Chinese, for the operator editing the
    catalog), or None."""
    if not isinstance(form, Mapping) or not isinstance(form.get("fields"), list):
        return '申请表定义应为 {"fields": [...]}'
    fields = form["fields"]
    if len(fields) > MAX_FIELDS:
        return f"申请表最多 {MAX_FIELDS} 个字段"
    seen: set[str] = set()
    for i, field in enumerate(fields):
        where = f"第 {i + 1} 个字段"
        if not isinstance(field, Mapping):
            return f"{where}应为对象"
        name, label, kind = field.get("name"), field.get("label"), field.get("type")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            return f"{where}的 name 应为小写字母开头的英文标识（字母、数字、下划线，最多 40 个）"
        if name in seen:
            return f"字段 {name} 重复"
        seen.add(name)
        if not isinstance(label, str) or not label.strip() or len(label) > 50:
            return f"字段 {name} 须有中文名称（label，最多 50 字）"
        if kind not in FIELD_TYPES:
            return f"字段 {name} 的类型 {kind!r} 不在 {'、'.join(FIELD_TYPES)} 之中"
        for key in ("min", "max", "max_chars"):
            if key in field and (isinstance(field[key], bool) or not isinstance(field[key], int) or field[key] < 0):
                return f"字段 {name} 的 {key} 应为非负整数"
        if "min" in field and "max" in field and field["min"] > field["max"]:
            return f"字段 {name} 的 min 大于 max"
        if kind == "choice":
            options = field.get("options")
            if not isinstance(options, list) or not options or not all(isinstance(o, str) and o.strip() for o in options):
                return f"选项字段 {name} 须列出选项（options）"
        if kind == "people" and field.get("max", 0) > MAX_PEOPLE:
            return f"人员列表 {name} 最多 {MAX_PEOPLE} 行"
    return None


def check_form(form: Mapping[str, Any], values: object) -> dict[str, Any]:
    """The values as they are kept (strings stripped, IDs upper case), or FormInvalid naming the
    first field that is wrong. A name the form does not define is refused: nothing unread travels."""
    if not isinstance(values, Mapping):
        raise FormInvalid("form", "申请表内容应为字段名到取值的对象")
    fields = {f["name"]: f for f in form.get("fields", [])}
    for name in values:
        if name not in fields:
            raise FormInvalid(str(name)[:40], f"申请表没有“{str(name)[:40]}”这一项")
    clean: dict[str, Any] = {}
    for name, field in fields.items():
        value = values.get(name)
        if value is None or value == "" or value == []:
            if field.get("required"):
                raise FormInvalid(name, f"请填写{field['label']}")
            continue
        clean[name] = _check(field, name, value)
    return clean


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # they turn printed words around


def hidden_controls(text: str) -> bool:
    """``unprintable``, or a character that reverses the direction of what follows it: words a
    person types have neither (names, questions, a window's name)."""
    return unprintable(text) or any(c in BIDI_CONTROLS for c in text)


def unprintable(text: str) -> bool:
    """Whether ``text`` holds a control character other than a tab or a line break (NUL and the
    like): a broken script or a hostile one, never a person. Both ends refuse such words before they
    are stored or passed on (PostgreSQL refuses a NUL outright)."""
    return any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text)


def _text(value: object, where: str, label: str, most: int) -> str:
    if not isinstance(value, str):
        raise FormInvalid(where, f"{label}应为文字")
    text = value.strip()
    if len(text) > most:
        raise FormInvalid(where, f"{label}最多 {most} 个字（现在 {len(text)} 个），请精简")
    if unprintable(text) or any(unicodedata.category(c) == "Cs" for c in text) or _BIDI & set(text):
        raise FormInvalid(where, f"{label}中有无法打印的控制字符，请删除后重新输入")
    if not text:
        raise FormInvalid(where, f"请填写{label}")
    return text


def resident_id(value: object, where: str, label: str) -> str:
    """GB 11643 by structure: 18 characters, the check digit, a birth date that exists."""
    number = unicodedata.normalize("NFKC", value).replace(" ", "").upper() if isinstance(value, str) else ""
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise FormInvalid(where, f"{label}应为 18 位公民身份号码（末位可为 X）")
    if id_check_digit(number[:17]) != number[17]:
        raise FormInvalid(where, f"{label}校验位不正确，可能有数字输错，请对照证件逐位核对")
    if birth_date(number) is None:
        raise FormInvalid(where, f"{label}中的出生日期不存在，请核对第 7 至 14 位")
    return number


def _check(field: Mapping[str, Any], where: str, value: object) -> Any:
    kind, label = field["type"], field["label"]
    if kind in ("text", "address"):
        return _text(value, where, label, min(int(field.get("max_chars", 200 if kind == "address" else 500)), MAX_TEXT))
    if kind in ("number", "money"):
        return _in_range(value, where, label, field, 100 if kind == "money" else 1)
    if kind == "date":
        text = value if isinstance(value, str) else ""
        try:
            day = datetime.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
        except ValueError:
            day = None
        if day is None:
            raise FormInvalid(where, f"{label}应为日期，如 2026-03-01")
        return text
    if kind == "choice":
        if value not in field["options"]:
            raise FormInvalid(where, f"{label}请从 {'、'.join(field['options'])} 中选择")
        return value
    if kind == "id_number":
        return resident_id(value, where, label)
    if kind == "phone":
        phone = value.strip() if isinstance(value, str) else ""
        if not PHONE_PATTERN.match(phone):
            raise FormInvalid(where, f"{label}应为 11 位手机号码，或带区号的固定电话")
        return phone
    if kind == "area":
        text = value.strip() if isinstance(value, str) else ""
        if not AREA_PATTERN.match(text):
            raise FormInvalid(where, f"{label}应为平方米数，最多两位小数，如 120.5")
        low, high = field.get("min"), field.get("max")
        if (low is not None and float(text) < low) or (high is not None and float(text) > high):
            raise FormInvalid(where, f"{label}应在 {low if low is not None else 0} 到 {high if high is not None else '∞'} 平方米之间")
        return text
    return _people(field, where, value)


def _in_range(value: object, where: str, label: str, field: Mapping[str, Any], scale: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormInvalid(where, f"{label}应为{'以分计的整数金额' if scale == 100 else '整数'}")
    low, high = field.get("min"), field.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        unit = "元" if scale == 100 else field.get("unit", "")
        shown = [f"{v / scale:g}{' ' + unit if unit else ''}" for v in (low, high) if v is not None]
        bound = f"不少于 {shown[0]}" if high is None else f"不超过 {shown[-1]}" if low is None else f"在 {shown[0]} 到 {shown[1]} 之间"
        raise FormInvalid(where, f"{label}应{bound}")
    return value


def _people(field: Mapping[str, Any], where: str, value: object) -> list[dict[str, Any]]:
    label = field["label"]
    if not isinstance(value, list):
        raise FormInvalid(where, f"{label}应为人员列表")
    most = min(int(field.get("max", MAX_PEOPLE)), MAX_PEOPLE)
    if len(value) > most:
        raise FormInvalid(where, f"{label}最多 {most} 人")
    if len(value) < int(field.get("min", 0)):
        raise FormInvalid(where, f"{label}至少 {field['min']} 人")
    columns = {"name", "relation", "id_number"} | ({"income_fen"} if field.get("income") else set())
    rows: list[dict[str, Any]] = []
    ids: set[str] = set()
    for i, row in enumerate(value):
        at, who = f"{where}.{i}", f"{label}第 {i + 1} 人的"
        if not isinstance(row, Mapping):
            raise FormInvalid(at, f"{who}信息不完整")
        extra = set(row) - columns
        if extra:
            raise FormInvalid(f"{at}.{sorted(extra)[0]}", f"{label}没有“{sorted(extra)[0]}”这一栏")
        person: dict[str, Any] = {
            "name": _text(row.get("name", ""), f"{at}.name", who + "姓名", 50),
            "relation": row.get("relation"),
            "id_number": resident_id(row.get("id_number"), f"{at}.id_number", who + "公民身份号码"),
        }
        if person["relation"] not in RELATIONS:
            raise FormInvalid(f"{at}.relation", f"{who}与申请人关系请从 {'、'.join(RELATIONS)} 中选择")
        if person["id_number"] in ids:
            raise FormInvalid(f"{at}.id_number", f"{who}公民身份号码与前面的人重复")
        ids.add(person["id_number"])
        if field.get("income"):
            person["income_fen"] = _in_range(row.get("income_fen"), f"{at}.income_fen", who + "月收入", {"min": 0, "max": 100_000_000}, 100)
        rows.append(person)
    return rows
