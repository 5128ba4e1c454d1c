"""Documents of record the county issued on this point's cases (受理通知书, 决定书, 送达回证 …:
central/documents.py): kept as the signed text the hub sent (document.issued), verified with the
hub key this point pinned at enrolment, and printed from that text alone — offline too."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from nacl.signing import VerifyKey

from sync_protocol import SyncError, open_document
from weblayer.display import is_seal_code, seal_code
from weblayer.errors import InvalidInput, NotFound

from .store import Store, utcnow


def apply_document(conn: sqlite3.Connection, data: Mapping[str, Any], hub_key: VerifyKey) -> None:
    """Inside the downlink transaction: signed by the pinned hub key, or the batch is refused. Once."""
    open_document(data["text"], hub_key)
    conn.execute(
        "INSERT OR IGNORE INTO documents (number, application_id, kind, text, received_at) VALUES (?, ?, ?, ?, ?)",
        (data["number"], data["application_id"], data["kind"], data["text"], utcnow()),
    )


def documents_of(store: Store, application_id: str, hub_key: VerifyKey) -> list[dict[str, Any]]:
    """The case's documents, oldest first, each with its id, what it says and its signed text."""
    rows = store.query("SELECT rowid AS id, text FROM documents WHERE application_id = ? ORDER BY rowid", (application_id,))
    return [{"id": r["id"], "text": r["text"]} | open_document(r["text"], hub_key) for r in rows]


def verify(text: str, hub_key: VerifyKey, store: Store | None = None) -> dict[str, Any]:
    """A document someone brings — its YWC1 text, or the verification code printed on it, looked
    up among this point's documents — checked offline against the pinned hub key."""
    if is_seal_code(text):
        code = text.strip().upper()
        held = next((r["text"] for r in store.query("SELECT text FROM documents") if seal_code(r["text"]) == code), None) if store else None
        if held is None:
            raise InvalidInput("本服务点没有这个验证码的文书：请核对验证码，或粘贴文书文本，或到县中枢核验", field="licence")
        text = held
    try:
        return open_document(text, hub_key)
    except SyncError:
        raise InvalidInput("无效：这份文书不是县级中枢签发的，或内容已被改动", field="licence") from None


def get_document(store: Store, application_id: str, document_id: int, hub_key: VerifyKey) -> dict[str, Any]:
    if not 0 < document_id < 2**63:  # SQLite's rowid: a larger number is no row, not an overflow
        raise NotFound("这个办件没有这份文书")
    row = store.one("SELECT text FROM documents WHERE rowid = ? AND application_id = ?", (document_id, application_id))
    if row is None:
        raise NotFound("这个办件没有这份文书")
    return open_document(row["text"], hub_key) | {"text": row["text"]}
