"""The node's replica of the hub's catalog. At enrolment it arrives as ``catalog.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .store import Store, get_meta, set_meta


def install_catalog(store: Store, catalog: dict[str, Any]) -> bool:
    """Replace the local catalog if ``catalog`` is newer; return whether it was installed."""
    with store.write() as conn:
        if int(get_meta(conn, "catalog_version", "0")) >= int(catalog["version"]):
            return False
        conn.execute("DELETE FROM catalog_items")
        conn.executemany(
            "INSERT INTO catalog_items (code, name, department_name, time_limit_days, fee_fen, detail_json) VALUES (?, ?, ?, ?, ?, ?)",
            [(i["code"], i["name"], i.get("department_name", i["department"]), i["time_limit_days"], i["fee_fen"], json.dumps(i, ensure_ascii=False)) for i in catalog["items"]],
        )
        set_meta(conn, "catalog_version", str(catalog["version"]))
    return True


def install_catalog_file(store: Store, path: Path) -> bool:
    return path.exists() and install_catalog(store, json.loads(path.read_text(encoding="utf-8")))


def list_items(store: Store) -> list[dict[str, Any]]:
    return [json.loads(r["detail_json"]) | {"department_name": r["department_name"]} for r in store.query("SELECT * FROM catalog_items ORDER BY code")]
