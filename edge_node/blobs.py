"""Send attachment bytes to the hub in chunks over JetStream, resumably.

Each chunk goes to ``yiwang.blob.<node>.<sha256>`` with its offset and the file's size in
headers. ``sent_bytes`` is advanced only after JetStream's PubAck, so after a disconnect, a crash
or a reboot the transfer continues from the last stored chunk. The hub verifies the assembled
bytes against the SHA-256 named in the signed record.

All waiting files go as one stream of chunks, the file with least left first (one 20 MB scan does
not hold up a day's ID-card photos): each chunk at most one send's worth of the link
(``LinkMeter.send_bytes``, about five seconds), and chunks follow each other in a window of two
sends' worth without waiting for the one before — stop-and-wait would leave a 64 kbit/s link
idle for a round trip (600 ms at 300 ms one way) after every chunk. Each chunk is waited for as
long as the bytes ahead of it and its own need.

When a chunk is not acknowledged in time, or the connection drops under it (then at once, not
after its timeout: the bytes in flight are lost or unknown), the node asks the hub how much of
each file in flight its stream and store hold, and continues from there: bytes that arrived are
not sent again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import nats.errors
import nats.js

from sync_protocol import BLOB_OFFSET_HEADER, BLOB_SIZE_HEADER, MAX_SEND_BYTES, LinkMeter, blob_subject

from .link import DailyBytes
from .materials import blob_path
from .store import Store, utcnow

log = logging.getLogger("yiwang.node.blobs")
IN_FLIGHT_SENDS = 2  # sends' worth of bytes awaiting their PubAck at once
MAX_CHUNKS_IN_FLIGHT = 20  # publishes awaiting their PubAck at once (a window of small files)
T = TypeVar("T")


class LinkLost(ConnectionError):
    """The connection dropped while a send waited for its acknowledgement."""


RETRYABLE = (OSError, asyncio.TimeoutError, nats.errors.Error)  # LinkLost is an OSError


class Link(Protocol):
    """What a transfer needs of the sync worker: its link meter, its byte counter, an event set
    while the connection is down, and a way to ask the hub how much of a file it holds (None: no
    hub answered)."""

    meter: LinkMeter
    usage: DailyBytes
    uplink_busy: bool
    lost: asyncio.Event

    async def file_stored(self, sha256: str, size: int) -> int | None: ...


async def until_lost(send: Awaitable[T], lost: asyncio.Event) -> T:
    """Await ``send``, or raise LinkLost as soon as ``lost`` is set (at once if it is)."""
    task = asyncio.ensure_future(send)
    watch = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():  # the link lost, or this worker stopping: the send goes too
            task.cancel()
            task.add_done_callback(_settled)
    if not task.done():
        raise LinkLost("NATS connection lost")
    return task.result()


def _settled(task: asyncio.Future[Any]) -> None:
    """A send given up ends as it ends (nats-py turns a cancelled fetch into ConnectionClosedError
    once the connection closes): taken here, not logged as an error nobody retrieved."""
    if not task.cancelled():
        task.exception()


def pending_uploads(store: Store, requested_only: bool = False) -> list[sqlite3.Row]:
    """Files still to send, least left first (only those the county asked for, when metered)."""
    where = " AND requested = 1" if requested_only else ""
    return store.query(f"SELECT sha256, size, sent_bytes FROM blob_uploads WHERE completed_at IS NULL{where} ORDER BY size - sent_bytes, rowid")


def _advance(store: Store, sha256: str, sent: int, size: int) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE blob_uploads SET sent_bytes = MAX(sent_bytes, ?), completed_at = CASE WHEN ? >= size THEN ? ELSE completed_at END WHERE sha256 = ?",
            (min(sent, size), sent, utcnow(), sha256),
        )


class _Resume(Exception):
    """A send failed and the hub said how much of every file in flight arrived: read the
    waiting files again and go on from there."""


@dataclass
class _Chunk:
    sha256: str
    size: int
    end: int  # the file's offset after this chunk
    length: int
    started: float
    ack: asyncio.Future[Any]
    acked_at: float | None = None  # when the PubAck arrived (not when settle got to it)


class _Window:
    def __init__(self, js: nats.js.JetStreamContext, store: Store, node_id: str, link: Link) -> None:
        self.js, self.store, self.node_id, self.link = js, store, node_id, link
        self.flight: deque[_Chunk] = deque()
        self.last_ack: float | None = None
        self.sends = 0  # chunks acknowledged
        self.files = 0  # files completed

    def abandon(self) -> list[_Chunk]:
        chunks = list(self.flight)
        self.flight.clear()
        for p in chunks:
            p.ack.cancel()  # stops the wait, not the bytes: those already handed to NATS still go
        return chunks

    def in_flight(self) -> int:
        return sum(p.length for p in self.flight)

    def has_room(self, nbytes: int) -> bool:
        return not self.flight or (
            self.in_flight() + nbytes <= IN_FLIGHT_SENDS * self.link.meter.send_bytes() and len(self.flight) < MAX_CHUNKS_IN_FLIGHT
        )

    def publish(self, sha256: str, size: int, offset: int, data: bytes) -> None:
        # no Nats-Msg-Id: JetStream de-duplicates by it across the whole stream, and any point
        # may set any id — another point that knows a shared form's SHA-256 could make this
        # point's chunk vanish as a "duplicate". The hub drops a repeated chunk by its offset;
        # and a chunk goes again only when the hub said it did not arrive (or could not say)
        headers = {BLOB_OFFSET_HEADER: str(offset), BLOB_SIZE_HEADER: str(size)}
        timeout = self.link.meter.timeout_for(self.in_flight() + len(data))  # behind the chunks ahead of it
        ack = asyncio.ensure_future(self.js.publish(blob_subject(self.node_id, sha256), data, headers=headers, timeout=timeout))
        chunk = _Chunk(sha256, size, offset + len(data), len(data), time.monotonic(), ack)
        ack.add_done_callback(lambda _: setattr(chunk, "acked_at", time.monotonic()))
        self.flight.append(chunk)

    async def settle(self) -> None:
        """Wait for the oldest chunk's PubAck and record it. On a timeout or a lost connection:
        ask the hub what arrived of every file in flight, record that, and raise _Resume (or the
        error itself when no hub could say)."""
        chunk = self.flight[0]
        try:
            await until_lost(chunk.ack, self.link.lost)
        except RETRYABLE as exc:
            await self._recover(exc)
        self.flight.popleft()
        now = chunk.acked_at or time.monotonic()
        if self.last_ack is not None and chunk.started < self.last_ack:
            self.link.meter.followed(chunk.length, now - self.last_ack)  # it queued behind the one before
        else:
            self.link.meter.sent(chunk.length, now - chunk.started)
        self.last_ack = now
        self.link.usage.count(up=chunk.length)
        self.sends += 1
        self.files += chunk.end >= chunk.size
        await asyncio.to_thread(_advance, self.store, chunk.sha256, chunk.end, chunk.size)

    async def drain(self) -> None:
        while self.flight:
            await self.settle()

    async def _recover(self, exc: BaseException) -> None:
        chunks = self.abandon()
        if not isinstance(exc, LinkLost):
            self.link.meter.timed_out()  # a cut says nothing about the link's speed; a timeout does
        log.warning(
            "%d attachment chunk(s) (%d bytes) not acknowledged (%s); asking the hub what arrived",
            len(chunks),
            sum(p.length for p in chunks),
            type(exc).__name__,
        )
        for sha256, size in dict.fromkeys((p.sha256, p.size) for p in chunks):
            held = await self.link.file_stored(sha256, size)
            if held is None:
                raise exc  # no hub can say: the rest goes again from what PubAcks confirmed
            log.info("attachment %s…: the hub holds %d of %d bytes", sha256[:12], held, size)
            self.files += held >= size
            await asyncio.to_thread(_advance, self.store, sha256, held, size)
        raise _Resume()


async def send_pending(
    js: nats.js.JetStreamContext, store: Store, node_id: str, blobs_dir: Path, link: Link, requested_only: bool = False, max_chunk: int | None = None
) -> int:
    """Send waiting files (only those the county asked for, when ``requested_only``) while no
    records wait to go up; chunks at most ``max_chunk`` bytes, if given. Returns how many chunks
    were acknowledged."""
    window = _Window(js, store, node_id, link)
    try:
        return await _send(window, store, blobs_dir, link, requested_only, max_chunk)
    finally:
        window.abandon()  # on an error no hub could explain, or cancellation


async def _send(window: _Window, store: Store, blobs_dir: Path, link: Link, requested_only: bool, max_chunk: int | None) -> int:
    published = 0
    while not link.uplink_busy:
        rows = await asyncio.to_thread(pending_uploads, store, requested_only)
        if not rows:
            break
        try:
            for row in rows:
                with open(blob_path(blobs_dir, row["sha256"]), "rb") as f:  # noqa: ASYNC230 - a local file, a chunk at a time (at most MAX_SEND_BYTES)
                    offset = row["sent_bytes"]
                    while offset < row["size"] and not link.uplink_busy:  # records first: the files continue after them
                        f.seek(offset)
                        data = f.read(min(link.meter.send_bytes(), max_chunk or MAX_SEND_BYTES))
                        while not window.has_room(len(data)):
                            await window.settle()
                        window.publish(row["sha256"], row["size"], offset, data)
                        offset += len(data)
                        published += len(data)
                if link.uplink_busy:
                    break
            await window.drain()
        except _Resume:
            await asyncio.sleep(1)  # the hub answered, but a send that fails at once must not spin
            continue
        if link.uplink_busy:
            break
    if window.sends:
        log.info("%d attachment(s) sent whole; %d chunks acknowledged, %d bytes published", window.files, window.sends, published)
    return window.sends
