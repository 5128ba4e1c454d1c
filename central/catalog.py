"""The service catalog (同一事项、同一标准、同一编码) as the hub holds, edits and publishes it.

``CatalogItem`` rows are the items in force (routing reads them); each publication snapshots them
as a numbered ``CatalogVersion`` and sends that version down to every enrolled node in the same
transaction. Nodes install a version only if it is newer than theirs and report what they run in
their heartbeat.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from sync_protocol import CATALOG_VERSION
from weblayer.errors import InvalidInput

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .models import CatalogItem, CatalogVersion, Department, Node, User

LEVELS = {"village": "村级可办", "township": "乡镇可办"}
SERVICE_OBJECTS = {"natural": "自然人", "legal": "法人", "both": "自然人和法人"}


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
    if item.get("level", "village") not in LEVELS:
        raise InvalidInput("办理层级只能是村级或乡镇", field="level")
    if item.get("service_object", "natural") not in SERVICE_OBJECTS:
        raise InvalidInput("服务对象只能是自然人、法人或两者", field="service_object")
    clean = {k: v for k, v in item.items() if k not in ("note", "department_name")}
    clean.update(
        {
            "code": code,
            "name": text("name", "事项名称"),
            "department": departments_[0],
            "departments": list(dict.fromkeys(departments_)),
            "time_limit_days": whole("time_limit_days", "承诺办结时限（工作日）", 1, 365),
            "fee_fen": whole("fee_fen", "收费金额（分）", 0, 10_000_000),
            "level": item.get("level", "village"),
            "instant": bool(item.get("instant", False)),
            "service_object": item.get("service_object", "natural"),
            "legal_basis": text("legal_basis", "设定依据", required=False, limit=1000),
            "conditions": text("conditions", "受理条件", required=False, limit=1000),
            "materials": [
                {
                    k: v
                    for k, v in (("name", m["name"].strip()), ("shared", bool(m.get("shared", False))), ("licence_item", m.get("licence_item")))
                    if v is not None
                }
                for m in materials
            ],
        }
    )
    if len(clean["departments"]) == 1:
        clean.pop("departments")
    return clean


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
    for i in range(int(form.get("material_rows", 0) or 0) if str(form.get("material_rows", "0")).isdigit() else 0):
        name = str(form.get(f"material_name_{i}", "")).strip()
        if name:
            material: dict[str, Any] = {"name": name, "shared": form.get(f"material_shared_{i}") == "1"}
            if str(form.get(f"material_licence_{i}", "")).strip():
                material["licence_item"] = str(form[f"material_licence_{i}"]).strip()
            materials.append(material)
    return materials


def item_from_form(form: dict[str, Any], departments_: list[str]) -> dict[str, Any]:
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
    return {
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
        "materials": materials,
        "keywords": [k for k in str(form.get("keywords", "")).replace("，", " ").replace(",", " ").split() if k],
    }


def item_for_edit(engine: Engine, code: str) -> dict[str, Any] | None:
    with Session(engine) as session:
        row = session.get(CatalogItem, code)
        return json.loads(row.detail_json) if row else None
