"""Engine and transactions.

SQLite: WAL, synchronous=FULL (a committed batch survives power loss, not just a crash), and
``BEGIN IMMEDIATE`` for every transaction so two writers queue on the lock instead of failing
half-way with SQLITE_BUSY on upgrade. pysqlite's own transaction handling is switched off so that
SQLAlchemy's BEGIN is the one that runs (the recipe in SQLAlchemy's SQLite dialect docs).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Table, event, insert, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, create_engine
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from weblayer.display import seal_code

from . import models
from .clock import utcnow

T = TypeVar("T")


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql"):
        return _postgresql_engine(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgresql_engine(url: str) -> Engine:
    """PostgreSQL: psycopg prepares a statement run five times, and PostgreSQL then may keep a
    generic plan made while the tables were small — a sequential scan for the ingest's
    existence check that cost 15 ms a batch at 10,000 applications (bench/ingest.py). Plans are
    made for each execution's values instead (``plan_cache_mode``); the parse is still saved."""
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        with dbapi_conn.cursor() as cur:
            cur.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_conn.commit()

    return engine


def _add_column(conn: Connection, table: str, column: str) -> None:
    """``ALTER TABLE table ADD COLUMN column`` unless the column is there. create_all runs first
    and makes any table an old database lacks with today's columns, which a later migration
    then adds again: databases of versions 1–2 were refused with "duplicate column name"
    (tests/central/test_migrations.py)."""
    if column.split()[0] not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.execute(text(f"ALTER TABLE {conn.dialect.identifier_preparer.quote(table)} ADD COLUMN {column}"))


def _m2_node_keys(conn: Connection) -> None:
    _add_column(conn, "enrolmentcode", "replacement BOOLEAN NOT NULL DEFAULT FALSE")
    conn.execute(text("INSERT INTO nodekey (node_id, from_seq, public_key, enrolled_at) SELECT id, 1, public_key, enrolled_at FROM node"))


def _m3_materials_checked(conn: Connection) -> None:
    _add_column(conn, "application", "materials_checked VARCHAR NOT NULL DEFAULT '[]'")


def _m4_supplements(conn: Connection) -> None:
    _add_column(conn, "application", "supplement_json VARCHAR NOT NULL DEFAULT '[]'")


def _m5_decided_locally(conn: Connection) -> None:
    _add_column(conn, "application", "decided_locally BOOLEAN NOT NULL DEFAULT FALSE")


def _m6_hub_supervision(conn: Connection) -> None:
    """受理, parallel approval, heartbeats, department integration, follow-ups."""
    for table, column in (
        ("department", "integration VARCHAR NOT NULL DEFAULT ''"),
        ("node", "heartbeat_at VARCHAR"),
        ("node", "app_version VARCHAR NOT NULL DEFAULT ''"),
        ("node", "catalog_version INTEGER NOT NULL DEFAULT 0"),
        ("node", "outbox_depth INTEGER NOT NULL DEFAULT 0"),
        ("node", "clock_offset_s INTEGER"),
        ("application", "accepted_at VARCHAR"),
        ("application", "accepted_by VARCHAR"),
        ("application", "supplement_rounds INTEGER NOT NULL DEFAULT 0"),
        ("application", "outcome VARCHAR NOT NULL DEFAULT ''"),
        ("application", "licences_json VARCHAR NOT NULL DEFAULT '[]'"),
        ("application", "handover VARCHAR NOT NULL DEFAULT ''"),
        ("application", "handed_to_applicant BOOLEAN NOT NULL DEFAULT FALSE"),
        ("evaluation", "followed_up_at VARCHAR"),
        ("evaluation", "followed_up_by VARCHAR"),
        ("evaluation", "follow_up VARCHAR NOT NULL DEFAULT ''"),
        ("complaint", "answered_by VARCHAR"),
    ):
        _add_column(conn, table, column)
    # every existing case becomes one task of its department; a delivered case was approved if it has a licence
    conn.execute(
        text(
            "INSERT INTO approvaltask (application_id, department, status, decided_at, decided_by, reason) "
            "SELECT id, department, CASE WHEN status IN ('received', 'supplement_requested') THEN 'pending' "
            "WHEN status IN ('approved', 'denied') THEN status "
            "WHEN EXISTS (SELECT 1 FROM licence WHERE licence.application_id = application.id) THEN 'approved' ELSE 'denied' END, "
            "decided_at, decided_by, decision_reason FROM application"
        )
    )
    conn.execute(text("UPDATE application SET accepted_at = decided_at, accepted_by = decided_by WHERE decided_at IS NOT NULL"))
    conn.execute(
        text(
            "UPDATE application SET outcome = (SELECT status FROM approvaltask WHERE application_id = application.id LIMIT 1) WHERE decided_at IS NOT NULL"
        )
    )
    # the catalog nodes were given at enrolment becomes version 1, so the next publication is newer
    names: dict[str, str] = dict(conn.execute(text("SELECT code, name FROM department")).all())
    items = [
        json.loads(detail) | {"department_name": names.get(dept, dept)}
        for detail, dept in conn.execute(text("SELECT detail_json, department FROM catalogitem ORDER BY code")).all()
    ]
    if items:
        conn.execute(
            text(
                "INSERT INTO catalogversion (version, items_json, published_at, published_by, note) VALUES (1, :items, :at, 'system', '升级前的目录')"
            ),
            {"items": json.dumps(items, ensure_ascii=False), "at": utcnow()},
        )


