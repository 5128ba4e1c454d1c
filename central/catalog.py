"""The service catalog (同一事项、同一标准、同一编码) as the hub holds and hands it to nodes."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .db import transaction
from .models import CatalogItem, Department


def sample_catalog() -> dict[str, Any]:
    return json.loads(files("central").joinpath("catalog_sample.json").read_text(encoding="utf-8"))


def load_catalog(engine: Engine, catalog: dict[str, Any]) -> None:
    """Insert departments and items that are not there yet (idempotent)."""
    with transaction(engine) as session:
        for dept in catalog["departments"]:
            if session.get(Department, dept["code"]) is None:
                session.add(Department(code=dept["code"], name=dept["name"]))
        session.flush()
        for item in catalog["items"]:
            if session.get(CatalogItem, item["code"]) is None:
                session.add(
                    CatalogItem(
                        code=item["code"],
                        name=item["name"],
                        department=item["department"],
                        time_limit_days=item["time_limit_days"],
                        fee_fen=item["fee_fen"],
                        detail_json=json.dumps(item, ensure_ascii=False),
                    )
                )


def published_catalog(engine: Engine) -> dict[str, Any]:
    """The catalog as a node receives it at enrolment."""
    with Session(engine) as session:
        depts = {d.code: d.name for d in session.exec(select(Department)).all()}
        items = []
        for row in session.exec(select(CatalogItem).order_by(CatalogItem.code)).all():
            item = json.loads(row.detail_json)
            item["department_name"] = depts.get(row.department, row.department)
            items.append(item)
    return {"version": 1, "items": items}


def departments(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {d.code: d.name for d in session.exec(select(Department)).all()}
