"""The service catalog (同一事项、同一标准、同一编码) as the hub holds, edits and publishes it.

``CatalogItem`` rows are the items in force (routing reads them); each publication snapshots them
as a numbered ``CatalogVersion`` and sends that version down to every enrolled node in the same
transaction. Nodes install a version only if it is newer than theirs and report what they run in
their heartbeat.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from sync_protocol import CATALOG_VERSION, form_problem
from weblayer.errors import InvalidInput
from weblayer.numbers import level

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .models import CatalogItem, CatalogVersion, Department, Node, User
from .stages import describe, stages_of

LEVELS = {"village": "村级可办", "township": "乡镇可办"}
SERVICE_OBJECTS = {"natural": "自然人", "legal": "法人", "both": "自然人和法人"}
ACCEPTS = {"county": "县级部门受理", "township": "乡镇受理（委托）"}
# (key, allowed values with the default first, label): the service guide's closed lists
ENUMS = (
    ("level", tuple(LEVELS), "办理层级"),
    ("service_object", tuple(SERVICE_OBJECTS), "服务对象"),
    ("accepts", tuple(ACCEPTS), "受理层级"),
)
MATERIAL_ENUMS = (
    ("original_or_copy", ("原件", "复印件", "原件和复印件", "原件核验")),
    ("format", ("纸质", "电子", "纸质或电子")),
)
# the shape of the national basic catalog's basic code (GB/T 39554.1): item type letters
# (XK 行政许可, JF 行政给付, QR 行政确认, GG 公共服务, QT 其他, JL 行政奖励 …), main item, sub item
BASIC_CODE = re.compile(r"^(XK|JF|QR|GG|QT|JL|CF|QZ|ZS|CJ)\d{8}$")


def sample_catalog() -> dict[str, Any]:
    return json.loads(files("central").joinpath("catalog_sample.json").read_text(encoding="utf-8"))


def load_catalog(engine: Engine, catalog: dict[str, Any]) -> None:
    """Insert departments and items that are not there yet (idempotent); publish a new version if
    anything was added (the first load is version 1)."""
    with transaction(engine) as session:
        for dept in catalog["departments"]:
            if session.get(Department, dept["code"]) is None:
                session.add(Department(code=dept["code"], name=dept["name"]))
        session.flush()
        added = [item for item in catalog["items"] if session.get(CatalogItem, item["code"]) is None]
        for item in added:
            session.add(_row(item))
        if added or _latest(session) is None:
            session.flush()
            _publish(session, "system", f"载入目录：{len(added)} 个事项")


def _row(item: dict[str, Any]) -> CatalogItem:
    return CatalogItem(
        code=item["code"],
        name=item["name"],
        department=item["department"],
        time_limit_days=item["time_limit_days"],
        fee_fen=item["fee_fen"],
        detail_json=json.dumps(item, ensure_ascii=False),
    )


def _latest(session: Session) -> CatalogVersion | None:
    return session.exec(select(CatalogVersion).order_by(col(CatalogVersion.version).desc()).limit(1)).first()


def _items(session: Session) -> list[dict[str, Any]]:
    depts = {d.code: d.name for d in session.exec(select(Department)).all()}
    items = []
    for row in session.exec(select(CatalogItem).order_by(CatalogItem.code)).all():
        item = json.loads(row.detail_json)
        item["department_name"] = depts.get(row.department, row.department)
        items.append(item)
    return items


def _publish(session: Session, actor: str, note: str) -> CatalogVersion:
    """Snapshot the items in force as the next version and queue it to every enrolled node."""
    latest = _latest(session)
    version = CatalogVersion(
        version=(latest.version if latest else 0) + 1,
        items_json=json.dumps(_items(session), ensure_ascii=False),
        published_at=utcnow(),
        published_by=actor,
        note=note,
    )
    session.add(version)
    payload = {"version": version.version, "items": json.loads(version.items_json)}
    for node_id in session.exec(select(Node.id).where(Node.status == "enrolled")).all():
        queue_downlink(session, node_id, CATALOG_VERSION, payload)
    return version


def published_catalog(engine: Engine) -> dict[str, Any]:
    """The catalog in force as a node receives it (at enrolment, or on the downlink)."""
    with Session(engine) as session:
        latest = _latest(session)
        if latest is None:
            return {"version": 0, "items": []}
        return {"version": latest.version, "items": json.loads(latest.items_json)}


def versions(engine: Engine) -> list[dict[str, Any]]:
    """Every published version, newest first, with how many nodes run it."""
    with Session(engine) as session:
        running = dict(
            session.exec(select(Node.catalog_version, func.count()).where(Node.status == "enrolled").group_by(col(Node.catalog_version))).all()
        )
        return [
            {
                "version": v.version,
                "published_at": v.published_at,
                "published_by": v.published_by,
                "note": v.note,
                "items": len(json.loads(v.items_json)),
                "nodes_running": running.get(v.version, 0),
            }
            for v in session.exec(select(CatalogVersion).order_by(col(CatalogVersion.version).desc())).all()
        ]


def departments(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {d.code: d.name for d in session.exec(select(Department)).all()}


def validate_item(item: dict[str, Any], known_departments: set[str]) -> dict[str, Any]:
    """An item as the hub will publish it, or InvalidInput naming the first field that is wrong."""

    def text(name: str, label: str, required: bool = True, limit: int = 200) -> str:
        value = item.get(name, "")
        if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
            raise InvalidInput(f"请填写{label}（不超过 {limit} 字）", field=name)
        return value.strip()

    def whole(name: str, label: str, low: int, high: int) -> int:
        value = item.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"{label}应为 {low} 到 {high} 之间的整数", field=name)
        return value

    code = text("code", "事项编码", limit=32)
    if not all(c.isalnum() or c in "-_" for c in code):
        raise InvalidInput("事项编码只能包含字母、数字、连字符和下划线", field="code")
    departments_ = item.get("departments") or [item.get("department")]
    if not isinstance(departments_, list) or not departments_ or any(d not in known_departments for d in departments_):
        raise InvalidInput("请选择办理部门（须为已登记的县级部门），并联审批可选多个，第一个为牵头部门", field="departments")
    materials = item.get("materials", [])
    if not isinstance(materials, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str) and m["name"].strip() for m in materials):
        raise InvalidInput("申请材料应为材料名称的列表", field="materials")
    for key, allowed, label in ENUMS:
        if item.get(key, allowed[0]) not in allowed:
            raise InvalidInput(f"{label}只能是{'、'.join(str(a) for a in allowed)}", field=key)
    basic_code = item.get("basic_code", "")
    if basic_code and not (isinstance(basic_code, str) and BASIC_CODE.match(basic_code)):
        raise InvalidInput("基本编码应为 2 位事项类型字母加 8 位数字，如 JF00012000（国家政务服务事项基本目录编码的形式）", field="basic_code")
    form = item.get("form")
    if form is not None and (problem := form_problem(form)):
        raise InvalidInput(f"申请表定义有误：{problem}", field="form")
    stages = item.get("stages")
    if stages is not None and (problem := _stages_problem(stages, known_departments, item)):
        raise InvalidInput(problem, field="stages")
    clean = {k: v for k, v in item.items() if k not in ("note", "department_name") and not (k in ("form", "withdrawn", "home_visit") and not v)}
    clean.update(
        {
            "code": code,
            "name": text("name", "事项名称"),
            "department": departments_[0],
            "departments": list(dict.fromkeys(departments_)),
            "time_limit_days": whole("time_limit_days", "承诺办结时限（工作日）", 1, 365),
            "fee_fen": whole("fee_fen", "收费金额（分）", 0, 10_000_000),
            "instant": bool(item.get("instant", False)),
            "proxy": bool(item.get("proxy", True)),
            "legal_basis": text("legal_basis", "设定依据", required=False, limit=1000),
            "conditions": text("conditions", "受理条件", required=False, limit=1000),
            "materials": [_material(m, i) for i, m in enumerate(materials)],
        }
        | {key: item.get(key, allowed[0]) for key, allowed, _ in ENUMS}
    )
    if "commitment" in item and (problem := _commitment_problem(item["commitment"], clean)):
        raise InvalidInput(problem, field="commitment")
    if sum(s.get("days") or 0 for s in stages or []) > clean["time_limit_days"]:
        raise InvalidInput(f"各办理环节的时限之和超过了承诺办结时限（{clean['time_limit_days']} 个工作日）", field="stages")
    if "statutory_days" in item and whole("statutory_days", "法定办结时限（工作日）", 1, 365) < clean["time_limit_days"]:
        raise InvalidInput("承诺办结时限不能长于法定办结时限", field="time_limit_days")
    if len(clean["departments"]) == 1:
        clean.pop("departments")
    return clean


def _material(m: dict[str, Any], i: int) -> dict[str, Any]:
    """One material as published: its name and the guide's attributes, each checked."""
    where = f"materials.{i}"
    for key, allowed in MATERIAL_ENUMS:
        if key in m and m[key] not in allowed:
            raise InvalidInput(f"材料“{m['name']}”的{key}只能是{'、'.join(allowed)}", field=where)
    copies = m.get("copies", 0)
    if isinstance(copies, bool) or not isinstance(copies, int) or not 0 <= copies <= 20:
        raise InvalidInput(f"材料“{m['name']}”的份数应为 0 到 20", field=where)
    if any(not isinstance(m.get(k, ""), str) or len(m.get(k, "")) > 500 for k in ("basis", "sample")):
        raise InvalidInput(f"材料“{m['name']}”的依据和样表说明应为文字（不超过 500 字）", field=where)
    kept = {k: m[k] for k in ("basis", "original_or_copy", "copies", "format", "sample") if k in m}
    return (
        {"name": m["name"].strip(), "shared": bool(m.get("shared", False))}
        | kept
        | ({"licence_item": m["licence_item"]} if m.get("licence_item") else {})
    )


