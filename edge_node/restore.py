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
from pathlib import Path

from sync_protocol import (
    APPLICATION_PICKED_UP,
    APPLICATION_RECEIVED,
    GENESIS,
    MATERIALS_ATTACHED,
    Accepted,
    IngestCursor,
    Record,
    verify_key_from_text,
    verify_key_to_text,
)

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
            conn.execute("INSERT INTO uplink_batches (seq, hash, wire, created_at, published_at) VALUES (?, ?, ?, ?, ?)", (seq, verdict.hash, raw, verdict.batch.created, utcnow()))
            pos = verdict.new_pos
        set_meta(conn, "up_seq", str(pos.seq))
        set_meta(conn, "up_head", pos.head)
        numbers = [int(m.group(1)) for (r,) in conn.execute("SELECT receipt_no FROM applications") if (m := re.search(r"-(\d+)$", r))]
        conn.execute("INSERT INTO counters (name, value) VALUES ('receipt', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", (max(numbers, default=0),))
        for path in down_files:
            verdict = apply_downlink_in(conn, identity.node_id, identity.hub_key, path.read_bytes())
            if not isinstance(verdict, Accepted):
                raise RestoreFailed(f"downlink batch {path.stem} does not verify: {verdict}")
    folder.rename(data_dir / f"restore.applied-{utcnow()[:19].replace(':', '')}")
    summary = {"uplink_batches": len(up_files), "downlink_batches": len(down_files), "up_seq": pos.seq}
    log.warning("restored this point's history from the hub: %s", summary)
    return summary


def _restore_uplink_record(conn: sqlite3.Connection, record: Record, seq: int) -> None:
    data = record.data
    conn.execute("INSERT INTO outbox (id, kind, at, data_json, batch_seq) VALUES (?, ?, ?, ?, ?)", (record.id, record.kind, record.at, json.dumps(data, ensure_ascii=False), seq))
    if record.kind == APPLICATION_RECEIVED:
        item = conn.execute("SELECT name, department_name FROM catalog_items WHERE code = ?", (data["item_code"],)).fetchone()
        conn.execute(
            "INSERT INTO applications (id, receipt_no, item_code, item_name, department_name, applicant_name, applicant_id_number, applicant_phone, proxy_agent, agent_username, status, created_at, materials_checked) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?)",
            (data["application_id"], data["receipt_no"], data["item_code"], data.get("item_name") or (item["name"] if item else data["item_code"]),
             item["department_name"] if item else "", data["applicant_name"], data["applicant_id_number"], data.get("applicant_phone", ""),
             data.get("proxy_agent", ""), data["agent"], record.at, json.dumps(data.get("materials_checked", []), ensure_ascii=False)),
        )
    elif record.kind == MATERIALS_ATTACHED:
        conn.execute(
            "INSERT INTO materials (application_id, material, sha256, size, media_type, filename, agent_username, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
            (data["application_id"], data["material"], data["sha256"], data["size"], data["media_type"], data.get("filename", ""), record.at),
        )
        # the file died with the old disk: nothing is left to send. If it had not fully reached the
        # hub, the hub keeps showing it as not arrived and the agent must scan it again.
        conn.execute("INSERT INTO blob_uploads (sha256, size, sent_bytes, completed_at) VALUES (?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING", (data["sha256"], data["size"], data["size"], record.at))
    elif record.kind == APPLICATION_PICKED_UP:
        conn.execute("UPDATE applications SET status = 'picked_up', picked_up_at = ?, picked_up_by = ? WHERE id = ?", (record.at, data["collector_name"], data["application_id"]))
