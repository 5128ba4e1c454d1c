"""The node's SQLite file: one writer connection, numbered migrations, transactions with outbox.

Every write that matters goes through ``Store.write()``: ``BEGIN IMMEDIATE`` … ``COMMIT`` under a
process-wide lock, so a state change and its outbox event are in the file together or not at all.
WAL with synchronous=FULL: a committed intake survives power loss, not only a crash.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from sync_protocol import UnencodableValue, format_time, record_size
from weblayer.errors import InvalidInput


def utcnow() -> str:
    return format_time(datetime.now(UTC))


def _m1_initial(db: Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("users").create({"username": str, "display_name": str, "role": str, "password_hash": str}, pk="username")
    db.table("login_sessions").create({"token_hash": str, "username": str, "expires_at": str}, pk="token_hash", foreign_keys=[("username", "users")])
    db.table("catalog_items").create(
        {"code": str, "name": str, "department_name": str, "time_limit_days": int, "fee_fen": int, "detail_json": str}, pk="code"
    )
    db.table("counters").create({"name": str, "value": int}, pk="name")
    db.table("applications").create(
        {
            "id": str,
            "receipt_no": str,
            "item_code": str,
            "item_name": str,
            "department_name": str,
            "applicant_name": str,
            "applicant_id_number": str,
            "applicant_phone": str,
            "proxy_agent": str,
            "agent_username": str,
            "status": str,
            "created_at": str,
            "decision_reason": str,
            "decided_by": str,
            "decided_at": str,
            "picked_up_at": str,
            "picked_up_by": str,
        },
        pk="id",
        not_null={"receipt_no", "item_code", "applicant_name", "applicant_id_number", "status", "created_at"},
    )
    db.table("applications").create_index(["receipt_no"], unique=True)
    # outbox: seq orders events; batch_seq is set when the event is sealed into an uplink batch
    db.execute(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
        "at TEXT NOT NULL, data_json TEXT NOT NULL, batch_seq INTEGER)"
    )
    db.table("outbox").create_index(["batch_seq"])
    db.table("uplink_batches").create(
        {"seq": int, "hash": str, "wire": bytes, "created_at": str, "published_at": str}, pk="seq", not_null={"hash", "wire"}
    )
    db.table("downlink_batches").create({"seq": int, "hash": str, "wire": bytes, "applied_at": str}, pk="seq", not_null={"hash", "wire"})
    db.table("quarantine").create({"id": int, "reason": str, "detail": str, "wire": bytes, "received_at": str}, pk="id")


def _m2_resends(db: Database) -> None:
    # how often a batch was re-published on the hub's request; >0 changes its Nats-Msg-Id so
    # JetStream's duplicate window cannot swallow a resend of a batch the stream lost
    db.table("uplink_batches").add_column("resends", int, not_null_default=0)


def _m3_materials(db: Database) -> None:
    db.table("materials").create(
        {
            "id": int,
            "application_id": str,
            "material": str,
            "sha256": str,
            "size": int,
            "media_type": str,
            "filename": str,
            "agent_username": str,
            "created_at": str,
        },
        pk="id",
        not_null={"application_id", "material", "sha256", "size", "media_type"},
        foreign_keys=[("application_id", "applications")],
    )
    db.table("materials").create_index(["application_id"])
    # upload progress: sent_bytes advances after each chunk's PubAck, so a transfer resumes there
    db.table("blob_uploads").create(
        {"sha256": str, "size": int, "sent_bytes": int, "completed_at": str}, pk="sha256", not_null={"size", "sent_bytes"}
    )


def _m4_notices(db: Database) -> None:
    # one-time notices (一次性告知): what was missing, told once and completely, with a number
    db.table("notices").create(
        {
            "notice_no": str,
            "item_code": str,
            "item_name": str,
            "applicant_name": str,
            "applicant_id_number": str,
            "missing_json": str,
            "agent_username": str,
            "created_at": str,
        },
        pk="notice_no",
    )
    db.table("applications").create_index(["applicant_id_number"])


def _m5_materials_checked(db: Database) -> None:
    # the materials whose originals the agent saw and checked at the window (JSON list of names)
    db.table("applications").add_column("materials_checked", str, not_null_default="[]")


def _m6_fees(db: Database) -> None:
    db.table("fee_receipts").create(
        {
            "receipt_no": str,
            "application_id": str,
            "item_code": str,
            "payer_name": str,
            "amount_fen": int,
            "method": str,
            "reference": str,
            "agent_username": str,
            "collected_at": str,
            "business_date": str,
            "status": str,
            "refunded_fen": int,
            "void_reason": str,
            "void_approved_by": str,
            "voided_at": str,
            "close_id": str,
        },
        pk="receipt_no",
        not_null={"amount_fen", "method", "agent_username", "collected_at", "business_date", "status"},
        defaults={"refunded_fen": 0, "status": "paid"},
    )
    db.table("fee_receipts").create_index(["agent_username", "business_date"])
    db.table("fee_receipts").create_index(["reference"])
    db.table("fee_refunds").create(
        {
            "id": int,
            "receipt_no": str,
            "amount_fen": int,
            "method": str,
            "reason": str,
            "approved_by": str,
            "agent_username": str,
            "refunded_at": str,
            "business_date": str,
            "close_id": str,
        },
        pk="id",
    )
    db.table("daily_closes").create(
        {
            "close_id": str,
            "agent_username": str,
            "business_date": str,
            "totals_json": str,
            "cash_expected_fen": int,
            "cash_counted_fen": int,
            "discrepancy_fen": int,
            "note": str,
            "closed_at": str,
            "remittance_id": str,
        },
        pk="close_id",
    )
    db.table("remittances").create(
        {"remittance_id": str, "amount_fen": int, "close_ids_json": str, "bank_reference": str, "agent_username": str, "remitted_at": str},
        pk="remittance_id",
    )


def _m7_handover(db: Database) -> None:
    for column in ("decision", "collector_id_number", "courier", "tracking_no", "dispatched_at"):
        db.table("applications").add_column(column, str)
    db.table("evaluations").create(
        {"application_id": str, "level": int, "comment": str, "created_at": str},
        pk="application_id",
        foreign_keys=[("application_id", "applications")],
    )
    db.table("complaints").create(
        {"complaint_id": str, "application_id": str, "contact": str, "text": str, "agent_username": str, "created_at": str}, pk="complaint_id"
    )


def _m8_supplements(db: Database) -> None:
    # the hub's complete list of what must be supplied (JSON), while a supplement is requested
    db.table("applications").add_column("supplement_json", str, not_null_default="[]")


def _m9_licences(db: Database) -> None:
    db.table("licences").create({"licence_no": str, "application_id": str, "text": str, "received_at": str}, pk="licence_no")
    db.table("licences").create_index(["application_id"])


def _m10_acceptance(db: Database) -> None:
    # 受理 at the county (status 'accepted'); a case not accepted keeps its reason in decision_reason
    db.table("applications").add_column("accepted_at", str)


def _m11_material_receipts(db: Database) -> None:
    # received_at: the hub confirmed it holds the verified file; purged_at: this copy was deleted
    db.table("blob_uploads").add_column("received_at", str)
    db.table("blob_uploads").add_column("purged_at", str)
    db.table("blob_uploads").create_index(["received_at"])


def _m12_material_originals(db: Database) -> None:
    # the photo as taken, kept on this node beside the optimised file that is sent (NULL: the
    # file sent is the original, e.g. a PDF, or the material predates optimisation)
    db.table("materials").add_column("original_sha256", str)
    db.table("materials").add_column("original_size", int)
    db.table("materials").create_index(["sha256"])  # purge_received finds a purged copy's originals by these two
    db.table("materials").create_index(["original_sha256"])


def _m13_requested_files(db: Database) -> None:
    # a file the county asked for (an original, 原图): sent even while the point is metered
    db.table("blob_uploads").add_column("requested", int, not_null_default=0)


def _m14_set_aside(db: Database) -> None:
    # an event no batch can carry (made before record_size bounded it at the door): why it was
    # set aside, so the events behind it go on (link.seal_pending)
    db.table("outbox").add_column("set_aside", str)


def _m15_forms(db: Database) -> None:
    # the item's application form as filled in (sync_protocol check_form), and the catalog
    # version it was checked against
    db.table("applications").add_column("form_json", str, not_null_default="{}")
    db.table("applications").add_column("catalog_version", int, not_null_default=0)


def _m16_reviews(db: Database) -> None:
    # township stages this township decides (edge_node/reviews.py): its own cases and those the hub assigns
    db.table("reviews").create(
        {
            "application_id": str,
            "stage": int,
            "stage_name": str,
            "final": int,
            "receipt_no": str,
            "item_code": str,
            "item_name": str,
            "from_node": str,
            "applicant_name": str,
            "applicant_id_number": str,
            "applicant_phone": str,
            "proxy_agent": str,
            "form_json": str,
            "materials_json": str,
            "submitted_at": str,
            "assigned_at": str,
            "status": str,
            "decided_by": str,
            "decided_at": str,
            "reason": str,
        },
        pk=("application_id", "stage"),
        not_null={"status"},
        defaults={"status": "pending", "reason": "", "applicant_phone": "", "proxy_agent": "", "form_json": "{}", "materials_json": "[]"},
    )
    db.table("reviews").create_index(["status", "assigned_at"])


def _m17_person_cache(db: Database) -> None:
    # the county's last answer about a person (一号申请 across the county, edge_node/people.py), for use offline
    db.table("person_cache").create({"id_number": str, "reply_json": str, "fetched_at": str}, pk="id_number")
    db.table("person_cache").create_index(["fetched_at"])


def _m18_commitment(db: Database) -> None:
    # 告知承诺制: the applicant's signed commitment replaced named materials (cases.committed)
    db.table("applications").add_column("commitment", int, not_null_default=0)
    db.table("licences").add_column("revoked_at", str)  # the decision was revoked (decision.revoked)


def _m19_clock_pauses(db: Database) -> None:
    # a case's time limit suspended by a special procedure at the county (clock.suspended / clock.resumed)
    db.table("clock_pauses").create(
        {"application_id": str, "kind": str, "name": str, "reason": str, "started_at": str, "started_by": str, "ended_at": str},
        pk=("application_id", "started_at"),
        not_null={"application_id", "kind", "name", "started_at"},
    )


def _m20_documents(db: Database) -> None:
    # the county's documents of record on this point's cases, as signed (document.issued; edge_node/documents.py)
    db.table("documents").create(
        {"number": str, "application_id": str, "kind": str, "text": str, "received_at": str}, pk="number", not_null={"application_id", "kind", "text"}
    )
    db.table("documents").create_index(["application_id"])
    # the county's answers to complaints filed here (complaint.answered)
    for column in ("first_answer", "first_answered_at", "answer", "answered_at", "answered_by"):
        db.table("complaints").add_column(column, str)
    # a fee to give back: the case was not accepted, refused or revoked (fees.mark_refund_due)
    db.table("fee_receipts").add_column("refund_due", str)


def _m21_sms_consent(db: Database) -> None:
    # the applicant agreed at the window to be told of each step by SMS (the hub sends them: central/sms.py)
    db.table("applications").add_column("sms_consent", int, not_null_default=0)


def _m23_appointments(db: Database) -> None:
    # 预约: the point's own bookings and the portal's (appointment.booked), and what became of each (edge_node/appointments.py)
    db.table("appointments").create(
        {
            "id": str,
            "window": str,
            "day": str,
            "time": str,
            "item_code": str,
            "name": str,
            "phone": str,
            "source": str,
            "status": str,
            "application_id": str,
            "created_at": str,
            "agent": str,
        },
        pk="id",
        not_null={"window", "day", "time", "name", "source", "status", "created_at"},
        defaults={"item_code": "", "phone": ""},
    )
    db.table("appointments").create_index(["day", "time"])


def _m24_window_services(db: Database) -> None:
    # 咨询导办 at the window (consultation.recorded; edge_node/consultations.py) and 上门办理 (application.received's home_visit)
    db.table("window_consultations").create(
        {"id": str, "item_code": str, "question": str, "answer": str, "case_followed": int, "at": str, "agent": str},
        pk="id",
        not_null={"question", "at"},
        defaults={"item_code": "", "answer": "", "case_followed": 0},
    )
    db.table("window_consultations").create_index(["at"])
    db.table("applications").add_column("home_visit", str, not_null_default="")


def _m22_guidance(db: Database) -> None:
    # the county's 通知公告 and 常见问题, for the point's pages offline (guidance.changed; edge_node/guidance.py)
    db.table("guidance").create(
        {"kind": str, "id": int, "title": str, "body": str, "item_code": str, "at": str},
        pk=("kind", "id"),
        not_null={"kind", "id", "title", "body", "at"},
        defaults={"item_code": ""},
    )


def _m25_accounts(db: Database) -> None:
    # accounts are disabled (停用), not deleted; who changed which account, when (edge_node/accounts.py)
    db.table("users").add_column("disabled_at", str)
    db.table("account_log").create(
        {"id": int, "at": str, "actor": str, "action": str, "username": str, "detail": str}, pk="id", not_null={"at", "actor", "action", "username"}
    )


MIGRATIONS: list[Callable[[Database], None]] = [
    _m1_initial,
    _m2_resends,
    _m3_materials,
    _m4_notices,
    _m5_materials_checked,
    _m6_fees,
    _m7_handover,
    _m8_supplements,
    _m9_licences,
    _m10_acceptance,
    _m11_material_receipts,
    _m12_material_originals,
    _m13_requested_files,
    _m14_set_aside,
    _m15_forms,
    _m16_reviews,
    _m17_person_cache,
    _m18_commitment,
    _m19_clock_pauses,
    _m20_documents,
    _m21_sms_consent,
    _m22_guidance,
    _m23_appointments,
    _m24_window_services,
    _m25_accounts,
]


class Store:
    """The node's SQLite file.

    Reads (``query``) use a connection of their own per thread: in WAL mode they never wait behind
    a writer's commit. A read inside the same thread's ``write`` block goes through the writer, so
    it sees that transaction's own changes.

    Writes (``write``) go through one connection, one block at a time, with **group commit**: each
    block is a savepoint inside a shared transaction, and the block that finds no other writer
    waiting (or a group of GROUP_MAX, or one GROUP_WAIT_S old) commits the group with one fsync
    (synchronous=FULL). Every ``write`` still returns only after the commit that made it durable,
    and a block that raises is rolled back alone. Concurrent writers (20 intake clients in
    bench/intake.py) share fsyncs instead of queueing one fsync each.
    """

    GROUP_MAX = 64
    GROUP_WAIT_S = 0.02

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = self._connect()
        self.lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[tuple[sqlite3.Connection, threading.Lock]] = []
        self._closed = False
        self._group = threading.Condition()  # guards the fields below
        self._waiting = 0  # threads queued for the writer
        self._open: int | None = None  # the open group's number
        self._opened_at = 0.0
        self._members = 0
        self._committed = 0  # the last group number committed (or failed)
        self._failed: dict[int, BaseException] = {}
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            conn.execute(f"PRAGMA {pragma}")
        return conn

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
        """One transaction: durable (committed) when the block returns, rolled back if it raises."""
        if getattr(self._local, "writing", False):
            raise RuntimeError("Store.write() inside Store.write(): one transaction at a time")
        with self._group:
            self._waiting += 1
        with self.lock:
            with self._group:
                self._waiting -= 1
            if self._open is None:
                self.conn.execute("BEGIN IMMEDIATE")
                with self._group:
                    self._open, self._opened_at, self._members = self._committed + 1, time.monotonic(), 0
            group = self._open
            self.conn.execute("SAVEPOINT write")
            self._local.writing = True
            try:
                yield self.conn
            except BaseException:
                self._undo()
                raise
            else:
                self.conn.execute("RELEASE write")
                self._members += 1
            finally:
                self._local.writing = False
                if self._open is not None and (
                    self._waiting == 0 or self._members >= self.GROUP_MAX or time.monotonic() - self._opened_at >= self.GROUP_WAIT_S
                ):
                    self._commit()
        with self._group:  # another block may commit our group: wait for it, outside the writer
            self._group.wait_for(lambda: self._committed >= group)
            failure = self._failed.get(group)
        if failure is not None:  # the shared commit failed: this block is not durable either
            raise sqlite3.OperationalError(f"the transaction could not be committed: {failure}") from failure

    def _undo(self) -> None:
        """Roll back the failed block alone; if SQLite already ended the whole transaction (a
        disk error does), the group fails for all its members."""
        try:
            self.conn.execute("ROLLBACK TO write")
            self.conn.execute("RELEASE write")
        except sqlite3.Error as exc:
            self._end_group(exc)
        if not self.conn.in_transaction and self._open is not None:
            self._end_group(sqlite3.OperationalError("the transaction was rolled back by SQLite"))

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._end_group(exc)
        else:
            self._end_group(None)

    def _end_group(self, failure: BaseException | None) -> None:
        with self._group:
            if self._open is None:
                return
            if failure is not None:
                self._failed[self._open] = failure
            self._committed, self._open = self._open, None
            self._group.notify_all()

    def _reader(self) -> tuple[sqlite3.Connection, threading.Lock]:
        """This thread's read connection, with the lock close() takes before closing it."""
        reader = getattr(self._local, "reader", None)
        if reader is None:
            connection = self._connect()
            connection.execute("PRAGMA query_only=ON")
            reader = self._local.reader = (connection, threading.Lock())
            with self._group:  # not the writer's lock: a first read need not wait for a commit
                self._readers.append(reader)
        return reader

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        if getattr(self._local, "writing", False):
            return self.conn.execute(sql, params).fetchall()
        reader, in_use = self._reader()
        with in_use:
            if self._closed:  # checked under the lock: close() may have closed this reader already
                raise sqlite3.ProgrammingError("the node's database is closed (the service is stopping)")
            return reader.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        """Close every connection, each once no thread is using it: a worker thread still reading
        as the app stops (a purge, a sync step) then gets a clean ProgrammingError, where closing
        under it crashed the process (a segfault in SQLite)."""
        self._closed = True  # first, so no reader takes its connection again while close() waits for it
        with self.lock:
            with self._group:
                readers, self._readers = self._readers, []
            for reader, in_use in readers:
                with in_use:
                    reader.close()
            self.conn.close()


