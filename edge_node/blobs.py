"""Send attachment bytes to the hub in chunks over JetStream, resumably.

Each chunk goes to ``yiwang.blob.<node>.<sha256>`` with its offset and the total size in headers
and ``Nats-Msg-Id: <sha256>:<offset>``. ``sent_bytes`` is advanced only after JetStream's PubAck,
so after a disconnect, a crash or a reboot the transfer continues from the last stored chunk.
The hub verifies the assembled bytes against the SHA-256 named in the signed record.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import nats.js

from sync_protocol import BLOB_OFFSET_HEADER, BLOB_SIZE_HEADER, blob_subject

from .materials import blob_path
from .store import Store, utcnow

log = logging.getLogger("yiwang.node.blobs")
CHUNK_BYTES = 256 * 1024


def pending_uploads(store: Store) -> list[sqlite3.Row]:
    return store.query("SELECT sha256, size, sent_bytes FROM blob_uploads WHERE completed_at IS NULL ORDER BY rowid")


def _advance(store: Store, sha256: str, sent: int, size: int) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE blob_uploads SET sent_bytes = MAX(sent_bytes, ?), completed_at = CASE WHEN ? >= size THEN ? ELSE completed_at END WHERE sha256 = ?",
            (sent, sent, utcnow(), sha256),
        )


async def send_blob(js: nats.js.JetStreamContext, store: Store, node_id: str, blobs_dir: Path, sha256: str, size: int, sent: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Publish the chunks from ``sent`` on; return how many chunks this call published."""
    chunks = 0
    with open(blob_path(blobs_dir, sha256), "rb") as f:
        offset = sent
        while offset < size:
            f.seek(offset)
            data = f.read(chunk_bytes)
            headers = {"Nats-Msg-Id": f"{sha256}:{offset}", BLOB_OFFSET_HEADER: str(offset), BLOB_SIZE_HEADER: str(size)}
            await js.publish(blob_subject(node_id, sha256), data, headers=headers, timeout=10)
            offset += len(data)
            chunks += 1
            await asyncio.to_thread(_advance, store, sha256, offset, size)
    log.info("attachment %s… sent (%d bytes, %d chunks this time)", sha256[:12], size, chunks)
    return chunks


async def send_pending(js: nats.js.JetStreamContext, store: Store, node_id: str, blobs_dir: Path, chunk_bytes: int = CHUNK_BYTES) -> int:
    total = 0
    for row in await asyncio.to_thread(pending_uploads, store):
        total += await send_blob(js, store, node_id, blobs_dir, row["sha256"], row["size"], row["sent_bytes"], chunk_bytes)
    return total
