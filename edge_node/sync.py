"""The node's only contact with NATS: publish sealed uplink batches, pull the downlink.

Offline is the normal case: intake never waits for this worker. Batches are sealed and stored
first, then published with ``Nats-Msg-Id`` = batch hash and marked published only after
JetStream's PubAck; a retry re-sends the stored bytes, so JetStream (and, past its duplicate
window, the hub's cursor) drops the copy.

Fit the link (sync_protocol's LinkMeter decides, this module measures): each batch and each
attachment chunk is sized to take about five seconds on the throughput measured, and waited for
as long as its bytes need. After a timeout — or at once when the connection drops under a send —
the node asks the hub (its status request, which queues behind the bytes on the same connection)
how far its uplink and its files have arrived, and sends again only what did not. Records go
first, then small files, then large ones.

The status request is also the heartbeat: it is not an audit record, and the hub keeps only its
latest value. NATS' own keep-alive (a PING every ``PING_INTERVAL``) notices a silent link within
about 30 s; the banner then says 连接中断.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from sync_protocol import (
    CATALOG_VERSION,
    COMPRESSION,
    DOCUMENT_ISSUED,
    DOWNLINK_ACK_WAIT_S,
    DOWNLINK_STREAM,
    HUB_REPLY_FIELDS,
    LOOKUP_REPLY_FIELDS,
    MATERIAL_RECEIVED,
    MAX_LOOKUP_BYTES,
    SENT_AT_HEADER,
    SEQ_HEADER,
    UNKNOWN_KIND,
    Accepted,
    Gap,
    LinkMeter,
    Rejected,
    SyncError,
    downlink_consumer,
    downlink_subject,
    format_time,
    lookup_subject,
    nats_servers,
    open_status,
    seal_status,
    status_subject,
    uplink_subject,
)

from . import blobs, link, materials, rotation
from .settings import NodeIdentity
from .store import Store, read_meta

log = logging.getLogger("yiwang.node.sync")
RETRYABLE = blobs.RETRYABLE
RESTART_DELAY = 5
GAP_RETRY_DELAY = 2.0
DOWN_RESEND_AFTER_S = 120.0  # a downlink behind the hub's, with no progress this long: ask for it again
UPGRADE_RETRY_S = 300.0  # a downlink batch newer than this software: look again this often (it applies once upgraded)
PING_INTERVAL = 7  # with 2 unanswered PINGs allowed, a silent link is noticed within ~28 s
MAX_OUTSTANDING_PINGS = 2
ASK_ATTEMPTS = 6  # after a timed-out send: ask the hub this often (5 s apart) before resending blind
FAST_LINK_BYTES = 256 * 1024  # a send budget this large: fetch downlink batches 50 at a time
LOOKUP_TIMEOUT_S = 5.0  # a county-wide lookup at the window: longer, and the agent uses the cache
DOWNLINK_POLL_S = 15.0  # how long one downlink fetch waits at the server for a batch


class _Reconnect(Exception):
    """The NATS identity changed (key rotation): connect again with the new one."""


def first_failure(exc: BaseException) -> BaseException:
    """The error that stopped a set of loops (a TaskGroup raises it in an ExceptionGroup)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def until_closed(nc: nats.NATS) -> None:
    """Raise once the connection is closed for good (not merely reconnecting): the loops on it
    would otherwise wait for it forever."""
    while not nc.is_closed:
        await asyncio.sleep(1)
    raise ConnectionError("NATS connection closed")


def still_wanted() -> None:
    """Raise CancelledError if this task was asked to stop. On Python 3.11 asyncio.wait_for can
    swallow a cancellation that arrives as what it waits for completes (nats-py's requests use
    it): the loop would run on after its set was cancelled, and the set would wait for it for
    ever (a suspect for a hung CI run). Every loop of the worker calls this once a turn."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; whether it was set. (asyncio.timeout,
    not wait_for: see still_wanted.)"""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