def get_meta(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def read_meta(store: Store, key: str, default: str = "") -> str:
    """A meta value read outside any transaction."""
    row = store.one("SELECT value FROM meta WHERE key = ?", (key,))
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def next_counter(conn: sqlite3.Connection, name: str) -> int:
    """Gap-free per-node sequence (receipt numbers): incremented inside the caller's transaction."""
    conn.execute("INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
    return conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]


def add_outbox(conn: sqlite3.Connection, kind: str, data: dict[str, Any], at: str | None = None) -> str:
    """Queue an uplink event inside the caller's transaction; returns the event id. Refuses
    (InvalidInput, so the caller's whole transaction rolls back) a record larger than its kind's
    bound (sync_protocol.record_size): a committed event must always fit a batch."""
    try:
        size, limit = record_size(kind, data)
    except UnencodableValue as exc:
        raise ValueError(f"{kind} event cannot be sent: {exc}") from exc  # a bug, not input: money is integer fen
    if size > limit:
        raise InvalidInput(
            f"这次提交的内容太长（约 {size // 1024 + 1} KB，上限 {limit // 1024} KB），没有保存。请删减填写的文字（说明、备注、原因等）后再提交。"
        )
    event_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO outbox (id, kind, at, data_json) VALUES (?, ?, ?, ?)", (event_id, kind, at or utcnow(), json.dumps(data, ensure_ascii=False))
    )
    return event_id
