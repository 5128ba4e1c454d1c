"""The node's SQLite file: one writer connection, numbered migrations, transactions with outbox.

Every write that matters goes through ``Store.write()``: ``BEGIN IMMEDIATE`` … ``COMMIT`` under a
process-wide lock, so a state change and its outbox event are in the file together or not at all.
WAL with synchronous=FULL: a committed intake survives power loss, not only a crash.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlite_utils import Database

from sync_protocol import format_time


def utcnow() -> str:
    return format_time(datetime.now(timezone.utc))


def _m1_initial(db: Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["users"].create({"username": str, "display_name": str, "role": str, "password_hash": str}, pk="username")
    db["login_sessions"].create({"token_hash": str, "username": str, "expires_at": str}, pk="token_hash", foreign_keys=[("username", "users")])
    db["catalog_items"].create({"code": str, "name": str, "department_name": str, "time_limit_days": int, "fee_fen": int, "detail_json": str}, pk="code")
    db["counters"].create({"name": str, "value": int}, pk="name")
    db["applications"].create(
        {
            "id": str, "receipt_no": str, "item_code": str, "item_name": str, "department_name": str,
            "applicant_name": str, "applicant_id_number": str, "applicant_phone": str, "proxy_agent": str,
            "agent_username": str, "status": str, "created_at": str, "decision_reason": str,
            "decided_by": str, "decided_at": str, "picked_up_at": str, "picked_up_by": str,
        },
        pk="id",
        not_null={"receipt_no", "item_code", "applicant_name", "applicant_id_number", "status", "created_at"},
    )
    db["applications"].create_index(["receipt_no"], unique=True)
    # outbox: seq orders events; batch_seq is set when the event is sealed into an uplink batch
    db.execute(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
        "at TEXT NOT NULL, data_json TEXT NOT NULL, batch_seq INTEGER)"
    )
    db["outbox"].create_index(["batch_seq"])
    db["uplink_batches"].create({"seq": int, "hash": str, "wire": bytes, "created_at": str, "published_at": str}, pk="seq", not_null={"hash", "wire"})
    db["downlink_batches"].create({"seq": int, "hash": str, "wire": bytes, "applied_at": str}, pk="seq", not_null={"hash", "wire"})
    db["quarantine"].create({"id": int, "reason": str, "detail": str, "wire": bytes, "received_at": str}, pk="id")


def _m2_resends(db: Database) -> None:
    # how often a batch was re-published on the hub's request; >0 changes its Nats-Msg-Id so
    # JetStream's duplicate window cannot swallow a resend of a batch the stream lost
    db["uplink_batches"].add_column("resends", int, not_null_default=0)


def _m3_materials(db: Database) -> None:
    db["materials"].create(
        {"id": int, "application_id": str, "material": str, "sha256": str, "size": int, "media_type": str, "filename": str, "agent_username": str, "created_at": str},
        pk="id", not_null={"application_id", "material", "sha256", "size", "media_type"}, foreign_keys=[("application_id", "applications")],
    )
    db["materials"].create_index(["application_id"])
    # upload progress: sent_bytes advances after each chunk's PubAck, so a transfer resumes there
    db["blob_uploads"].create({"sha256": str, "size": int, "sent_bytes": int, "completed_at": str}, pk="sha256", not_null={"size", "sent_bytes"})


def _m4_notices(db: Database) -> None:
    # one-time notices (一次性告知): what was missing, told once and completely, with a number
    db["notices"].create(
        {"notice_no": str, "item_code": str, "item_name": str, "applicant_name": str, "applicant_id_number": str, "missing_json": str, "agent_username": str, "created_at": str},
        pk="notice_no",
    )
    db["applications"].create_index(["applicant_id_number"])


def _m5_materials_checked(db: Database) -> None:
    # the materials whose originals the agent saw and checked at the window (JSON list of names)
    db["applications"].add_column("materials_checked", str, not_null_default="[]")


def _m6_fees(db: Database) -> None:
    db["fee_receipts"].create(
        {
            "receipt_no": str, "application_id": str, "item_code": str, "payer_name": str, "amount_fen": int, "method": str,
            "reference": str, "agent_username": str, "collected_at": str, "business_date": str, "status": str,
            "refunded_fen": int, "void_reason": str, "void_approved_by": str, "voided_at": str, "close_id": str,
        },
        pk="receipt_no", not_null={"amount_fen", "method", "agent_username", "collected_at", "business_date", "status"},
        defaults={"refunded_fen": 0, "status": "paid"},
    )
    db["fee_receipts"].create_index(["agent_username", "business_date"])
    db["fee_receipts"].create_index(["reference"])
    db["fee_refunds"].create({"id": int, "receipt_no": str, "amount_fen": int, "method": str, "reason": str, "approved_by": str, "agent_username": str, "refunded_at": str, "business_date": str, "close_id": str}, pk="id")
    db["daily_closes"].create(
        {"close_id": str, "agent_username": str, "business_date": str, "totals_json": str, "cash_expected_fen": int, "cash_counted_fen": int, "discrepancy_fen": int, "note": str, "closed_at": str, "remittance_id": str},
        pk="close_id",
    )
    db["remittances"].create({"remittance_id": str, "amount_fen": int, "close_ids_json": str, "bank_reference": str, "agent_username": str, "remitted_at": str}, pk="remittance_id")


def _m7_handover(db: Database) -> None:
    for column in ("decision", "collector_id_number", "courier", "tracking_no", "dispatched_at"):
        db["applications"].add_column(column, str)
    db["evaluations"].create({"application_id": str, "level": int, "comment": str, "created_at": str}, pk="application_id", foreign_keys=[("application_id", "applications")])
    db["complaints"].create({"complaint_id": str, "application_id": str, "contact": str, "text": str, "agent_username": str, "created_at": str}, pk="complaint_id")


def _m8_supplements(db: Database) -> None:
    # the hub's complete list of what must be supplied (JSON), while a supplement is requested
    db["applications"].add_column("supplement_json", str, not_null_default="[]")


def _m9_licences(db: Database) -> None:
    db["licences"].create({"licence_no": str, "application_id": str, "text": str, "received_at": str}, pk="licence_no")
    db["licences"].create_index(["application_id"])


def _m10_acceptance(db: Database) -> None:
    # 受理 at the county (status 'accepted'); a case not accepted keeps its reason in decision_reason
    db["applications"].add_column("accepted_at", str)


def _m11_material_receipts(db: Database) -> None:
    # received_at: the hub confirmed it holds the verified file; purged_at: this copy was deleted
    db["blob_uploads"].add_column("received_at", str)
    db["blob_uploads"].add_column("purged_at", str)
    db["blob_uploads"].create_index(["received_at"])


MIGRATIONS: list[Callable[[Database], None]] = [_m1_initial, _m2_resends, _m3_materials, _m4_notices, _m5_materials_checked, _m6_fees, _m7_handover, _m8_supplements, _m9_licences, _m10_acceptance, _m11_material_receipts]


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        with self.write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            db = Database(conn)
            for number, migration in enumerate(MIGRATIONS, start=1):
                if number > version:
                    migration(db)
                    conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: commit if the block returns, roll back if it raises."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def get_meta(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def next_counter(conn: sqlite3.Connection, name: str) -> int:
    """Gap-free per-node sequence (receipt numbers): incremented inside the caller's transaction."""
    conn.execute("INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
    return conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]


def add_outbox(conn: sqlite3.Connection, kind: str, data: dict[str, Any], at: str | None = None) -> str:
    """Queue an uplink event inside the caller's transaction; returns the event id."""
    event_id = str(uuid.uuid4())
    conn.execute("INSERT INTO outbox (id, kind, at, data_json) VALUES (?, ?, ?, ?)", (event_id, kind, at or utcnow(), json.dumps(data, ensure_ascii=False)))
    return event_id