class NodeSync:
    def __init__(
        self,
        store: Store,
        identity: NodeIdentity,
        data_dir: Path,
        blobs_dir: Path,
        heartbeat_seconds: float = 60.0,
        app_version: str = "",
        restart_delay: float = RESTART_DELAY,
    ) -> None:
        self.store = store
        self.restart_delay = restart_delay
        self.data_dir = data_dir  # the key files: they change during a rotation (rotation.py)
        self.heartbeat_seconds = heartbeat_seconds
        self.app_version = app_version
        self.identity = identity
        self.blobs_dir = blobs_dir
        self._wake = asyncio.Event()
        self._blob_wake = asyncio.Event()
        self._status_wake = asyncio.Event()
        self.lost = asyncio.Event()  # set while offline: a send waiting for its ack gives up at once (blobs.until_lost)
        self.lost.set()
        self.receipts = asyncio.Event()  # set when the hub confirmed material files (app.py purges)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.nc: nats.NATS | None = None
        self.offline_since: str | None = format_time(datetime.now(UTC))
        self.credentials_refused = False  # NATS said "Authorization Violation": revoked or replaced
        self.meter = LinkMeter()
        self.usage = link.DailyBytes.load(store)
        self.hub: dict = {}  # the hub's last status reply (what arrived, its link settings)
        self.uplink_busy = True  # records wait to go up: files hold back (blobs.py)
        self.statuses_answered = 0  # heartbeats the hub answered since start
        self._original_answers: dict[str, list[str]] = {}  # what to tell the hub of its 原图 requests
        self._down_lag: tuple[int, float] | None = None  # (own downlink seq, since when) while the hub has sealed more
        self._down_from: int | None = None  # ask the hub to publish the downlink again from here

    @property
    def online(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def link_status(self) -> dict:
        """For the banner and /api/status: the link as measured."""
        return {
            "kbit_per_s": self.meter.kbit_per_s() if self.meter.rate_measured else None,
            "rtt_ms": round(self.meter.rtt_s * 1000) if self.meter.rtt_measured else None,
            "bytes_up_today": self.usage.up,
            "bytes_down_today": self.usage.down,
            "metered": bool(self.hub.get("metered")),
            "metered_hours": self.hub.get("metered_hours") or "",
            "files_paused": bool(self.hub.get("files_paused")),
            "statuses_answered": self.statuses_answered,
            "hub_answered_at": self.hub.get("at"),
        }

    def wake_uplink(self) -> None:
        """Thread-safe nudge after an intake commits, so it goes out at once when online."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)
            self._loop.call_soon_threadsafe(self._blob_wake.set)

    def lookup(self, id_number: str) -> dict | None:
        """Thread-safe (a page handler): what the county holds of one person (一号申请, central/lookup.py),
        or None when offline, unanswered within LOOKUP_TIMEOUT_S, or refused — the caller then uses
        its cache (edge_node/people.py)."""
        loop = self._loop
        if loop is None or not self.online:
            return None
        future = asyncio.run_coroutine_threadsafe(self._lookup(id_number), loop)
        try:
            return future.result(LOOKUP_TIMEOUT_S + 1)
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            return None

    async def _lookup(self, id_number: str) -> dict | None:
        node_id = self.identity.node_id
        raw = seal_status(
            {"node": node_id, "at": format_time(datetime.now(UTC)), "id_number": id_number}, rotation.signing_keys(self.data_dir)[0], MAX_LOOKUP_BYTES
        )
        if self.nc is None:
            return None
        try:
            msg = await self.nc.request(lookup_subject(node_id), raw, timeout=LOOKUP_TIMEOUT_S)
            self.usage.count(up=len(raw), down=len(msg.data))
            reply = open_status(msg.data, self.identity.hub_key, LOOKUP_REPLY_FIELDS, node_id, MAX_LOOKUP_BYTES)
        except (TimeoutError, nats.errors.Error, OSError, SyncError) as exc:
            log.info("county lookup not answered: %s", type(exc).__name__)
            return None
        return reply if reply.get("id_number") == id_number else None

    def _mark(self, online: bool) -> None:
        if online:
            self.offline_since = None
            self.lost.clear()
            return
        self.lost.set()
        if self.offline_since is None:
            self.offline_since = format_time(datetime.now(UTC))

    async def run(self) -> None:
        """Run until cancelled; an unexpected failure is logged and the worker starts over
        (nothing is lost: the outbox and unpublished batches are in SQLite, unacked downlink is
        redelivered)."""
        self._loop = asyncio.get_running_loop()
        # a held batch (needs_upgrade) comes again if it is still in the stream, but only after
        # its nak delay: ask the hub for it at once instead (down_from, in the first status). And
        # the downlink resend must not stay switched off by the old software's word
        self._down_from = await asyncio.to_thread(link.forget_needs_upgrade, self.store)
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = first_failure(exc)
                if isinstance(failure, _Reconnect):
                    log.warning("NATS identity rotated; reconnecting with the new one")
                    continue
                self._mark(False)
                log.error("node sync worker failed; restarting in %g s", self.restart_delay, exc_info=failure)
                await asyncio.sleep(self.restart_delay)

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
            if self.nc is not None and self.nc.is_closed:  # closed on purpose (a stop, a new connection)
                log.info("NATS connection closed")
                return
            log.warning("NATS disconnected (连接中断); working offline")

        async def on_reconnect() -> None:
            self._mark(True)
            log.info("NATS reconnected")
            self._wake.set()
            self._status_wake.set()
            self._blob_wake.set()

        async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5), retry=retry_if_exception_type(RETRYABLE)):
            with attempt:
                if self.credentials_refused:  # mid-rotation, the other identity may be the admitted one
                    seed = await asyncio.to_thread(rotation.switch_nats, self.store, self.data_dir, True)
                    if seed:
                        self.identity = dataclasses.replace(self.identity, nats_seed=seed)
                nc = self.nc = await nats.connect(
                    nats_servers(self.identity.nats_url),
                    name=f"yiwang-node-{self.identity.node_id}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=10,
                    ping_interval=PING_INTERVAL,
                    max_outstanding_pings=MAX_OUTSTANDING_PINGS,
                    error_cb=on_error,
                    disconnected_cb=on_disconnect,
                    reconnected_cb=on_reconnect,
                    **self.identity.nats_options(),
                )
        self._mark(True)
        self.credentials_refused = False
        log.info("connected to NATS at %s", self.identity.nats_url)
        try:
            js = nc.jetstream()
            await self.exchange_status()  # first words on a link: measure it, learn what the hub holds
            # one set: the first loop to fail cancels the others, and run() starts a new set on a
            # new connection — no loop outlives its connection
            async with asyncio.TaskGroup() as loops:
                for name, loop in (
                    ("uplink", self._uplink_loop(js)),
                    ("downlink", self._downlink_loop(js)),
                    ("files", self._blob_loop(js)),
                    ("status", self._status_loop()),
                    ("connection", until_closed(nc)),
                ):
                    loops.create_task(loop, name=f"node-sync-{name}")
        finally:
            await nc.close()

    # -- status: the heartbeat, and the hub's word on what arrived -------------------------

    async def exchange_status(self, file: tuple[str, int] | None = None) -> dict | None:
        """Send this node's status and return the hub's verified reply (also kept in ``self.hub``),
        or None when no hub answered (offline, no responders, an older hub). ``file`` (sha256,
        size) asks how much of that file the hub holds."""
        if self.nc is None or not self.online:
            return None
        fields = await asyncio.to_thread(link.status_fields, self.store, self.app_version)
        await asyncio.to_thread(self.usage.save, self.store)
        fields |= {
            "node": self.identity.node_id,
            "at": format_time(datetime.now(UTC)),
            "compression": [COMPRESSION],
            "interval_s": int(self.heartbeat_seconds),
        }
        measured = self.link_status()
        fields |= {k: measured[k] for k in ("kbit_per_s", "rtt_ms", "bytes_up_today", "bytes_down_today") if measured[k] is not None}
        if file is not None:
            fields["file"] = {"sha256": file[0], "size": file[1]}
        if self._original_answers:
            fields["originals"] = self._original_answers
        if self._down_from:
            fields["down_from"] = self._down_from
        raw = seal_status(fields, rotation.signing_keys(self.data_dir)[0])
        started = time.monotonic()
        try:
            # queued behind any send still crossing the link (at most a window of file chunks): the
            # answer describes what arrived
            ahead = blobs.IN_FLIGHT_SENDS * self.meter.send_bytes()
            msg = await self.nc.request(
                status_subject(self.identity.node_id), raw, timeout=self.meter.timeout_for(ahead + 4 * len(raw)) + self.meter.rtt_s
            )
        except (TimeoutError, nats.errors.NoRespondersError, nats.errors.TimeoutError, nats.errors.Error, OSError) as exc:
            log.debug("status not answered: %s", type(exc).__name__)
            return None
        self.meter.round_trip(time.monotonic() - started)
        self.usage.count(up=len(raw), down=len(msg.data))
        try:
            reply = open_status(msg.data, self.identity.hub_key, HUB_REPLY_FIELDS, self.identity.node_id)
        except SyncError as exc:
            log.warning("status reply refused: %s", exc)
            return None
        self.hub = reply
        self.statuses_answered += 1
        self._watch_downlink(reply, fields.get("down_from"))
        await asyncio.to_thread(link.note_hub_reply, self.store, reply)
        lost = [s for s in reply.get("down_wanted") or [] if isinstance(s, str)][:10]
        queued: int = await asyncio.to_thread(link.return_downlink, self.store, self.blobs_dir, lost) if lost else 0
        if queued:
            self._blob_wake.set()  # the hub was restored from a backup and asks for downlink batches it lost
        wanted = [s for s in reply.get("originals_wanted") or [] if isinstance(s, str)][:10]
        if wanted:  # the county asks for photos as taken: queue them, and say so in the next status
            self._original_answers = await asyncio.to_thread(materials.queue_originals, self.store, self.blobs_dir, wanted)
            self._status_wake.set()
            self._wake.set()
        elif "originals" in fields:
            self._original_answers = {}  # the hub has taken note
        return reply

    def _watch_downlink(self, reply: dict, asked: int | None) -> None:
        """Ask the hub to publish the downlink again (the next status's ``down_from``) when it has
        sealed more than this node applied and nothing has moved for DOWN_RESEND_AFTER_S: the
        messages are gone from the stream (its age limit, or an older node acked and dropped
        one). Redelivery covers the ordinary cases first (ack_wait is 60 s)."""
        if asked:
            self._down_from = None  # the hub took note
        sealed, mine = reply.get("down_sealed"), int(read_meta(self.store, "down_seq", "0"))
        if not isinstance(sealed, int) or sealed <= mine or read_meta(self.store, "needs_upgrade"):
            self._down_lag = None
            return
        now = time.monotonic()
        if self._down_lag is None or self._down_lag[0] != mine:
            self._down_lag = (mine, now)
        elif now - self._down_lag[1] >= DOWN_RESEND_AFTER_S:
            log.warning(
                "downlink: the hub sealed up to seq %d, this node applied %d and nothing came for %d s; asking the hub to publish again",
                sealed,
                mine,
                DOWN_RESEND_AFTER_S,
            )
            self._down_from, self._down_lag = mine + 1, (mine, now)
            self._status_wake.set()

    async def _status_loop(self) -> None:
        """The heartbeat: every ``heartbeat_seconds`` (0: only when there is news to tell)."""
        while True:
            still_wanted()
            await wait_event(self._status_wake, self.heartbeat_seconds if self.heartbeat_seconds > 0 else None)
            self._status_wake.clear()
            if await self.exchange_status() is None and self.online and self.heartbeat_seconds > 0:
                if await asyncio.to_thread(link.queue_legacy_heartbeat, self.store, self.app_version):
                    self._wake.set()

    async def _ask_arrived(self, file: tuple[str, int] | None = None, patient: bool = False) -> dict | None:
        """After a send that timed out or lost its connection: the hub's reply once one comes,
        asked again as soon as the link is back, or None when no hub can say (ASK_ATTEMPTS
        unanswered tries, each at most 5 s apart) — then the caller resends the same bytes and
        JetStream's duplicate window (or the hub's cursor, or a file's offsets) drops a copy.
        ``patient``: time offline does not count (the file loop, which has nothing else to do; the
        uplink loop must get back to its key rotation)."""
        tries = 0
        while tries < ASK_ATTEMPTS:
            reply = await self.exchange_status(file)
            if reply is not None:
                return reply
            offline = not self.online
            tries += not (offline and patient)
            if offline:
                await self._until_online(None if patient else 5)
            else:
                await asyncio.sleep(1)
        return None

    async def _until_online(self, timeout: float | None = None) -> None:
        """Return once the link is up, or after ``timeout``. Polls ``online`` rather than awaiting
        an event the callbacks set: nats-py is reconnecting before it calls disconnected_cb, so
        such an event can still say "up" while offline, and waiting on it spun the event loop
        forever (tests/edge_node/test_sync_waits.py)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.online and (deadline is None or time.monotonic() < deadline):
            await asyncio.sleep(0.25)

    async def file_stored(self, sha256: str, size: int) -> int | None:
        """How many bytes of a file the hub's stream or store holds (blobs.py, after a timeout)."""
        reply = await self._ask_arrived((sha256, size), patient=True)
        held = (reply or {}).get("file") or {}
        return held.get("stored") if held.get("sha256") == sha256 and isinstance(held.get("stored"), int) else None

    # -- uplink ------------------------------------------------------------------------------

    async def _uplink_loop(self, js: nats.js.JetStreamContext) -> None:
        subject = uplink_subject(self.identity.node_id)
        self._wake.set()  # just connected: send what waited offline now, not after the first poll interval
        while True:
            still_wanted()
            await wait_event(self._wake, 1.0)
            self._wake.clear()
            # one batch at a time, each published before the next is sealed: after a day offline
            # the hub applies the first batches while the later ones are still being sealed
            if await asyncio.to_thread(self._seal, 1):
                self._wake.set()  # there may be more: come straight back
            seed = await asyncio.to_thread(rotation.switch_nats, self.store, self.data_dir, self.credentials_refused)
            if seed:
                self.identity = dataclasses.replace(self.identity, nats_seed=seed)
                raise _Reconnect()
            if not self.online:
                continue  # sealed and stored; published once the link is back (a try now would only queue a copy)
            for batch in await asyncio.to_thread(link.unpublished, self.store):
                self.uplink_busy = True
                if not await self._publish_batch(js, subject, batch):
                    await asyncio.sleep(1)
                    break  # keep order: never publish seq n+1 before n is stored
            busy = await asyncio.to_thread(link.records_waiting, self.store)
            if self.uplink_busy and not busy:
                self._blob_wake.set()  # records are through: files may go
            self.uplink_busy = busy

    async def _publish_batch(self, js: nats.js.JetStreamContext, subject: str, batch) -> bool:
        """Publish one stored batch within the time its size needs; True once the hub has it."""
        size = len(batch["wire"])
        # the send time rides outside the signed batch: the hub compares it with the stream's
        # receive time to measure this node's clock offset; the seq lets it say what it holds
        headers = {"Nats-Msg-Id": link.message_id(batch), SENT_AT_HEADER: format_time(datetime.now(UTC)), SEQ_HEADER: str(batch["seq"])}
        started = time.monotonic()
        try:
            behind = blobs.IN_FLIGHT_SENDS * self.meter.send_bytes()  # file chunks still crossing the link, at most
            await blobs.until_lost(js.publish(subject, batch["wire"], headers=headers, timeout=self.meter.timeout_for(behind + size)), self.lost)
        except RETRYABLE as exc:
            if not isinstance(exc, blobs.LinkLost):
                self.meter.timed_out()  # a cut says nothing about the link's speed
            log.warning("uplink seq %d (%d bytes) not acknowledged in time (%s); asking the hub what arrived", batch["seq"], size, type(exc).__name__)
            reply = await self._ask_arrived()
            if reply is None or max(reply.get("up_applied", 0), reply.get("up_stored") or 0) < batch["seq"]:
                log.warning("uplink seq %d did not arrive; it will be sent again", batch["seq"])
                return False
            self.meter.sent(size, time.monotonic() - started)  # it did arrive: that is how long it took
            log.info("uplink seq %d had arrived; not sent again", batch["seq"])
        else:
            self.meter.sent(size, time.monotonic() - started)
        self.usage.count(up=size)
        await asyncio.to_thread(link.mark_published, self.store, batch["seq"])
        log.info("uplink seq %d published (%d bytes; link ~%d kbit/s)", batch["seq"], size, self.meter.kbit_per_s())
        return True

    def _seal(self, max_batches: int | None = None) -> int:
        keys = rotation.signing_keys(self.data_dir)
        made = link.seal_pending(
            self.store,
            self.identity.node_id,
            keys[0],
            next_key=keys[1] if len(keys) > 1 else None,
            max_batches=max_batches,
            max_bytes=self.meter.send_bytes(),
            compress=link.hub_inflates(self.store),
        )
        if rotation.settle(self.store, self.data_dir):
            log.warning("node key rotated: later batches are signed by the new key")
        return made

    # -- files -------------------------------------------------------------------------------

    async def _blob_loop(self, js: nats.js.JetStreamContext) -> None:
        """Attachments in their own loop, after the records: a 20 MB scan on a slow link never
        holds up a batch, and small files go before large ones (blobs.py)."""
        while True:
            still_wanted()
            await wait_event(self._blob_wake, 2.0)
            self._blob_wake.clear()
            if not self.online or self.uplink_busy:
                continue
            # metered mode outside its hours (the operator's setting, from the status reply): only
            # the files the county asked for
            try:
                await blobs.send_pending(
                    js, self.store, self.identity.node_id, self.blobs_dir, self, requested_only=bool(self.hub.get("files_paused"))
                )
            except RETRYABLE as exc:
                log.warning("attachment upload paused (%s); it resumes from what the hub holds", type(exc).__name__)
                await asyncio.sleep(1)

    # -- downlink ----------------------------------------------------------------------------

    async def _downlink_loop(self, js: nats.js.JetStreamContext) -> None:
        node_id = self.identity.node_id
        durable = downlink_consumer(node_id)
        # `name` with a filter makes nats-py use the create subject that names the filter, the
        # only one this node's NATS permissions allow; the hub answers it (consumer_request_subject)
        config = ConsumerConfig(
            name=durable, durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=DOWNLINK_ACK_WAIT_S, filter_subject=downlink_subject(node_id)
        )
        psub = None
        draining = False  # the last fetch brought batches: there may be more at once
        while True:
            still_wanted()
            try:
                if psub is None:
                    try:  # the hub makes it with its own settings (it made it at enrolment too)
                        await js.add_consumer(DOWNLINK_STREAM, config=config)
                    except RETRYABLE as exc:  # the hub is down (no responders, a timeout): the consumer is there already
                        log.debug("downlink consumer not confirmed (%r); reading it anyway", exc)
                    psub = await js.pull_subscribe_bind(durable, stream=DOWNLINK_STREAM)
                # idle: one long poll (fetch of one: nats-py returns at its first message), so an
                # idle point asks four times a minute instead of every second (14 MB a day of polling,
                # measured); draining a backlog on a fast link: 50 at a time; on a slow link one
                # batch at a time, so none waits unacked behind the others
                if draining and self.meter.send_bytes() >= FAST_LINK_BYTES:
                    msgs = await psub.fetch(50, timeout=1.0)
                else:  # a cut ends the wait at once: the pull request died with the connection
                    msgs = await blobs.until_lost(psub.fetch(1, timeout=DOWNLINK_POLL_S), self.lost)
                draining = True
            except (TimeoutError, nats.errors.TimeoutError):
                draining = False
                continue
            except (nats.js.errors.NotFoundError, *RETRYABLE) as exc:  # stream not created yet, or offline
                log.debug("downlink fetch failed: %r", exc)
                await asyncio.sleep(1)
                await self._until_online()  # then poll again as soon as the link is back, not up to DOWNLINK_POLL_S later
                continue
            for msg in msgs:
                self.usage.count(down=len(msg.data))
                verdict = await asyncio.to_thread(link.apply_downlink, self.store, node_id, self.identity.hub_key, msg.data)
                if isinstance(verdict, Gap):
                    await msg.nak(delay=GAP_RETRY_DELAY)
                    continue
                if isinstance(verdict, Rejected) and verdict.reason == UNKNOWN_KIND:
                    # held, not acked: JetStream keeps it for the upgraded node. Nothing after it
                    # can apply before it, so fetch nothing for a while instead of re-downloading
                    # the later batches as gaps over a slow link
                    await msg.nak(delay=UPGRADE_RETRY_S)
                    self._status_wake.set()  # tell the county now
                    await asyncio.sleep(UPGRADE_RETRY_S)
                    continue
                if isinstance(verdict, Accepted):
                    log.info("downlink seq %d applied (%d records)", verdict.batch.seq, len(verdict.batch.records))
                    if any(r.kind in (CATALOG_VERSION, DOCUMENT_ISSUED) for r in verdict.batch.records):
                        self._status_wake.set()  # tell the dashboard the new version, the county that a result is here, now
                    if any(r.kind == MATERIAL_RECEIVED for r in verdict.batch.records):
                        self.receipts.set()
                    self._wake.set()  # a resend request may have queued uplink batches again
                await msg.ack()
