"""Rebuild a replacement device from its point's history, downloaded from the hub at enrolment.

Nothing downloaded is trusted: every uplink batch is verified with the node key in force at its
position (the hub's key history) and chained from genesis; every downlink batch with the pinned hub
key. The local tables are rebuilt from the records in ONE transaction, into an empty store only,
and the node then continues its chain at the next seq with this device's key — no fork.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sync_protocol import (
    APPLICATION_PICKED_UP,
    APPLICATION_RECEIVED,
    COMPLAINT_FILED,
    DAILY_CLOSED,
    EVALUATION_GIVEN,
    FEE_COLLECTED,
    FEE_REFUNDED,
    FEE_REMITTED,
    FEE_VOIDED,
    GENESIS,
    MATERIALS_ATTACHED,
    NOTICE_GIVEN,
    Accepted,
    IngestCursor,
    Record,
    verify_key_from_text,
    verify_key_to_text,
)

from .fees import business_date
from .link import apply_downlink_in
from .settings import NodeIdentity
from .store import Store, set_meta, utcnow

log = logging.getLogger("yiwang.node.restore")


class RestoreFailed(RuntimeError):
    """The downloaded history does not verify or does not fit this node; nothing was applied."""


def restore_if_present(store: Store, data_dir: Path, identity: NodeIdentity) -> dict[str, int] | None:
    folder = data_dir / "restore"
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest["node_id"] != identity.node_id:
        raise RestoreFailed(f"history is for {manifest['node_id']}, this node is {identity.node_id}")
    keys = [(k["from_seq"], verify_key_from_text(k["public_key"])) for k in manifest["keys"]]
    if not keys or verify_key_to_text(keys[-1][1]) != verify_key_to_text(identity.key.verify_key):
        raise RestoreFailed("the hub's key history does not end with this device's key")
    up_files = sorted((folder / "up").glob("*.bin"))
    down_files = sorted((folder / "down").glob("*.bin"))
    with store.write() as conn:
        if conn.execute("SELECT (SELECT COUNT(*) FROM applications) + (SELECT COUNT(*) FROM uplink_batches)").fetchone()[0]:
            raise RestoreFailed("this node already has data; a restore only fills an empty node")
        pos = GENESIS
        for path in up_files:
            raw = path.read_bytes()
            seq = pos.seq + 1
            key = next((k for from_seq, k in reversed(keys) if from_seq <= seq), None)
            verdict = IngestCursor(identity.node_id, "up", key, pos).receive(raw, lambda s: None)
            if not isinstance(verdict, Accepted):
                raise RestoreFailed(f"uplink batch {seq} does not verify: {verdict}")
            for record in verdict.batch.records:
                _restore_uplink_record(conn, record, seq)
            conn.execute(
                "INSERT INTO uplink_batches (seq, hash, wire, created_at, published_at) VALUES (?, ?, ?, ?, ?)",
                (seq, verdict.hash, raw, verdict.batch.created, utcnow()),
            )
            pos = verdict.new_pos
        set_meta(conn, "up_seq", str(pos.seq))
        set_meta(conn, "up_head", pos.head)
        _continue_counters(conn)
        for path in down_files:
            verdict = apply_downlink_in(conn, identity.node_id, identity.hub_key, path.read_bytes(), history=True)
            if not isinstance(verdict, Accepted):
                raise RestoreFailed(f"downlink batch {path.stem} does not verify: {verdict}")
    folder.rename(data_dir / f"restore.applied-{utcnow()[:19].replace(':', '')}")
    summary = {"uplink_batches": len(up_files), "downlink_batches": len(down_files), "up_seq": pos.seq}
    log.warning("restored this point's history from the hub: %s", summary)
    return summary


def _application(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    item = conn.execute("SELECT name, department_name FROM catalog_items WHERE code = ?", (data["item_code"],)).fetchone()
    conn.execute(
        "INSERT INTO applications (id, receipt_no, item_code, item_name, department_name, applicant_name, applicant_id_number, applicant_phone, proxy_agent, agent_username, status, created_at, materials_checked) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?)",
        (
            data["application_id"],
            data["receipt_no"],
            data["item_code"],
            data.get("item_name") or (item["name"] if item else data["item_code"]),
            item["department_name"] if item else "",
            data["applicant_name"],
            data["applicant_id_number"],
            data.get("applicant_phone", ""),
            data.get("proxy_agent", ""),
            data["agent"],
            record.at,
            json.dumps(data.get("materials_checked", []), ensure_ascii=False),
        ),
    )


def _material(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    conn.execute(
        "INSERT INTO materials (application_id, material, sha256, size, media_type, filename, agent_username, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
        (data["application_id"], data["material"], data["sha256"], data["size"], data["media_type"], data.get("filename", ""), record.at),
    )
    # the file died with the old disk: nothing is left to send. If it had not fully reached the
    # hub, the hub keeps showing it as not arrived and the agent must scan it again.
    conn.execute(
        "INSERT INTO blob_uploads (sha256, size, sent_bytes, completed_at) VALUES (?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
        (data["sha256"], data["size"], data["size"], record.at),
    )


def _picked_up(conn: sqlite3.Connection, record: Record) -> None:
    conn.execute(
        "UPDATE applications SET status = 'picked_up', picked_up_at = ?, picked_up_by = ? WHERE id = ?",
        (record.at, record.data["collector_name"], record.data["application_id"]),
    )


def _fee(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    app = conn.execute("SELECT item_code, applicant_name FROM applications WHERE id = ?", (data.get("application_id"),)).fetchone()
    conn.execute(
        "INSERT INTO fee_receipts (receipt_no, application_id, item_code, payer_name, amount_fen, method, reference, agent_username, collected_at, business_date, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'paid')",
        (
            data["fee_receipt_no"],
            data.get("application_id"),
            app["item_code"] if app else "",
            app["applicant_name"] if app else "",
            data["amount_fen"],
            data["method"],
            data.get("reference", ""),
            data["agent"],
            record.at,
            business_date(record.at),
        ),
    )


def _void(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    conn.execute(
        "UPDATE fee_receipts SET status = 'voided', void_reason = ?, void_approved_by = ?, voided_at = ? WHERE receipt_no = ?",
        (data["reason"], data["approved_by"], record.at, data["fee_receipt_no"]),
    )


def _refund(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    row = conn.execute("SELECT method FROM fee_receipts WHERE receipt_no = ?", (data["fee_receipt_no"],)).fetchone()
    conn.execute(
        "UPDATE fee_receipts SET refunded_fen = refunded_fen + ?, status = CASE WHEN refunded_fen + ? >= amount_fen THEN 'refunded' ELSE status END WHERE receipt_no = ?",
        (data["amount_fen"], data["amount_fen"], data["fee_receipt_no"]),
    )
    conn.execute(
        "INSERT INTO fee_refunds (receipt_no, amount_fen, method, reason, approved_by, agent_username, refunded_at, business_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            data["fee_receipt_no"],
            data["amount_fen"],
            row["method"] if row else "",
            data["reason"],
            data["approved_by"],
            data["agent"],
            record.at,
            business_date(record.at),
        ),
    )


def _close(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    conn.execute(
        "INSERT INTO daily_closes (close_id, agent_username, business_date, totals_json, cash_expected_fen, cash_counted_fen, discrepancy_fen, note, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            data["close_id"],
            data["agent"],
            data["business_date"],
            json.dumps(data["totals_fen"]),
            data["cash_expected_fen"],
            data["cash_counted_fen"],
            data["discrepancy_fen"],
            data.get("note", ""),
            record.at,
        ),
    )
    for table in ("fee_receipts", "fee_refunds"):  # what the close covered, as fees.close_day marked it
        conn.execute(
            f"UPDATE {table} SET close_id = ? WHERE agent_username = ? AND business_date = ? AND close_id IS NULL",
            (data["close_id"], data["agent"], data["business_date"]),
        )


def _remittance(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    conn.execute(
        "INSERT INTO remittances (remittance_id, amount_fen, close_ids_json, bank_reference, agent_username, remitted_at) VALUES (?, ?, ?, ?, ?, ?)",
        (data["remittance_id"], data["amount_fen"], json.dumps(data["close_ids"]), data["bank_reference"], data["agent"], record.at),
    )
    conn.executemany("UPDATE daily_closes SET remittance_id = ? WHERE close_id = ?", [(data["remittance_id"], c) for c in data["close_ids"]])


def _complaint(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    conn.execute(
        "INSERT INTO complaints (complaint_id, application_id, contact, text, agent_username, created_at) VALUES (?, ?, ?, ?, '', ?)",
        (data["complaint_id"], data.get("application_id"), data.get("contact", ""), data["text"], record.at),
    )


def _notice(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    conn.execute(
        "INSERT OR IGNORE INTO notices (notice_no, item_code, item_name, applicant_name, applicant_id_number, missing_json, agent_username, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            data["notice_no"],
            data["item_code"],
            data["item_name"],
            data["applicant_name"],
            data["applicant_id_number"],
            json.dumps(data["missing"], ensure_ascii=False),
            data["agent"],
            record.at,
        ),
    )


def _evaluation(conn: sqlite3.Connection, record: Record) -> None:
    data = record.data
    conn.execute(
        "INSERT INTO evaluations (application_id, level, comment, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(application_id) DO NOTHING",
        (data["application_id"], data["level"], data.get("comment", ""), record.at),
    )


# what each uplink record rebuilds on the replacement device (every one is also kept in the outbox
# as sent); a kind not listed only goes into the outbox
RESTORERS: dict[str, Callable[[sqlite3.Connection, Record], None]] = {
    APPLICATION_RECEIVED: _application,
    MATERIALS_ATTACHED: _material,
    APPLICATION_PICKED_UP: _picked_up,
    FEE_COLLECTED: _fee,
    FEE_VOIDED: _void,
    FEE_REFUNDED: _refund,
    DAILY_CLOSED: _close,
    FEE_REMITTED: _remittance,
    COMPLAINT_FILED: _complaint,
    EVALUATION_GIVEN: _evaluation,
    NOTICE_GIVEN: _notice,
}

# the number sequences the point continues (store.next_counter): counter -> (table, column, the
# number at the end of its ids). One-time notices (一次性告知) go up since issue 20, those before
# never did: the new device continues after the highest of the history and of a series of its own
# that carries the restore date, so no number the hub holds or a citizen was given repeats
COUNTERS = {
    "receipt": ("applications", "receipt_no", re.compile(r"-(\d+)$")),
    "fee": ("fee_receipts", "receipt_no", re.compile(r"-F(\d+)$")),
    "remittance": ("remittances", "remittance_id", re.compile(r"-R(\d+)$")),
    "complaint": ("complaints", "complaint_id", re.compile(r"-T(\d+)$")),
    "notice": ("notices", "notice_no", re.compile(r"-N(\d+)$")),
}


def _restore_uplink_record(conn: sqlite3.Connection, record: Record, seq: int) -> None:
    conn.execute(
        "INSERT INTO outbox (id, kind, at, data_json, batch_seq) VALUES (?, ?, ?, ?, ?)",
        (record.id, record.kind, record.at, json.dumps(record.data, ensure_ascii=False), seq),
    )
    restore = RESTORERS.get(record.kind)
    if restore is not None:
        restore(conn, record)


def _continue_counters(conn: sqlite3.Connection) -> None:
    for name, (table, column, number) in COUNTERS.items():
        numbers = [int(m.group(1)) for (value,) in conn.execute(f"SELECT {column} FROM {table}") if (m := number.search(value))]
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
            (name, max(numbers, default=0)),
        )
    # a new series of notice numbers, after the old device's: N<restore date YYMMDD><001…>
    series = int(utcnow()[2:10].replace("-", "")) * 1000
    conn.execute(
        "INSERT INTO counters (name, value) VALUES ('notice', ?) ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)", (series,)
    )
