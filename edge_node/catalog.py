"""The node's replica of the hub's catalog (同一事项、同一标准、同一编码). At enrolment it arrives as
``catalog.json``; later versions come down the downlink."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from weblayer.errors import NotFound

from .store import Store, get_meta, set_meta


def install_catalog(store: Store, catalog: dict[str, Any]) -> bool:
    """Replace the local catalog if ``catalog`` is newer; return whether it was installed."""
    with store.write() as conn:
        return install_catalog_in(conn, catalog)


def install_catalog_in(conn: sqlite3.Connection, catalog: dict[str, Any]) -> bool:
    """The same inside the caller's transaction (a catalog.version record on the downlink)."""
    if int(get_meta(conn, "catalog_version", "0")) >= int(catalog["version"]):
        return False
    conn.execute("DELETE FROM catalog_items")
    conn.executemany(
        "INSERT INTO catalog_items (code, name, department_name, time_limit_days, fee_fen, detail_json) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (i["code"], i["name"], i.get("department_name", i["department"]), i["time_limit_days"], i["fee_fen"], json.dumps(i, ensure_ascii=False))
            for i in catalog["items"]
        ],
    )
    set_meta(conn, "catalog_version", str(catalog["version"]))
    return True


def install_catalog_file(store: Store, path: Path) -> bool:
    return path.exists() and install_catalog(store, json.loads(path.read_text(encoding="utf-8")))


def item_from_row(row: Any) -> dict[str, Any]:
    """A catalog_items row as the item dict, with materials in their current shape."""
    item = json.loads(row["detail_json"]) | {"department_name": row["department_name"]}
    # materials: [{"name", "shared"}]; "shared" ones the departments obtain by data sharing and
    # the window must not demand again (older catalogs listed plain names)
    item["materials"] = [m if isinstance(m, dict) else {"name": m, "shared": False} for m in item.get("materials", [])]
    return item


MAX_QUERY_WORDS = 8  # a search is a few words; a thousand made an SQLite expression too deep (a 500)


def list_items(store: Store, query: str = "") -> list[dict[str, Any]]:
    """Items whose code, name, department or conditions contain every word of ``query`` (its
    first MAX_QUERY_WORDS words, each of at most 50 characters)."""
    words = [w[:50] for w in query.split()[:MAX_QUERY_WORDS]]
    where = " AND ".join("(code LIKE ? OR name LIKE ? OR department_name LIKE ? OR detail_json LIKE ?)" for _ in words) or "1"
    params = [p for w in words for p in (f"%{w}%",) * 4]
    return [item_from_row(r) for r in store.query(f"SELECT * FROM catalog_items WHERE {where} ORDER BY code", tuple(params))]


def get_item(store: Store, code: str) -> dict[str, Any]:
    row = store.one("SELECT * FROM catalog_items WHERE code = ?", (code,))
    if row is None:
        raise NotFound("事项目录中没有这个事项，请重新选择")
    return item_from_row(row)


def required_materials(item: dict[str, Any]) -> list[str]:
    """What the window must check: every material the departments cannot obtain themselves."""
    return [m["name"] for m in item["materials"] if not m["shared"]]
