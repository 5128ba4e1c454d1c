"""Send attachment bytes to the hub in chunks over JetStream, resumably.

Each chunk goes to ``yiwang.blob.<node>.<sha256>`` with its offset and the total size in headers. ``sent_bytes`` is advanced only after JetStream's PubAck,
so after a disconnect, a crash or a reboot the transfer continues from the last stored chunk.
The hub verifies the assembled bytes against the SHA-256 named in the signed record.

Chunks are sized for the link (about five seconds of it, ``LinkMeter.send_bytes``) and waited
for as long as their bytes need; after a timeout the node asks the hub how much of the file its
stream and store hold, and continues from there — bytes that arrived are not sent again. Small
files go before large ones, so one 20 MB scan does not hold up a day's ID-card photos.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Protocol

import nats.errors
import nats.js

from sync_protocol import BLOB_OFFSET_HEADER, BLOB_SIZE_HEADER, MAX_SEND_BYTES, LinkMeter, blob_subject

from .link import DailyBytes
from .materials import blob_path
from .store import Store, utcnow

log = logging.getLogger("yiwang.node.blobs")
RETRYABLE = (OSError, asyncio.TimeoutError, nats.errors.Error)
SMALL_FILES_AT_ONCE = 20


class Link(Protocol):
    """What a transfer needs of the sync worker: its link meter, its byte counter, and a way to
    ask the hub how much of a file it holds (None: no hub answered)."""

    meter: LinkMeter
    usage: DailyBytes
    uplink_busy: bool

    async def file_stored(self, sha256: str, size: int) -> int | None: ...


def pending_uploads(store: Store, requested_only: bool = False) -> list[sqlite3.Row]:
    """Files still to send, least left first (only those the county asked for, when metered)."""
    where = " AND requested = 1" if requested_only else ""
    return store.query(f"SELECT sha256, size, sent_bytes FROM blob_uploads WHERE completed_at IS NULL{where} ORDER BY size - sent_bytes, rowid")


def _advance(store: Store, sha256: str, sent: int, size: int) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE blob_uploads SET sent_bytes = MAX(sent_bytes, ?), completed_at = CASE WHEN ? >= size THEN ? ELSE completed_at END WHERE sha256 = ?",
            (sent, sent, utcnow(), sha256),
        )


async def send_blob(js: nats.js.JetStreamContext, store: Store, node_id: str, blobs_dir: Path, sha256: str, size: int, sent: int, link: Link, max_chunk: int | None = None) -> int:
    """Publish the chunks from ``sent`` on (each at most ``max_chunk`` bytes, if given); return
    how many chunks this call published. Stops early, leaving the rest for later, while records
    wait to go up (``link.uplink_busy``)."""
    chunks = 0
    with open(blob_path(blobs_dir, sha256), "rb") as f:
        offset = sent
        while offset < size:
            f.seek(offset)
            if link.uplink_busy and chunks:
                break  # records first: they take one send; the file continues after them
            data = f.read(min(link.meter.send_bytes(), max_chunk or MAX_SEND_BYTES))
            # no Nats-Msg-Id: JetStream de-duplicates by it across the whole stream, and any point
            # may set any id — another point that knows a shared form's SHA-256 could make this
            # point's chunk vanish as a "duplicate". The hub drops a repeated chunk by its offset;
            # and a chunk goes again only when the hub said it did not arrive (or could not say)
            headers = {BLOB_OFFSET_HEADER: str(offset), BLOB_SIZE_HEADER: str(size)}
            started = time.monotonic()
            try:
                await js.publish(blob_subject(node_id, sha256), data, headers=headers, timeout=link.meter.timeout_for(len(data)))
            except RETRYABLE as exc:
                link.meter.timed_out()
                held = await link.file_stored(sha256, size)
                log.warning("attachment %s… chunk at %d not acknowledged in time (%s); the hub holds %s bytes", sha256[:12], offset, type(exc).__name__, held)
                if held is None or held <= offset:
                    raise  # did not arrive (or no hub can say): the loop tries again from ``offset``
                link.meter.sent(held - offset, time.monotonic() - started)
                offset = min(held, size)
            else:
                link.meter.sent(len(data), time.monotonic() - started)
                offset += len(data)
            link.usage.count(up=len(data))
            chunks += 1
            await asyncio.to_thread(_advance, store, sha256, offset, size)
    if offset >= size:
        log.info("attachment %s… sent (%d bytes, %d chunks this time)", sha256[:12], size, chunks)
    return chunks


async def send_small(js: nats.js.JetStreamContext, store: Store, node_id: str, blobs_dir: Path, rows: list[sqlite3.Row], link: Link) -> int:
    """Several small files in one window: published together (their bytes at most one send's
    worth), acknowledged in order. One at a time, a 15 KB ID-card photo over a 300 ms link would
    spend a third of its time waiting for its PubAck. Returns how many were sent whole."""
    files = []
    for row in rows:
        with open(blob_path(blobs_dir, row["sha256"]), "rb") as f:
            f.seek(row["sent_bytes"])
            files.append((row, f.read()))
    total = sum(len(data) for _, data in files)
    budget = link.meter.timeout_for(total)
    started = time.monotonic()

    async def one(row: sqlite3.Row, data: bytes) -> None:
        headers = {BLOB_OFFSET_HEADER: str(row["sent_bytes"]), BLOB_SIZE_HEADER: str(row["size"])}  # no Nats-Msg-Id: see send_blob
        await js.publish(blob_subject(node_id, row["sha256"]), data, headers=headers, timeout=budget)

    outcomes = await asyncio.gather(*(one(row, data) for row, data in files), return_exceptions=True)
    failed = [(row, data) for (row, data), outcome in zip(files, outcomes) if isinstance(outcome, BaseException)]
    if not failed:
        link.meter.sent(total, time.monotonic() - started)
    else:
        link.meter.timed_out()
    done = 0
    for (row, data), outcome in zip(files, outcomes):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, RETRYABLE):
                raise outcome
            held = await link.file_stored(row["sha256"], row["size"])  # arrived all the same?
            if held is None or held < row["size"]:
                continue  # the next round sends it again from what was acknowledged
        link.usage.count(up=len(data))
        await asyncio.to_thread(_advance, store, row["sha256"], row["size"], row["size"])
        done += 1
    log.info("%d small attachments sent together (%d bytes), %d to try again", done, total, len(files) - done)
    return done


async def send_pending(js: nats.js.JetStreamContext, store: Store, node_id: str, blobs_dir: Path, link: Link, requested_only: bool = False) -> int:
    """Send waiting files, the one with least left to send first, while no records wait: small
    ones together in windows of one send's worth (send_small), large ones chunk by chunk.
    Returns how many sends it made."""
    total = 0
    rows = await asyncio.to_thread(pending_uploads, store, requested_only)
    while rows and not link.uplink_busy:
        window, room = [], link.meter.send_bytes()
        while rows and rows[0]["size"] - rows[0]["sent_bytes"] <= room and len(window) < SMALL_FILES_AT_ONCE:
            row = rows.pop(0)
            room -= row["size"] - row["sent_bytes"]
            window.append(row)
        if len(window) > 1:
            total += await send_small(js, store, node_id, blobs_dir, window, link)
            continue
        row = window[0] if window else rows.pop(0)
        total += await send_blob(js, store, node_id, blobs_dir, row["sha256"], row["size"], row["sent_bytes"], link)
    return total