def _m7_revoked_at(conn: Connection) -> None:
    """Revocation time (batches a revoked node signed later are quarantined); NATS credentials are
    a new table. Nodes enrolled before have none: they need a replacement code to reconnect."""
    _add_column(conn, "node", "revoked_at VARCHAR")


def _m8_material_receipts(conn: Connection) -> None:
    """Files that arrived before receipts existed: tell their nodes now, so they may purge them."""
    rows = conn.execute(text("SELECT sha256, node_id, size, complete_at FROM blob WHERE complete_at IS NOT NULL")).all()
    for sha, node_id, size, complete_at in rows:
        conn.execute(
            text("INSERT INTO downlinkevent (id, node_id, kind, data_json, created_at) VALUES (:id, :node, 'material.received', :data, :at)"),
            {
                "id": str(uuid.uuid4()),
                "node": node_id,
                "data": json.dumps({"sha256": sha, "size": size, "received_at": complete_at}),
                "at": complete_at,
            },
        )


def _m9_link_status(conn: Connection) -> None:
    """The latest link status of each node, kept in place (heartbeats left the audit chain)."""
    for column in (
        "heartbeat_interval_s INTEGER NOT NULL DEFAULT 0",
        "link_kbit_per_s INTEGER NOT NULL DEFAULT 0",
        "link_rtt_ms INTEGER NOT NULL DEFAULT 0",
        "bytes_up_today INTEGER NOT NULL DEFAULT 0",
        "bytes_down_today INTEGER NOT NULL DEFAULT 0",
        "files_waiting INTEGER NOT NULL DEFAULT 0",
        "file_bytes_waiting INTEGER NOT NULL DEFAULT 0",
        "compression VARCHAR NOT NULL DEFAULT ''",
        "metered BOOLEAN NOT NULL DEFAULT FALSE",
        "metered_hours VARCHAR NOT NULL DEFAULT ''",
    ):
        _add_column(conn, "node", column)


