"""The database side of sync: seal outbox events into signed uplink batches; apply downlink
batches. sync.py moves the bytes; everything here is one SQLite transaction per step."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from sync_protocol import (
    APPLICATION_ACCEPTED,
    APPLICATION_NOT_ACCEPTED,
    APPOINTMENT_BOOKED,
    APPOINTMENT_CANCELLED,
    CATALOG_VERSION,
    CLOCK_RESUMED,
    CLOCK_SUSPENDED,
    COMPLAINT_ANSWERED,
    COMPRESSION,
    DECISION_MADE,
    DECISION_REVOKED,
    DELEGATION_GRANTED,
    DOCUMENT_ISSUED,
    EVALUATION_RECORDED,
    GENESIS_HEAD,
    GUIDANCE_CHANGED,
    MATERIAL_RECEIVED,
    MAX_BATCH_BYTES,
    MAX_RECORDS_PER_BATCH,
    NODE_HEARTBEAT,
    NODE_KEY_ACCEPTED,
    NODE_KEY_ROTATED,
    NODE_REVOKED,
    RESEND_REQUEST,
    RESULT_ISSUED,
    STAGE_ASSIGNED,
    SUPPLEMENT_REQUESTED,
    UNKNOWN_KIND,
    Accepted,
    ChainPos,
    Fork,
    IngestCursor,
    Record,
    Rejected,
    SyncError,
    TooLarge,
    UnencodableValue,
    Verdict,
    batch_message_id,
    open_delegation,
    open_licence,
    seal_next,
    seal_within,
    verify_key_to_text,
)

from . import appointments
from .cases import (
    apply_acceptance,
    apply_complaint_answer,
    apply_decision,
    apply_non_acceptance,
    apply_rating,
    apply_resumption,
    apply_revocation,
    apply_supplement_request,
    apply_suspension,
)
from .catalog import install_catalog_in
from .documents import apply_document
from .fees import BEIJING
from .guidance import apply_guidance
from .materials import apply_receipt, write_blob
from .reviews import apply_assignment, apply_delegation
from .store import Store, add_outbox, get_meta, read_meta, set_meta, utcnow

log = logging.getLogger("yiwang.node.link")


def seal_pending(
    store: Store,
    node_id: str,
    key: SigningKey,
    limit: int = MAX_RECORDS_PER_BATCH,
    next_key: SigningKey | None = None,
    max_batches: int | None = None,
    max_bytes: int = MAX_BATCH_BYTES,
    compress: bool = False,
) -> int:
    """Seal unbatched outbox events into as many batches as needed (at most ``max_batches``);
    return how many were made. Each batch's wire bytes fit ``max_bytes`` (the send the link can
    carry now, sync.py's LinkMeter) unless a single event is larger; ``compress`` once the hub
    said it inflates.
    During a key rotation (edge_node/rotation.py) a batch ends at the node.key_rotated event and
    is signed by ``key``; from the next batch on, ``next_key`` signs (the meta ``up_key`` says which)."""
    made = 0
    while max_batches is None or made < max_batches:
        with store.write() as conn:
            events = conn.execute("SELECT * FROM outbox WHERE batch_seq IS NULL AND set_aside IS NULL ORDER BY seq LIMIT ?", (limit,)).fetchall()
            if not events:
                return made
            if next_key is not None and get_meta(conn, "up_key") == verify_key_to_text(next_key.verify_key):
                key = next_key
            rotation = next((i for i, e in enumerate(events) if e["kind"] == NODE_KEY_ROTATED), None)
            if rotation is not None:
                events = events[: rotation + 1]
            pos = ChainPos(int(get_meta(conn, "up_seq", "0")), get_meta(conn, "up_head", GENESIS_HEAD))
            records = [Record(e["kind"], e["id"], e["at"], json.loads(e["data_json"])) for e in events]
            try:
                wire, new, count = seal_within(node_id, "up", pos, records, utcnow(), key, max_bytes, compress)
            except (TooLarge, UnencodableValue) as exc:
                # no batch can carry it (an event an older version let in): set it aside, so it
                # never blocks the events behind it; the status tells the county (set_aside)
                bad = events[_unsealable(node_id, pos, records, key, compress)]
                conn.execute("UPDATE outbox SET set_aside = ? WHERE seq = ?", (f"{type(exc).__name__}: {exc}"[:500], bad["seq"]))
                log.error(
                    "outbox event %s (%s, seq %d) cannot be sent (%s): set aside, the events behind it go on", bad["id"], bad["kind"], bad["seq"], exc
                )
                continue
            if rotation is not None and count == len(events):  # this batch ends at the rotation: the new key signs the next
                set_meta(conn, "up_key", json.loads(events[-1]["data_json"])["public_key"])
            conn.execute("INSERT INTO uplink_batches (seq, hash, wire, created_at) VALUES (?, ?, ?, ?)", (new.seq, new.head, wire, utcnow()))
            conn.execute(
                "UPDATE outbox SET batch_seq = ? WHERE seq BETWEEN ? AND ? AND batch_seq IS NULL AND set_aside IS NULL",
                (new.seq, events[0]["seq"], events[count - 1]["seq"]),
            )
            set_meta(conn, "up_seq", str(new.seq))
            set_meta(conn, "up_head", new.head)
            made += 1
    return made


def _unsealable(node_id: str, pos: ChainPos, records: list[Record], key: SigningKey, compress: bool) -> int:
    """The index of the first record that no batch can carry on its own (0 if none alone fails)."""
    for i, record in enumerate(records):
        try:
            seal_next(node_id, "up", pos, [record], utcnow(), key, compress)
        except (TooLarge, UnencodableValue):
            return i
    return 0


def unpublished(store: Store) -> list[sqlite3.Row]:
    return store.query("SELECT seq, hash, wire, resends FROM uplink_batches WHERE published_at IS NULL ORDER BY seq")


def return_downlink(store: Store, blobs_dir: Path, hashes: list[str]) -> int:
    """A hub restored from an older backup asks for downlink batches it signed and lost (central/
    recovery.py): each goes up as a file named by its hash, on the resumable file channel, sent
    even in metered mode. Returns how many were queued."""
    queued = 0
    for sha in hashes:
        row = store.one("SELECT wire FROM downlink_batches WHERE hash = ?", (sha,))
        if row is None:
            continue
        write_blob(blobs_dir, bytes(row["wire"]))
        with store.write() as conn:
            conn.execute(
                "INSERT INTO blob_uploads (sha256, size, sent_bytes, requested) VALUES (?, ?, 0, 1) ON CONFLICT(sha256) DO NOTHING",
                (sha, len(row["wire"])),
            )
        queued += 1
    return queued


def message_id(batch: sqlite3.Row) -> str:
    return batch_message_id(batch["hash"], batch["resends"])


def mark_for_resend(conn: sqlite3.Connection, from_seq: int) -> int:
    """Answer a resend request from the outbox: publish the stored batches from ``from_seq`` again."""
    return conn.execute("UPDATE uplink_batches SET published_at = NULL, resends = resends + 1 WHERE seq >= ?", (from_seq,)).rowcount


def mark_published(store: Store, seq: int) -> None:
    with store.write() as conn:
        conn.execute("UPDATE uplink_batches SET published_at = ? WHERE seq = ? AND published_at IS NULL", (utcnow(), seq))


def apply_downlink(store: Store, node_id: str, hub_key: VerifyKey, raw: bytes) -> Verdict:
    """Verify against the pinned hub key, chain-check, apply and advance in one transaction."""
    with store.write() as conn:
        return apply_downlink_in(conn, node_id, hub_key, raw)


# Records that tell the live device to do something now, not state to keep: a restore replays the
# history of a point whose old device already did them. Replayed, a resend request made the new
# device publish thousands of old batches again, signed by retired keys (the chaos soak).
COMMANDS = {RESEND_REQUEST, NODE_KEY_ACCEPTED}


def apply_downlink_in(conn: sqlite3.Connection, node_id: str, hub_key: VerifyKey, raw: bytes, history: bool = False) -> Verdict:
    """The same, inside the caller's transaction (the restore applies a whole history in one,
    ``history``: its COMMANDS were for the old device and are skipped)."""
    pos = ChainPos(int(get_meta(conn, "down_seq", "0")), get_meta(conn, "down_head", GENESIS_HEAD))

    def hash_at(seq: int) -> str | None:
        row = conn.execute("SELECT hash FROM downlink_batches WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    verdict = IngestCursor(node_id, "down", hub_key, pos).receive(raw, hash_at)
    if isinstance(verdict, Accepted):
        conn.execute("SAVEPOINT apply_batch")
        try:
            for record in verdict.batch.records:
                if history and record.kind in COMMANDS:
                    continue
                handler = DOWNLINK.get(record.kind)
                if handler is None:
                    log.info("downlink record %s not handled yet; kept in the raw batch", record.kind)
                else:
                    handler(conn, record.data, hub_key)
        except (KeyError, TypeError, ValueError, sqlite3.Error, SyncError) as exc:
            # signed by the hub but breaks the contract: keep it, apply nothing, do not advance
            conn.execute("ROLLBACK TO apply_batch")
            verdict = Rejected("invalid_record", f"{type(exc).__name__}: {exc}")
        else:
            conn.execute(
                "INSERT INTO downlink_batches (seq, hash, wire, applied_at) VALUES (?, ?, ?, ?)", (verdict.batch.seq, verdict.hash, raw, utcnow())
            )
            set_meta(conn, "down_seq", str(verdict.batch.seq))
            set_meta(conn, "down_head", verdict.hash)
            set_meta(conn, "needs_upgrade", "")
        conn.execute("RELEASE apply_batch")
    if isinstance(verdict, Rejected) and verdict.reason == UNKNOWN_KIND:
        # a newer hub's record: hold the batch (the caller does not ack it) and say so, until this
        # node is upgraded; the cursor stays, so nothing after it is skipped
        set_meta(conn, "needs_upgrade", verdict.detail[:200])
        log.error("downlink batch needs a newer node: %s; it is held until this node is upgraded", verdict.detail)
        return verdict
    if isinstance(verdict, (Rejected, Fork)):
        reason = verdict.reason if isinstance(verdict, Rejected) else "fork"
        conn.execute("INSERT INTO quarantine (reason, detail, wire, received_at) VALUES (?, ?, ?, ?)", (reason, str(verdict), raw, utcnow()))
        log.warning("quarantined downlink batch: %s", reason)
    return verdict


DownlinkHandler = Callable[[sqlite3.Connection, dict[str, Any], VerifyKey], None]


def _result_issued(conn: sqlite3.Connection, data: dict[str, Any], hub_key: VerifyKey) -> None:
    open_licence(data["licence"], hub_key)  # signed by the pinned hub key, or the batch is refused
    conn.execute(
        "INSERT OR IGNORE INTO licences (licence_no, application_id, text, received_at) VALUES (?, ?, ?, ?)",
        (data["licence_no"], data["application_id"], data["licence"], utcnow()),
    )


def _catalog(conn: sqlite3.Connection, data: dict[str, Any], hub_key: VerifyKey) -> None:
    if install_catalog_in(conn, data):
        log.warning("catalog version %d installed from the hub", data["version"])


def _key_accepted(conn: sqlite3.Connection, data: dict[str, Any], hub_key: VerifyKey) -> None:
    set_meta(conn, "key_accepted", data["nats_public_key"])  # sync.py switches NATS identity
    log.warning("hub accepted the new node key from uplink seq %d; old NATS identity valid until %s", data["from_seq"], data["old_key_until"])


def _resend(conn: sqlite3.Connection, data: dict[str, Any], hub_key: VerifyKey) -> None:
    count = mark_for_resend(conn, data["from_seq"])
    log.warning("hub asked for a resend from uplink seq %d: %d batches queued again", data["from_seq"], count)


def _delegation(conn: sqlite3.Connection, data: dict[str, Any], hub_key: VerifyKey) -> None:
    apply_delegation(conn, data["certificate"], open_delegation(data["certificate"], hub_key))


def _revoked(conn: sqlite3.Connection, data: dict[str, Any], hub_key: VerifyKey) -> None:
    set_meta(conn, "revoked_at", data["at"])
    log.error("the county revoked this point at %s (%s): ask the county operator", data["at"], data["reason"])


def _data_only(apply: Callable[[sqlite3.Connection, Mapping[str, Any]], None]) -> DownlinkHandler:
    return lambda conn, data, hub_key: apply(conn, data)


# every downlink record kind and what applies it, inside the batch's transaction;
# tests/weblayer/test_state_machine.py checks that no kind is missing
DOWNLINK: dict[str, DownlinkHandler] = {
    DECISION_MADE: _data_only(apply_decision),
    RESULT_ISSUED: _result_issued,
    APPLICATION_ACCEPTED: _data_only(apply_acceptance),
    APPLICATION_NOT_ACCEPTED: _data_only(apply_non_acceptance),
    SUPPLEMENT_REQUESTED: _data_only(apply_supplement_request),
    STAGE_ASSIGNED: _data_only(apply_assignment),
    CATALOG_VERSION: _catalog,
    NODE_KEY_ACCEPTED: _key_accepted,
    MATERIAL_RECEIVED: _data_only(apply_receipt),
    RESEND_REQUEST: _resend,
    NODE_REVOKED: _revoked,
    DELEGATION_GRANTED: _delegation,
    DECISION_REVOKED: _data_only(apply_revocation),
    CLOCK_SUSPENDED: _data_only(apply_suspension),
    DOCUMENT_ISSUED: apply_document,
    COMPLAINT_ANSWERED: _data_only(apply_complaint_answer),
    EVALUATION_RECORDED: _data_only(apply_rating),
    GUIDANCE_CHANGED: _data_only(apply_guidance),
    APPOINTMENT_BOOKED: _data_only(appointments.apply_booked),
    APPOINTMENT_CANCELLED: _data_only(appointments.apply_cancelled),
    CLOCK_RESUMED: _data_only(apply_resumption),
}


BACKLOG_SQL = (
    "SELECT (SELECT COUNT(*) FROM outbox WHERE (batch_seq IS NULL AND set_aside IS NULL) OR batch_seq IN (SELECT seq FROM uplink_batches WHERE published_at IS NULL)) AS events, "
    "(SELECT COUNT(*) FROM uplink_batches WHERE published_at IS NULL) AS batches, "
    "(SELECT COUNT(*) FROM outbox WHERE set_aside IS NOT NULL) AS set_aside"
)


def backlog(store: Store) -> dict[str, int]:
    """What has not reached the hub yet: events not sealed plus events in unpublished batches."""
    row = store.one(BACKLOG_SQL)
    assert row is not None
    return {"events": row["events"], "batches": row["batches"], "set_aside": row["set_aside"]}


def records_waiting(store: Store) -> bool:
    """Whether any event has yet to reach the hub (files wait for records: records go first)."""
    return backlog(store)["events"] > 0


def files_waiting(store: Store) -> tuple[int, int]:
    """(files, bytes) not yet sent to the hub."""
    files = store.one("SELECT COUNT(*), COALESCE(SUM(size - sent_bytes), 0) FROM blob_uploads WHERE completed_at IS NULL")
    assert files is not None
    return files[0], files[1]


def status_fields(store: Store, app_version: str) -> dict[str, Any]:
    """What this node's status (the heartbeat, sync_protocol's seal_status) says of its data."""
    files, waiting = files_waiting(store), backlog(store)
    fields = {
        "up_seq": int(read_meta(store, "up_seq", "0")),
        "down_applied": int(read_meta(store, "down_seq", "0")),  # the county tells citizens a result reached this point (central/sms.py)
        "down_head": read_meta(store, "down_head", GENESIS_HEAD),  # where a hub restored from a backup continues this node's downlink
        "outbox_depth": waiting["events"],
        "app_version": app_version,
        "catalog_version": int(read_meta(store, "catalog_version", "0")),
        "files_waiting": files[0],
        "file_bytes_waiting": files[1],
    }
    upgrade = read_meta(store, "needs_upgrade")
    return fields | ({"set_aside": waiting["set_aside"]} if waiting["set_aside"] else {}) | ({"needs_upgrade": upgrade} if upgrade else {})


def note_hub_reply(store: Store, reply: dict[str, Any]) -> None:
    """Remember what the hub said it inflates, so batches sealed offline after a restart are
    compressed too (the hub never forgets how to inflate), and that it answers statuses."""
    inflates = "1" if COMPRESSION in (reply.get("compression") or []) else ""
    if read_meta(store, "hub_inflates") != inflates or read_meta(store, "hub_answers_status") != "1":
        with store.write() as conn:
            set_meta(conn, "hub_inflates", inflates)
            set_meta(conn, "hub_answers_status", "1")


def queue_legacy_heartbeat(store: Store, app_version: str) -> bool:
    """For a hub too old to answer statuses (this node was upgraded first): the heartbeat as the
    ``node.heartbeat`` chain record such a hub understands. Never once any hub has answered a
    status (then an unanswered one means the hub is down, not old). Returns whether it queued."""
    if read_meta(store, "hub_answers_status") == "1":
        return False
    with store.write() as conn:
        depth = conn.execute(BACKLOG_SQL).fetchone()["events"]
        add_outbox(
            conn,
            NODE_HEARTBEAT,
            {"app_version": app_version, "catalog_version": int(get_meta(conn, "catalog_version", "0")), "outbox_depth": depth, "clock": utcnow()},
        )
    return True


def forget_needs_upgrade(store: Store) -> int | None:
    """At start: forget the word of the software that ran before. If it held a downlink batch it
    was too old for, return the seq to ask the hub for again (the held message comes back only
    after its nak delay, UPGRADE_RETRY_S); else None."""
    if not read_meta(store, "needs_upgrade"):
        return None
    with store.write() as conn:
        set_meta(conn, "needs_upgrade", "")
    return int(read_meta(store, "down_seq", "0")) + 1


def hub_inflates(store: Store) -> bool:
    return read_meta(store, "hub_inflates") == "1"


@dataclass
class DailyBytes:
    """Bytes this node put on its link and took from it, per day in Beijing time (the county's
    day, for the hub's dashboard and a metered plan); counted at the application level, so NATS
    and TLS framing add a little. Kept in the node's database at every status (``save``), so a
    restart does not forget the day's traffic."""

    day: str = ""
    up: int = 0
    down: int = 0

    def count(self, up: int = 0, down: int = 0) -> None:
        today = datetime.now(BEIJING).date().isoformat()
        if today != self.day:
            self.day, self.up, self.down = today, 0, 0
        self.up += up
        self.down += down

    @classmethod
    def load(cls, store: Store) -> DailyBytes:
        day, _, counts = read_meta(store, "bytes_today").partition(" ")
        up, _, down = counts.partition(" ")
        usage = cls(day, int(up), int(down)) if up.isdigit() and down.isdigit() else cls()
        usage.count()  # a new day since: start from zero
        return usage

    def save(self, store: Store) -> None:
        with store.write() as conn:
            set_meta(conn, "bytes_today", f"{self.day} {self.up} {self.down}")
