"""The county's 通知公告 and 常见问题 at the point (guidance.changed; central/guidance.py): kept as
the county last sent them, for the point's pages, offline."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from .store import Store

MAX_QUERY_WORDS = 8


def apply_guidance(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """One entry's new state, or its withdrawal (inside the downlink batch's transaction)."""
    if data["kind"] not in ("announcement", "faq"):
        raise ValueError(f"guidance of unknown kind {data['kind']!r}")
    if data["withdrawn"]:
        conn.execute("DELETE FROM guidance WHERE kind = ? AND id = ?", (data["kind"], data["id"]))
        return
    conn.execute(
        "INSERT INTO guidance (kind, id, title, body, item_code, at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, id) DO UPDATE SET title = excluded.title, body = excluded.body, item_code = excluded.item_code, at = excluded.at",
        (data["kind"], data["id"], data["title"], data["body"], data.get("item_code", ""), data["at"]),
    )


def announcements(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    rows = store.query("SELECT * FROM guidance WHERE kind = 'announcement' ORDER BY at DESC, id DESC LIMIT ?", (limit,))
    return [dict(r) for r in rows]


def faq(store: Store, query: str = "", item_code: str | None = None) -> list[dict[str, Any]]:
    """FAQ entries holding every word of ``query`` (in the question or answer); or one item's."""
    words = [w[:50] for w in query.split()[:MAX_QUERY_WORDS]]
    where = " AND ".join("(title LIKE ? OR body LIKE ?)" for _ in words) or "1"
    params: list[Any] = [p for w in words for p in (f"%{w}%",) * 2]
    if item_code is not None:
        where += " AND item_code = ?"
        params.append(item_code)
    return [dict(r) for r in store.query(f"SELECT * FROM guidance WHERE kind = 'faq' AND {where} ORDER BY id", tuple(params))]
