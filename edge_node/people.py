"""一号申请 across the county (issue 19 item 6): what the county holds of a person — their cases at
every point and their e-licences — asked of the hub while online (NodeSync.lookup, signed both
ways, logged at the hub) and kept here for use offline.

The cache is bounded: an answer older than KEEP_DAYS is dropped, and no more than MAX_PEOPLE
people are kept (the oldest answers go first). It holds no more than the hub sends: points,
items, states and dates of cases, and the e-licences (which verify offline with the hub key).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_protocol import format_time

from .store import Store, utcnow

KEEP_DAYS = 180
MAX_PEOPLE = 5000


def remember(store: Store, reply: dict[str, Any]) -> str:
    """Keep the county's answer (replacing the last one about that person); prune; return when."""
    now = utcnow()
    with store.write() as conn:
        conn.execute(
            "INSERT INTO person_cache (id_number, reply_json, fetched_at) VALUES (?, ?, ?) "
            "ON CONFLICT(id_number) DO UPDATE SET reply_json = excluded.reply_json, fetched_at = excluded.fetched_at",
            (reply["id_number"], json.dumps(reply, ensure_ascii=False), now),
        )
        conn.execute("DELETE FROM person_cache WHERE fetched_at < ?", (format_time(datetime.now(UTC) - timedelta(days=KEEP_DAYS)),))
        conn.execute(
            "DELETE FROM person_cache WHERE id_number IN (SELECT id_number FROM person_cache ORDER BY fetched_at DESC LIMIT -1 OFFSET ?)",
            (MAX_PEOPLE,),
        )
    return now


def recall(store: Store, id_number: str) -> dict[str, Any] | None:
    row = store.one("SELECT reply_json, fetched_at FROM person_cache WHERE id_number = ?", (id_number,))
    return json.loads(row["reply_json"]) | {"fetched_at": row["fetched_at"]} if row else None


def county_view(store: Store, ask: Callable[[str], dict[str, Any] | None], id_number: str) -> dict[str, Any] | None:
    """The county's answer now (``live``), else the last one kept here, else None."""
    reply = ask(id_number)
    if reply is not None:
        return reply | {"fetched_at": remember(store, reply), "live": True}
    cached = recall(store, id_number)
    return cached | {"live": False} if cached else None


def cached_licences(store: Store, id_number: str) -> list[dict[str, Any]]:
    """E-licences of ``id_number`` the county sent in its last answer (offline too)."""
    cached = recall(store, id_number)
    return [lic for lic in (cached or {}).get("licences", []) if isinstance(lic, dict) and lic.get("text")]
