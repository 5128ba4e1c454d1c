"""Application forms at the hub: each case's form is checked again, against the catalog version the
point filled it in under, with the same rules as the point (sync_protocol ``check_form``); and the
clerk gets hints derived from it — hints, never decisions.

A form that fails is still applied (the batch is the point's signed record and must not stall its
sync): the case carries the reason, and the clerk sees it beside the form and decides, e.g. not to
accept it.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from typing import Any

from sqlmodel import Session

from sync_protocol import FormInvalid, birth_date, check_form
from weblayer.display import mask_id

from .models import Application, CatalogItem, CatalogVersion

NO_FORM: dict[str, Any] = {"fields": []}


@functools.lru_cache(maxsize=256)
def item_detail(detail_json: str) -> dict[str, Any]:
    """A catalog item's detail, parsed once per distinct text (ingest asks it per application): read only."""
    detail: dict[str, Any] = json.loads(detail_json)
    return detail


def _form_in(detail_json: str) -> dict[str, Any]:
    form = item_detail(detail_json).get("form")
    return form if isinstance(form, dict) else NO_FORM


def taken_in_wrongly(item: CatalogItem | None, node_kind: str, by_proxy: bool) -> str:
    """What the point had no power to do, as the clerk reads it, or "": take in a township item at a
    village point, take a proxy for an item the person must attend. (The point's software refuses
    both; a point whose software was changed is caught here.)"""
    detail = item_detail(item.detail_json) if item is not None else {}
    if detail.get("level") == "township" and node_kind != "township":
        return "该事项须在乡镇便民服务中心办理，村代办点无权收件"
    if by_proxy and detail.get("proxy") is False:
        return "该事项须申请人本人到场办理，不能代办"
    return ""


@functools.lru_cache(maxsize=8)
def _version_forms(items_json: str) -> dict[str, dict[str, Any]]:
    return {i["code"]: i["form"] for i in json.loads(items_json) if isinstance(i.get("form"), dict)}


def form_for(session: Session, item: CatalogItem | None, version: int | None) -> dict[str, Any]:
    """The form the point filled in: that of the catalog version it ran (published versions never
    change), else the item's form in force."""
    if version:
        published = session.get(CatalogVersion, version)
        if published is not None and item is not None:
            return _version_forms(published.items_json).get(item.code, NO_FORM)
    return _form_in(item.detail_json) if item is not None else NO_FORM


def problem_of(form: dict[str, Any], values: object) -> str:
    """Why ``values`` fail ``form`` (for the clerk, in Chinese), or ""."""
    try:
        check_form(form, values if values is not None else {})
    except FormInvalid as exc:
        return exc.message
    return ""


def fields_shown(form: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """The form as the clerk reads it: every field, in order, with its value ("" when left empty)."""
    return [{"name": f["name"], "label": f["label"], "type": f["type"], "value": values.get(f["name"], "")} for f in form.get("fields", [])]


def age_on(id_number: str, day: date) -> int | None:
    born = birth_date(id_number) if len(id_number) == 18 else None
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def hints(form: dict[str, Any], values: dict[str, Any], applicant_id: str, today: date) -> list[dict[str, Any]]:
    """What the form's ``checks`` say about this case: ``{label, met, detail}`` each. A check that
    cannot be computed (a field left empty) says so and is neither met nor failed."""
    out: list[dict[str, Any]] = []
    for check in form.get("checks", []):
        kind = check.get("kind")
        if kind == "age_at_least":
            age = age_on(applicant_id, today)
            met = None if age is None else age >= check["years"]
            out.append(
                {"label": check.get("label", ""), "met": met, "detail": f"申请人今天 {age} 周岁" if age is not None else "无法从身份证号算出年龄"}
            )
        elif kind == "income_per_head_below":
            people = values.get(check.get("field", "members")) or []
            if not people:
                out.append({"label": check.get("label", ""), "met": None, "detail": "申请表没有家庭成员，无法计算"})
                continue
            total = sum(p.get("income_fen", 0) for p in people)
            per_head = total // len(people)
            out.append(
                {
                    "label": check.get("label", ""),
                    "met": per_head < check["standard_fen"],
                    "detail": f"家庭 {len(people)} 人，月收入合计 {total / 100:.2f} 元，人均 {per_head / 100:.2f} 元（标准 {check['standard_fen'] / 100:.2f} 元）",
                }
            )
    return out


def case_form(session: Session, app: Application, today: date, reveal: bool = False) -> dict[str, Any]:
    """The case's form for the case page and the API: fields with values, the clerk's hints, and
    why it fails its form, if it does. People's ID numbers are masked unless ``reveal`` (the
    clerk asked to see the full numbers, which is logged); their ages are shown either way."""
    form = form_for(session, session.get(CatalogItem, app.item_code), app.form_version)
    values = json.loads(app.form_json or "{}")
    shown = fields_shown(form, values)
    for field in shown:
        if field["type"] == "people" and isinstance(field["value"], list):
            field["value"] = [
                p
                | {
                    "age": age_on(str(p.get("id_number", "")), today),
                    "id_number": p.get("id_number", "") if reveal else mask_id(str(p.get("id_number", ""))),
                }
                for p in field["value"]
                if isinstance(p, dict)
            ]
        elif field["type"] == "id_number" and not reveal:
            field["value"] = mask_id(str(field["value"]))
    return {"fields": shown, "hints": hints(form, values, app.applicant_id_number, today), "problem": app.intake_problem}