def _m10_integrity(conn: Connection) -> None:
    """From a node's status: how many events it set aside because no batch can carry them, and
    the downlink record kind it is too old for; a downlink batch's republications."""
    _add_column(conn, "node", "set_aside INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "node", "needs_upgrade VARCHAR NOT NULL DEFAULT ''")
    _add_column(conn, "downlinkbatch", "resends INTEGER NOT NULL DEFAULT 0")
    # each point assembles its own upload of a file (central/blobs.py): chunks are keyed by the
    # point too. Uploads under way start over (their points resend from what the hub says it
    # holds, 0); verified files are kept. The old shared part files are deleted at the hub's start.
    if "node_id" not in {c["name"] for c in inspect(conn).get_columns("blobchunk")}:
        conn.execute(text("DROP TABLE blobchunk"))
        models.BlobChunk.__table__.create(conn)  # type: ignore[attr-defined]
        conn.execute(text("DELETE FROM blob WHERE complete_at IS NULL"))


def _m11_forms(conn: Connection) -> None:
    """The item's application form as the point filled it in, and why it fails the form of the
    catalog version the point ran, if it does (the clerk sees both)."""
    _add_column(conn, "application", "form_json VARCHAR NOT NULL DEFAULT '{}'")
    _add_column(conn, "application", "intake_problem VARCHAR NOT NULL DEFAULT ''")
    _add_column(conn, "application", "form_version INTEGER NOT NULL DEFAULT 0")


def _m12_stages(conn: Connection) -> None:
    """Staged procedures: the stages a case runs (frozen when it arrives), the one it is in, and
    each department's task's stage. Cases already held keep one stage (stage 0, [] stages)."""
    _add_column(conn, "application", "stages_json VARCHAR NOT NULL DEFAULT '[]'")
    _add_column(conn, "application", "stage INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "approvaltask", "stage INTEGER NOT NULL DEFAULT 0")


def _m13_commitment(conn: Connection) -> None:
    """告知承诺制: a case decided on the applicant's commitment, and a result revoked when the
    commitment was found false (its post-checks are a new table, created as such)."""
    _add_column(conn, "application", "commitment BOOLEAN NOT NULL DEFAULT FALSE")
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_application_commitment ON application (commitment)"))
    _add_column(conn, "licence", "revoked_at VARCHAR")


def _m14_clocks(conn: Connection) -> None:
    """Time limits counted as the law counts them (central/clocks.py): the materials' arrival,
    the limits frozen at acceptance, deemed acceptance and the stage's start (suspensions are a
    new table). A case accepted before keeps the limits its item has now, frozen from here on."""
    _add_column(conn, "application", "materials_at VARCHAR")
    _add_column(conn, "application", "limit_days INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "application", "statutory_days INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "application", "deemed_accepted BOOLEAN NOT NULL DEFAULT FALSE")
    _add_column(conn, "application", "stage_started_at VARCHAR")
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_application_status ON application (status)"))
    items = conn.execute(text("SELECT code, time_limit_days, detail_json FROM catalogitem")).all()
    for code, limit_days, detail in items:
        statutory = json.loads(detail or "{}").get("statutory_days") or limit_days
        conn.execute(
            text("UPDATE application SET limit_days = :l, statutory_days = :s WHERE item_code = :c AND accepted_at IS NOT NULL"),
            {"l": limit_days, "s": statutory, "c": code},
        )


def _m15_complaints(conn: Connection) -> None:
    """Complaints and ratings as workflows (central/supervision.py): where a complaint arrived and
    whom it is routed to, its first answer and escalation; where a rating came from and by when a
    poor one must be followed up; a document's verification code. Complaints already held keep
    their filing time as arrival."""
    _add_column(conn, "complaint", "received_at VARCHAR")
    _add_column(conn, "complaint", "department VARCHAR")
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_complaint_department ON complaint (department)"))
    _add_column(conn, "complaint", "first_answer VARCHAR NOT NULL DEFAULT ''")
    _add_column(conn, "complaint", "first_answered_at VARCHAR")
    _add_column(conn, "complaint", "first_answered_by VARCHAR")
    _add_column(conn, "complaint", "escalations INTEGER NOT NULL DEFAULT 0")
    _add_column(conn, "complaint", "escalated_at VARCHAR")
    _add_column(conn, "evaluation", "source VARCHAR NOT NULL DEFAULT 'window'")
    _add_column(conn, "evaluation", "follow_up_due VARCHAR")
    # a document's printed verification code, to look it up
    _add_column(conn, "document", "code VARCHAR NOT NULL DEFAULT ''")
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_document_code ON document (code)"))
    for doc_id, signed in conn.execute(text("SELECT id, text FROM document")).all():
        conn.execute(text("UPDATE document SET code = :c WHERE id = :i"), {"c": seal_code(signed), "i": doc_id})


def _m16_sms(conn: Connection) -> None:
    """Citizens told of each step by SMS (central/sms.py; the messages are a new table): whether
    the applicant agreed at the window. Cases already held did not say, so they get none."""
    _add_column(conn, "application", "sms_consent BOOLEAN NOT NULL DEFAULT FALSE")


def _m17_home_visits(conn: Connection) -> None:
    """上门办理: where a case was taken in at the citizen's home (window consultations, appointments,
    the portal's entries and questions are new tables)."""
    _add_column(conn, "application", "home_visit VARCHAR NOT NULL DEFAULT ''")


def _m18_accounts(conn: Connection) -> None:
    """Accounts can be disabled (停用) instead of deleted, so the action log keeps their names."""
    _add_column(conn, "user", "disabled_at VARCHAR")


def _m20_case_updates(conn: Connection) -> None:
    """When each case last changed, for the BI feed (central/exports.py): the last step known;
    the name of who did each logged action, as it was; which returned downlink batch is a head."""
    _add_column(conn, "application", "updated_at VARCHAR NOT NULL DEFAULT ''")
    conn.execute(text("UPDATE application SET updated_at = COALESCE(delivered_at, decided_at, accepted_at, received_at) WHERE updated_at = ''"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_application_updated_at ON application (updated_at)"))
    _add_column(conn, "downlinkreturn", "head BOOLEAN NOT NULL DEFAULT FALSE")  # central/recovery.py: the batch to go on after
    _add_column(conn, "auditentry", "actor_name VARCHAR NOT NULL DEFAULT ''")  # the action log names people as they were named


def _m19_restore(conn: Connection) -> None:
    """`yiwang hub restore` holds each point's downlink until its status says where it stands."""
    _add_column(conn, "node", "down_resync BOOLEAN NOT NULL DEFAULT FALSE")


# Numbered migrations for databases made by an older version. A new database gets the current
# tables from create_all and starts at the latest version; version 1 is the first release's schema.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _m2_node_keys,
    _m3_materials_checked,
    _m4_supplements,
    _m5_decided_locally,
    _m6_hub_supervision,
    _m7_revoked_at,
    _m8_material_receipts,
    _m9_link_status,
    _m10_integrity,
    _m11_forms,
    _m12_stages,
    _m13_commitment,
    _m14_clocks,
    _m15_complaints,
    _m16_sms,
    _m17_home_visits,
    _m18_accounts,
    _m19_restore,
    _m20_case_updates,
]
LATEST = 1 + len(MIGRATIONS)


def schema_version(engine: Engine) -> int | None:
    """The database's schema version; None when it has no schema yet."""
    with engine.connect() as conn:
        if "schemaversion" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version FROM schemaversion WHERE id = 1")).scalar()


def create_schema(engine: Engine) -> None:
    """Create missing tables, then bring an older database up to date, in one transaction."""
    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        SQLModel.metadata.create_all(conn)
        row = conn.execute(text("SELECT version FROM schemaversion WHERE id = 1")).first()
        if row is None:
            version = 1 if "node" in existing else LATEST  # pre-migration database, or a new one
            conn.execute(text("INSERT INTO schemaversion (id, version) VALUES (1, :v)"), {"v": version})
        else:
            version = row[0]
        for number in range(version + 1, LATEST + 1):
            MIGRATIONS[number - 2](conn)
            conn.execute(text("UPDATE schemaversion SET version = :v WHERE id = 1"), {"v": number})


@cache
def _columns(table: Table) -> tuple[list[str], dict[str, object], Callable[[dict], tuple]]:
    columns = [c.name for c in table.columns]
    defaults = {c.name: c.default.arg if c.default is not None and c.default.is_scalar else None for c in table.columns}  # type: ignore[attr-defined]
    return columns, defaults, itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)


def full_rows(table: Table, rows: list[dict]) -> tuple[list[str], list[tuple]]:
    """``rows`` as tuples over every column of ``table``, scalar defaults filled in."""
    columns, defaults, values = _columns(table)
    return columns, [values(defaults | row) for row in rows]


_MARKERS = {"sqlite": "?", "postgresql": "%s"}  # the drivers' placeholders (sqlite3, psycopg)


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction, straight through the driver's executemany
    (psycopg pipelines it): SQLAlchemy's per-row parameter processing was a fifth of hub ingest
    time on SQLite and most of it on PostgreSQL (bench/ingest.py). Other databases get a Core
    ``insert``."""
    if not rows:
        return
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__ to type checkers
    connection = session.connection()
    marker = _MARKERS.get(connection.dialect.name)
    if marker is None:
        connection.execute(insert(table), rows)
        return
    columns, values = full_rows(table, rows)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})", values)


# PostgreSQL's answers to two transactions that crossed (deadlock_detected, serialization_failure):
# the loser was rolled back whole, so running it again is safe
_CONFLICTS = {"40P01", "40001"}


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in _CONFLICTS


def retry_conflicts(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` — one whole transaction — run again (up to 5 times, with a short jittered
    wait) when the database rolled it back because it crossed another one."""
    retrying = Retrying(
        retry=retry_if_exception(_is_conflict), wait=wait_random_exponential(multiplier=0.05, max=1), stop=stop_after_attempt(5), reraise=True
    )
    return retrying(fn, *args)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