def _commitment_problem(commitment: object, item: dict[str, Any]) -> str | None:
    """Why ``commitment`` (告知承诺制: {replaces, check_days, text}) cannot be: it replaces named
    materials of the item, is post-checked within 1–365 days, states what the applicant commits to,
    and is for an item one county stage decides (the department decides at once, then checks)."""
    if not isinstance(commitment, dict):
        return "告知承诺应为 {replaces, check_days, text}"
    names = {m["name"] for m in item.get("materials", [])}
    replaces = commitment.get("replaces")
    if not isinstance(replaces, list) or not replaces or not all(isinstance(r, str) and r in names for r in replaces):
        return "告知承诺须列出它代替的申请材料（须是本事项的材料）"
    days = commitment.get("check_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        return "事后核查时限应为 1 到 365 之间的整数（天）"
    if not isinstance(commitment.get("text"), str) or not 10 <= len(commitment["text"].strip()) <= 1000:
        return "请写明申请人承诺的内容（10 到 1000 字）"
    stages = item.get("stages") or [{"by": item.get("departments") or [item["department"]]}]
    if item.get("instant") or len(stages) != 1 or stages[0]["by"] == "township":
        return "告知承诺只用于由一个县级环节审批的事项（先予办理，再事后核查）"
    return None


def _stages_problem(stages: object, known_departments: set[str], item: dict[str, Any]) -> str | None:
    """Why ``stages`` is no procedure (central/stages.py): a list of {name, by}, by "township" or
    county departments; each decider in one stage only (a department decides a case once); the
    township accepts (``accepts``) exactly when it has the first stage; a 即办件 is decided in one
    township stage and nowhere else. A stage's own ``days`` (its share of the promised limit, a
    clock of its own: central/clocks.py) are whole working days, together within the limit."""
    if not isinstance(stages, list) or not stages:
        return "办理环节应为列表，每个环节含名称和办理主体"
    seen: set[str] = set()
    for i, stage in enumerate(stages):
        by = stage.get("by") if isinstance(stage, dict) else None
        if not isinstance(stage, dict) or not isinstance(stage.get("name"), str) or not stage["name"].strip():
            return f"第 {i + 1} 个办理环节须有名称"
        if by != "township" and not (isinstance(by, list) and by and all(isinstance(d, str) and d in known_departments for d in by)):
            return f"办理环节“{stage['name']}”的办理主体应为 township（乡镇）或已登记的县级部门列表"
        deciders = ["township"] if by == "township" else list(by)
        if seen.intersection(deciders) or len(set(deciders)) < len(deciders):
            return f"办理环节“{stage['name']}”的办理主体已在前面的环节出现：同一主体只办理一个环节（可合并为一个环节）"
        seen.update(deciders)
        days = stage.get("days")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            return f"办理环节“{stage['name']}”的时限（days）应为正整数个工作日"
    if (item.get("accepts", "county") == "township") != (stages[0]["by"] == "township"):
        return "乡镇受理的事项，第一个环节须由乡镇办理；县级部门受理的事项，第一个环节须由县级部门办理"
    if item.get("instant") and (len(stages) != 1 or stages[0]["by"] != "township"):
        return "即办件只有一个环节，由乡镇当场办结（县级部门不再审批）"
    return None


def procedures(engine: Engine) -> dict[str, str]:
    """Each item's procedure in one line (stages.describe), for the catalog page."""
    with Session(engine) as session:
        names = {d.code: d.name for d in session.exec(select(Department)).all()}
        return {i.code: describe(stages_of(i), names) for i in session.exec(select(CatalogItem)).all()}


def publish_item(engine: Engine, operator: User, item: dict[str, Any], note: str = "") -> dict[str, Any]:
    """Add or change one item and publish the catalog as a new version, in one transaction."""
    with transaction(engine) as session:
        known = {d.code for d in session.exec(select(Department)).all()}
        clean = validate_item(item, known)
        existing = session.get(CatalogItem, clean["code"])
        row = _row(clean)
        if existing is not None:
            for field in ("name", "department", "time_limit_days", "fee_fen", "detail_json"):
                setattr(existing, field, getattr(row, field))
            row = existing
        session.add(row)
        session.flush()
        version = _publish(session, operator.username, note.strip() or f"{'修改' if existing else '新增'}事项 {clean['code']} {clean['name']}")
        record_action(session, operator, "catalog.published", clean["code"], version=version.version, note=version.note)
        return {"version": version.version, "item": clean}


def materials_from_form(form: dict[str, Any]) -> list[dict[str, Any]]:
    materials = []
    for i in range(min(level(str(form.get("material_rows", "0"))), 100)):
        name = str(form.get(f"material_name_{i}", "")).strip()
        if name:
            material: dict[str, Any] = {"name": name, "shared": form.get(f"material_shared_{i}") == "1"}
            if str(form.get(f"material_licence_{i}", "")).strip():
                material["licence_item"] = str(form[f"material_licence_{i}"]).strip()
            materials.append(material)
    return materials


def item_from_form(form: dict[str, Any], departments_: list[str], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The edit page's fields as an item for ``validate_item`` (the fee is typed in yuan)."""
    from decimal import Decimal, InvalidOperation

    def number(name: str, label: str, scale: int = 1) -> int:
        try:
            value = Decimal(str(form.get(name, "")).strip() or "x") * scale
        except InvalidOperation:
            raise InvalidInput(f"{label}应为数字", field=name) from None
        if value != value.to_integral_value():
            raise InvalidInput(f"{label}最多精确到分" if scale == 100 else f"{label}应为整数", field=name)
        return int(value)

    materials = materials_from_form(form)
    lead = str(form.get("department", ""))
    was = {m["name"]: m for m in (existing or {}).get("materials", []) if isinstance(m, dict)}
    try:
        schema = json.loads(form["form_json"]) if str(form.get("form_json", "")).strip() else None
    except ValueError:
        raise InvalidInput("申请表定义不是有效的 JSON", field="form") from None
    # what the page does not show (the guide's other elements, a material's attributes) is kept
    return (existing or {}) | {
        "code": str(form.get("code", "")),
        "name": form.get("name", ""),
        "departments": [lead] + [d for d in departments_ if d != lead] if lead else departments_,
        "time_limit_days": number("time_limit_days", "承诺办结时限"),
        "fee_fen": number("fee_yuan", "收费金额", 100),
        "level": form.get("level", "village"),
        "instant": form.get("instant") == "1",
        "service_object": form.get("service_object", "natural"),
        "legal_basis": form.get("legal_basis", ""),
        "conditions": form.get("conditions", ""),
        "materials": [{k: v for k, v in was.get(m["name"], {}).items() if k != "licence_item"} | m for m in materials],
        "proxy": form.get("in_person") != "1",
        "withdrawn": form.get("withdrawn") == "1",
        "home_visit": form.get("home_visit") == "1",
        "form": schema,
        "keywords": [k for k in str(form.get("keywords", "")).replace("，", " ").replace(",", " ").split() if k],
    }


def item_for_edit(engine: Engine, code: str) -> dict[str, Any] | None:
    with Session(engine) as session:
        row = session.get(CatalogItem, code)
        return json.loads(row.detail_json) if row else None
