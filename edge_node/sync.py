"""The node's only contact with NATS: publish sealed uplink batches, pull the downlink.

Offline is the normal case: intake never waits for this worker. Batches are sealed and stored
first, then published with ``Nats-Msg-Id`` = batch hash and marked published only after
JetStream's PubAck; a retry re-sends the stored bytes, so JetStream (and, past its duplicate
window, the hub's cursor) drops the copy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from sync_protocol import CATALOG_VERSION, DOWNLINK_STREAM, MATERIAL_RECEIVED, downlink_consumer, SENT_AT_HEADER, Accepted, Gap, downlink_subject, format_time, nats_servers, uplink_subject

from . import blobs, link, rotation
from .settings import NodeIdentity
from .store import Store

log = logging.getLogger("yiwang.node.sync")
RETRYABLE = (OSError, asyncio.TimeoutError, nats.errors.Error)
RESTART_DELAY = 5
ACK_WAIT = 10.0
GAP_RETRY_DELAY = 2.0


class _Reconnect(Exception):
    """The NATS identity changed (key rotation): connect again with the new one."""


class NodeSync:
    def __init__(self, store: Store, identity: NodeIdentity, data_dir: Path, blobs_dir: Path, heartbeat_seconds: float = 60.0, app_version: str = "") -> None:
        self.store = store
        self.data_dir = data_dir  # the key files: they change during a rotation (rotation.py)
        self.heartbeat_seconds = heartbeat_seconds
        self.app_version = app_version
        self.identity = identity
        self.blobs_dir = blobs_dir
        self._wake = asyncio.Event()
        self._blob_wake = asyncio.Event()
        self.receipts = asyncio.Event()  # set when the hub confirmed material files (app.py purges)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_heartbeat = 0.0
        self.nc: nats.NATS | None = None
        self.offline_since: str | None = format_time(datetime.now(timezone.utc))
        self.credentials_refused = False  # NATS said "Authorization Violation": revoked or replaced

    @property
    def online(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def wake_uplink(self) -> None:
        """Thread-safe nudge after an intake commits, so it goes out at once when online."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)
            self._loop.call_soon_threadsafe(self._blob_wake.set)

    def _mark(self, online: bool) -> None:
        if online:
            self.offline_since = None
        elif self.offline_since is None:
            self.offline_since = format_time(datetime.now(timezone.utc))

    async def run(self) -> None:
        """Run until cancelled; an unexpected failure is logged and the worker starts over
        (nothing is lost: the outbox and unpublished batches are in SQLite, unacked downlink is
        redelivered)."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except _Reconnect:
                log.warning("NATS identity rotated; reconnecting with the new one")
                continue
            except Exception:
                self._mark(False)
                log.exception("node sync worker failed; restarting in %d s", RESTART_DELAY)
                await asyncio.sleep(RESTART_DELAY)

    async def _run_once(self) -> None:
        async def on_error(exc: Exception) -> None:
            if "authorization violation" in str(exc).lower():
                if not self.credentials_refused:
                    log.error("NATS refuses this node's credentials: revoked, or replaced by another device; ask the county operator")
                self.credentials_refused = True
                return
            log.warning("NATS: %s", exc or type(exc).__name__)

        async def on_disconnect() -> None:
            self._mark(False)
            log.warning("NATS disconnected; working offline")

        async def on_reconnect() -> None:
            self._mark(True)
            log.info("NATS reconnected")
            self._wake.set()

        async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5), retry=retry_if_exception_type(RETRYABLE)):
            with attempt:
                self.nc = await nats.connect(
                    nats_servers(self.identity.nats_url), name=f"yiwang-node-{self.identity.node_id}", max_reconnect_attempts=-1,
                    reconnect_time_wait=1, connect_timeout=2, error_cb=on_error, disconnected_cb=on_disconnect, reconnected_cb=on_reconnect,
                    **self.identity.nats_options(),
                )
        self._mark(True)
        self.credentials_refused = False
        log.info("connected to NATS at %s", self.identity.nats_url)
        try:
            js = self.nc.jetstream()
            await asyncio.gather(self._uplink_loop(js), self._downlink_loop(js), self._blob_loop(js))
        finally:
            await self.nc.close()

    async def _uplink_loop(self, js: nats.js.JetStreamContext) -> None:
        subject = uplink_subject(self.identity.node_id)
        self._next_heartbeat = 0.0  # one as soon as we are connected, then every heartbeat_seconds
        self._wake.set()  # just connected: send what waited offline now, not after the first poll interval
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if self.online and self.heartbeat_seconds > 0 and time.monotonic() >= self._next_heartbeat:
                await asyncio.to_thread(link.queue_heartbeat, self.store, self.app_version)
                self._next_heartbeat = time.monotonic() + self.heartbeat_seconds
            # one batch at a time, each published before the next is sealed: after a day offline
            # the hub applies the first batches while the later ones are still being sealed
            if await asyncio.to_thread(self._seal, 1):
                self._wake.set()  # there may be more: come straight back
            seed = await asyncio.to_thread(rotation.switch_nats, self.store, self.data_dir, self.credentials_refused)
            if seed:
                self.identity = dataclasses.replace(self.identity, nats_seed=seed)
                raise _Reconnect()
            for batch in await asyncio.to_thread(link.unpublished, self.store):
                try:
                    # the send time rides outside the signed batch: the hub compares it with the
                    # stream's receive time to measure this node's clock offset
                    headers = {"Nats-Msg-Id": link.message_id(batch), SENT_AT_HEADER: format_time(datetime.now(timezone.utc))}
                    await js.publish(subject, batch["wire"], headers=headers, timeout=5)
                except RETRYABLE as exc:
                    log.warning("uplink seq %d not sent (%s); will retry", batch["seq"], type(exc).__name__)
                    await asyncio.sleep(1)
                    break  # keep order: never publish seq n+1 before n is stored
                await asyncio.to_thread(link.mark_published, self.store, batch["seq"])
                log.info("uplink seq %d published", batch["seq"])

    def _seal(self, max_batches: int | None = None) -> int:
        keys = rotation.signing_keys(self.data_dir)
        made = link.seal_pending(self.store, self.identity.node_id, keys[0], next_key=keys[1] if len(keys) > 1 else None, max_batches=max_batches)
        if rotation.settle(self.store, self.data_dir):
            log.warning("node key rotated: later batches are signed by the new key")
        return made

    async def _blob_loop(self, js: nats.js.JetStreamContext) -> None:
        """Attachments in their own loop, so a 20 MB scan on a slow link never holds up batches."""
        while True:
            try:
                await asyncio.wait_for(self._blob_wake.wait(), timeout=2.0)
            except asyncio.TimeoutError:
                pass
            self._blob_wake.clear()
            try:
                await blobs.send_pending(js, self.store, self.identity.node_id, self.blobs_dir)
            except RETRYABLE as exc:
                log.warning("attachment upload paused (%s); it resumes from the last stored chunk", type(exc).__name__)
                await asyncio.sleep(1)

    async def _downlink_loop(self, js: nats.js.JetStreamContext) -> None:
        node_id = self.identity.node_id
        durable = downlink_consumer(node_id)
        # a short ack_wait: after a node crash, a batch delivered to the dead process returns this
        # soon. `name` with a filter makes nats-py use the create subject that names the filter,
        # the only one this node's NATS permissions allow
        config = ConsumerConfig(name=durable, durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT, filter_subject=downlink_subject(node_id))
        psub = None
        while True:
            try:
                if psub is None:
                    await js.add_consumer(DOWNLINK_STREAM, config=config)  # create, or update an older one
                    psub = await js.pull_subscribe_bind(durable, stream=DOWNLINK_STREAM)
                msgs = await psub.fetch(50, timeout=1.0)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue
            except (nats.js.errors.NotFoundError, *RETRYABLE) as exc:  # stream not created yet, or offline
                log.debug("downlink fetch failed: %s", exc)
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                verdict = await asyncio.to_thread(link.apply_downlink, self.store, node_id, self.identity.hub_key, msg.data)
                if isinstance(verdict, Gap):
                    await msg.nak(delay=GAP_RETRY_DELAY)
                    continue
                if isinstance(verdict, Accepted):
                    log.info("downlink seq %d applied (%d records)", verdict.batch.seq, len(verdict.batch.records))
                    if any(r.kind == CATALOG_VERSION for r in verdict.batch.records):
                        self._next_heartbeat = 0.0  # tell the dashboard the new version now
                    if any(r.kind == MATERIAL_RECEIVED for r in verdict.batch.records):
                        self.receipts.set()
                    self._wake.set()  # a resend request may have queued uplink batches again
                await msg.ack()
