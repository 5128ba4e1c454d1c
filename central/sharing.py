"""Shared materials (数据共享; issue 19 item 6): a material the catalog marks ``shared`` is never
asked of the citizen — the hub obtains it from the county's data-sharing services and shows the
clerk what came back, with its source.

The interface an adapter implements (docs/integration.md):
- ``fetch(material, id_number)`` returns ``{"source", "reference", "fields"}`` — the service's name,
  its record number, and what it holds (a dict of labelled values) — or None when the service
  holds no such record for that person;
- it raises ``SharingUnavailable`` when the service cannot be reached: the case page says so, and
  the next view asks again (an answer, found or not, is kept with the case and not asked again).

``LocalRegistry`` is a **stand-in**, not a real service: a JSON file standing in for the population
(户籍), marriage (婚姻登记) and birth-certificate (出生医学证明) services, for the demo and the tests.
The hub uses ``<hub data dir>/sharing_registry.json`` when it exists, else the sample shipped with
the code (``central/sharing_sample.json``, a few demo people). A county connects its real services
by writing an adapter with the same ``fetch``.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .models import Application, CatalogItem, SharedMaterial


class SharingUnavailable(Exception):
    """The data-sharing service could not be reached; ask again later."""


class SharingAdapter(Protocol):
    def fetch(self, material: str, id_number: str) -> dict[str, Any] | None: ...


class LocalRegistry:
    """STAND-IN for the county's data-sharing services (see the module docstring): records by
    resident ID and material name, from a JSON file ``{"records": {id: {material: {source,
    reference, fields}}}}``."""

    def __init__(self, path: Path | None = None) -> None:
        text = path.read_text(encoding="utf-8") if path is not None else files("central").joinpath("sharing_sample.json").read_text(encoding="utf-8")
        self.records: dict[str, dict[str, Any]] = json.loads(text).get("records", {})

    def fetch(self, material: str, id_number: str) -> dict[str, Any] | None:
        found = self.records.get(id_number.upper(), {}).get(material)
        return {"source": found["source"], "reference": found.get("reference", ""), "fields": found.get("fields", {})} if found else None


def adapter_for(data_dir: Path) -> SharingAdapter:
    registry = data_dir / "sharing_registry.json"
    return LocalRegistry(registry if registry.exists() else None)


def shared_materials(engine: Engine, app: Application, adapter: SharingAdapter) -> list[dict[str, Any]]:
    """Each shared material of the case's item, as obtained for this case (asked once, then kept):
    ``{material, state: found | none | unavailable, source, reference, fields, fetched_at}``."""
    with Session(engine) as session:
        item = session.get(CatalogItem, app.item_code)
        wanted = [m["name"] for m in (json.loads(item.detail_json).get("materials", []) if item else []) if isinstance(m, dict) and m.get("shared")]
        held = {s.material: s for s in session.exec(select(SharedMaterial).where(SharedMaterial.application_id == app.id)).all()}
    out = []
    for material in wanted:
        kept = held.get(material)
        if kept is None:
            try:
                found = adapter.fetch(material, app.applicant_id_number)
            except SharingUnavailable:
                out.append({"material": material, "state": "unavailable", "source": "", "reference": "", "fields": {}, "fetched_at": ""})
                continue
            kept = _keep(engine, app.id, material, found)
        out.append(
            {
                "material": material,
                "state": "found" if kept.found else "none",
                "source": kept.source,
                "reference": kept.reference,
                "fields": json.loads(kept.fields_json),
                "fetched_at": kept.fetched_at,
            }
        )
    return out


def _keep(engine: Engine, application_id: str, material: str, found: dict[str, Any] | None) -> SharedMaterial:
    with transaction(engine) as session:
        kept = session.get(SharedMaterial, (application_id, material))
        if kept is None:  # (another view may have kept it meanwhile)
            kept = SharedMaterial(
                application_id=application_id,
                material=material,
                found=found is not None,
                source=(found or {}).get("source", ""),
                reference=(found or {}).get("reference", ""),
                fields_json=json.dumps((found or {}).get("fields", {}), ensure_ascii=False),
                fetched_at=utcnow(),
            )
            session.add(kept)
            record_action(session, "system", "case.shared_material", application_id, material=material, found=found is not None)
        session.flush()
        session.expunge(kept)
    return kept
