"""The hub's only contact with NATS: stream setup, the ingest pull consumer, the downlink publisher.

Database work runs in a thread (``asyncio.to_thread``) so the web server's event loop never waits
on SQLite; each message is acked only after its transaction committed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import nats.aio.msg
import nats.errors
import nats.js.errors
from nacl.signing import SigningKey
from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, RawStreamMsg, RetentionPolicy, StorageType, StreamConfig
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from sync_protocol import (
    ACCESS_BUCKET,
    ACCESS_KEY,
    BLOB_OFFSET_HEADER,
    BLOB_SIZE_HEADER,
    BLOB_STREAM,
    DEPARTMENT_STREAM,
    DOWNLINK_ACK_WAIT_S,
    DOWNLINK_STREAM,
    LOOKUP_REQUEST_FIELDS,
    MAX_LOOKUP_BYTES,
    NODE_KEY_ROTATED,
    SENT_AT_HEADER,
    SEQ_HEADER,
    UPLINK_STREAM,
    Accepted,
    Duplicate,
    Gap,
    SyncError,
    batch_message_id,
    blob_subject,
    consumer_request_subject,
    department_consumer,
    department_subject,
    downlink_consumer,
    downlink_subject,
    lookup_subject,
    nats_servers,
    parse_time,
    seal_status,
    sign_feed,
    status_subject,
    uplink_subject,
)

from . import (
    blobs,
    cards,
    clocks,
    commitments,
    consultations,
    delegation,
    departments,
    document_texts,
    downlink,
    ingest,
    linkstatus,
    lookup,
    natsauth,
    recovery,
)
from .clock import utcnow
from .ingest import ingest_batches
from .models import Node

log = logging.getLogger("yiwang.hub.sync")
INGEST_OUTCOMES = {Accepted: "applied", Duplicate: "duplicate", Gap: "held"}  # any other verdict: "rejected" (quarantined)

INGEST_DURABLE = "hub-ingest"
BLOB_DURABLE = "hub-blobs"
RESTART_DELAY = 5
ACK_WAIT = 10.0
ACCESS_CHECK_SECONDS = 10
RETRYABLE = (OSError, asyncio.TimeoutError, nats.errors.Error)
STATUS_GROUP = 500  # statuses kept in one transaction at most
STATUS_QUEUE = 20_000  # statuses waiting at most; past that they go unanswered (the points ask again)
STATUS_PER_NODE = 2  # one point's statuses waiting at most (its heartbeat and a question after a timeout)


def credentials(nats_dir: Path) -> dict[str, Any]:
    """nats.connect options for the hub's own identity: its nkey, and TLS trusting only the
    county CA. Empty when `yiwang hub init` set up no NATS (an unauthenticated test server)."""
    options: dict[str, Any] = {}
    if (nats_dir / "hub.nk").exists():
        options["nkeys_seed_str"] = (nats_dir / "hub.nk").read_text().strip()
    if (nats_dir / "ca.pem").exists():
        options["tls"] = ssl.create_default_context(cafile=str(nats_dir / "ca.pem"))
    return options


async def connect(url: str, name: str, **options: Any) -> nats.NATS:
    """Connect, retrying with backoff while NATS is unreachable (it may start after us)."""

    async def on_error(exc: Exception) -> None:
        log.warning("NATS: %s", exc or type(exc).__name__)

    client: list[nats.NATS] = []

    async def on_disconnect() -> None:
        if client and client[0].is_closed:  # closed on purpose (a stop): no reconnect follows, nothing to watch
            log.info("NATS connection closed")
            return
        log.warning("NATS disconnected; reconnecting")

    async def on_reconnect() -> None:
        log.info("NATS reconnected")

    async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5), retry=retry_if_exception_type(RETRYABLE)):
        with attempt:
            client.append(
                await nats.connect(
                    nats_servers(url),
                    name=name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=2,
                    error_cb=on_error,
                    disconnected_cb=on_disconnect,
                    reconnected_cb=on_reconnect,
                    **options,
                )
            )
            return client[0]
    raise AssertionError("unreachable")


def first_failure(exc: BaseException) -> BaseException:
    """The error that stopped a set of loops (a TaskGroup raises it in an ExceptionGroup)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def until_closed(nc: nats.NATS) -> None:
    """Raise once the connection is closed for good (not merely reconnecting): the loops on it
    would otherwise wait for it forever. (The node's worker has the same two helpers: the
    package rules keep asyncio out of sync_protocol, the one package both share.)"""
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


def stream_replicas(nats_url: str) -> int:
    """How many copies JetStream keeps of each stream: ``$YIWANG_NATS_REPLICAS``, else 3 when the
    hub is given a cluster of three or more servers (R3: any one may fail), else 1."""
    configured = int(os.environ.get("YIWANG_NATS_REPLICAS", "0"))
    return configured or (3 if len(nats_servers(nats_url)) >= 3 else 1)


# JetStream holds only what is not yet applied or acknowledged: a message leaves the uplink, file
# and downlink streams once their one consumer (the hub's; a node's own) acked it. MAX_AGE is the
# safety net for what nobody will ever ack (a revoked point's downlink). The department stream
# keeps limits retention: a department's consumer may not exist yet when its first case is sent.
MAX_AGE_S = 30 * 24 * 3600.0
STREAMS = (  # name, subjects, retention
    (UPLINK_STREAM, ["yiwang.up.>"], RetentionPolicy.INTEREST),
    (DOWNLINK_STREAM, ["yiwang.down.>"], RetentionPolicy.INTEREST),
    (BLOB_STREAM, ["yiwang.blob.>"], RetentionPolicy.INTEREST),
    (DEPARTMENT_STREAM, ["yiwang.dept.>"], RetentionPolicy.LIMITS),
)


async def ensure_streams(js: nats.js.JetStreamContext, replicas: int = 1) -> None:
    """Create the streams, or bring an existing one to ``replicas`` copies (a county hub that
    moves onto a cluster keeps its streams; JetStream copies them to the new members) and to the
    retention above (streams made by an older hub kept every message forever)."""
    for name, subjects, retention in STREAMS:
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=name,
                    subjects=subjects,
                    storage=StorageType.FILE,
                    duplicate_window=120.0,
                    num_replicas=replicas,
                    retention=retention,
                    max_age=MAX_AGE_S,
                )
            )
            log.info("created stream %s (%d %s)", name, replicas, "replica" if replicas == 1 else "replicas")
            continue
        config = info.config
        if (config.num_replicas or 1) != replicas or config.retention != retention or not config.max_age:
            config.num_replicas, config.retention, config.max_age = replicas, retention, MAX_AGE_S
            await js.update_stream(config)
            log.info("stream %s now kept in %d copies, %s retention", name, replicas, retention.value)


def department_consumer_config(department: str) -> ConsumerConfig:
    """A department system's consumer, as the hub makes it whatever the system asked for."""
    durable = department_consumer(department)
    return ConsumerConfig(name=durable, durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subject=department_subject(department))


CONSUMER_ANSWER_S = 5.0  # one owner's create requests reach JetStream at most this often (a flood gets the last answer)


def downlink_consumer_config(node_id: str) -> ConsumerConfig:
    """A node's downlink consumer, as the node itself creates it (edge_node/sync.py). The hub makes
    it at enrolment too: with interest retention a batch published before the node's first
    connection would otherwise be dropped for want of a consumer."""
    durable = downlink_consumer(node_id)
    return ConsumerConfig(
        name=durable, durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=DOWNLINK_ACK_WAIT_S, filter_subject=downlink_subject(node_id)
    )


async def publish_access(js: nats.js.JetStreamContext, text: str, replicas: int) -> None:
    """Put the access list in the access bucket (made on first use, kept in ``replicas`` copies)."""
    try:
        kv = await js.key_value(ACCESS_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        kv = await js.create_key_value(
            KeyValueConfig(
                bucket=ACCESS_BUCKET, history=1, replicas=replicas, description="the NATS access list, for cluster members (yiwang hub nats --member)"
            )
        )
    await kv.put(ACCESS_KEY, text.encode())
    log.info("access list published for the cluster's servers")


async def pull(js: nats.js.JetStreamContext, stream: str, durable: str, batch: int, max_ack_pending: int) -> AsyncIterator[list]:
    """Yield fetched batches of messages from a durable pull consumer, forever, riding out NATS
    restarts. ack_wait bounds recovery after a hub crash: a message delivered to the dead process
    comes back only after it (and a node's later batches wait as gaps until then)."""
    config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT, max_ack_pending=max_ack_pending)
    psub = None
    while True:
        still_wanted()
        try:
            if psub is None:
                # create or update: an existing durable keeps its old settings otherwise
                await js.add_consumer(stream, config=config)
                psub = await js.pull_subscribe_bind(durable, stream=stream)
            msgs = await psub.fetch(batch, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        except RETRYABLE as exc:  # NATS down or restarting: wait for nats-py to reconnect
            log.warning("fetch from %s failed (%s); retrying", stream, exc)
            await asyncio.sleep(1)
            continue
        yield msgs


def clock_offset(msg: nats.aio.msg.Msg) -> int | None:
    """The node's clock minus the NATS server's, in seconds, at the moment the batch was stored:
    its Yiwang-Sent-At header against the stream timestamp (both taken at publish, so a batch that
    waited in the outbox or in the stream still measures the clock, not the delay)."""
    sent = (msg.headers or {}).get(SENT_AT_HEADER)
    if not sent:
        return None
    try:
        return round((parse_time(sent) - msg.metadata.timestamp).total_seconds())
    except (ValueError, AttributeError):
        return None


async def _last_stored(js: nats.js.JetStreamContext, stream: str, subject: str) -> RawStreamMsg | None:
    """The last message the stream still holds on ``subject``, or None."""
    try:
        return await js.get_last_msg(stream, subject)
    except nats.js.errors.NotFoundError:
        return None


def _nodes_by_status(engine: Engine) -> tuple[list[str], list[str]]:
    """(enrolled, revoked) node ids."""
    with Session(engine) as session:
        rows = session.exec(select(Node.id, Node.status)).all()
    return [n for n, status in rows if status == "enrolled"], [n for n, status in rows if status != "enrolled"]


DELEGATION_INTERVAL_S = 30.0  # how soon a township's new key or a newly instant item gets its delegation
CLOCKS_INTERVAL_S = 300.0  # how often the hub looks at every open case's clocks (视为受理, cards: both by the day)


class HubSync:
    """Runs the ingest, downlink, file and access-list loops until cancelled — or, for an extra
    ingest worker (`yiwang hub worker`, ``key`` None), the ingest loop alone: it shares the
    durable consumer with the hub's own, so JetStream spreads the fetches over both."""

    def __init__(
        self, engine: Engine, key: SigningKey | None, nats_url: str, blobs_dir: Path, nats_dir: Path, restart_delay: float = RESTART_DELAY
    ) -> None:
        self.engine = engine
        self.restart_delay = restart_delay
        self.nats_dir = nats_dir
        self.blobs_dir = blobs_dir
        self.key = key
        self.nats_url = nats_url
        self.replicas = stream_replicas(nats_url)
        self._wake = asyncio.Event()
        self._access_wake = asyncio.Event()
        self._consumers: dict[str, str] = {}  # node id -> "made" | "deleted" (its downlink consumer)
        self._statuses_waiting: Counter[str] = Counter()  # per node, statuses queued and not yet kept
        self._loop: asyncio.AbstractEventLoop | None = None
        self.nc: nats.NATS | None = None
        self._lookups = lookup.PerPointRate()
        self._next_delegations = 0.0  # monotonic time of the next delegation.renew (central/delegation.py)
        self._next_clocks = 0.0  # monotonic time of the next look for pre-reviews run out (central/clocks.py)
        self.county, self.county_phone = "示范县", "12345"  # on the documents it signs (settings: YIWANG_COUNTY_NAME, _PHONE)
        self.counts: collections.Counter[str] = collections.Counter()  # since start: what /metrics counts (central/metrics.py, SYNC_COUNTS)

    def wake_downlink(self) -> None:
        """Thread-safe: called after a decision commits, so it goes out without waiting for the poll."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def run(self) -> None:
        """Run until cancelled; an unexpected failure is logged and the worker starts over
        (nothing is lost: unacked messages are redelivered, unpublished batches stay in the DB)."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("hub sync worker failed; restarting in %g s", self.restart_delay, exc_info=first_failure(exc))
                await asyncio.sleep(self.restart_delay)

    async def _run_once(self) -> None:
        self._consumers = {}
        self._consumer_answers: dict[str, tuple[float, bytes]] = {}
        self.nc = await connect(self.nats_url, "yiwang-hub" if self.key else "yiwang-hub-worker", **credentials(self.nats_dir))
        log.info("connected to NATS at %s", self.nc.connected_url.netloc if self.nc.connected_url else self.nats_url)
        try:
            js = self.nc.jetstream()
            async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5), retry=retry_if_exception_type(RETRYABLE)):
                with attempt:
                    await ensure_streams(js, self.replicas)
            if self.key is None:
                loops = [("ingest", self._ingest_loop(js))]
            else:
                statuses: asyncio.Queue[nats.aio.msg.Msg] = asyncio.Queue(maxsize=STATUS_QUEUE)
                waiting = self._statuses_waiting = Counter()

                async def on_status(msg: nats.aio.msg.Msg) -> None:
                    # fair to every point: at most STATUS_PER_NODE of one point's statuses wait at
                    # once, so a point that floods its subject delays only itself
                    node_id = msg.subject.rsplit(".", 1)[-1]
                    if waiting[node_id] >= STATUS_PER_NODE:
                        return  # unanswered: an honest point asks again (a status carries no data)
                    try:
                        statuses.put_nowait(msg)
                    except asyncio.QueueFull:
                        return
                    waiting[node_id] += 1

                await self.nc.subscribe(status_subject("*"), queue="hub", cb=on_status)
                await self.nc.subscribe(consumer_request_subject("*.*"), queue="hub", cb=self._answer_consumer_request)
                await self.nc.subscribe(lookup_subject("*"), queue="hub", cb=self._answer_lookup)
                loops = [
                    ("ingest", self._ingest_loop(js)),
                    ("downlink", self._downlink_loop(js)),
                    ("files", self._blob_loop(js)),
                    ("access", self._access_loop(js)),
                    ("status", self._status_loop(js, statuses)),
                ]
            # one set: the first loop to fail cancels the others, and run() starts a new set on a
            # new connection — no loop outlives its connection
            async with asyncio.TaskGroup() as group:
                for name, loop in [*loops, ("connection", until_closed(self.nc))]:
                    group.create_task(loop, name=f"hub-sync-{name}")
        finally:
            await self.nc.close()

    async def _answer_consumer_request(self, msg: nats.aio.msg.Msg) -> None:
        """A node or department system asks to create its consumer (sync_protocol.consumer_request_subject):
        create it with the hub's settings, never the request's, and pass JetStream's answer back.
        Only the owner's own account imports its subject, so the subject names the asker."""
        kind, owner = msg.subject.split(".")[-2:]
        config, stream = (
            (downlink_consumer_config(owner), DOWNLINK_STREAM) if kind == "node" else (department_consumer_config(owner), DEPARTMENT_STREAM)
        )
        now = time.monotonic()
        last = self._consumer_answers.get(msg.subject)
        if last is None or now - last[0] >= CONSUMER_ANSWER_S:
            request = json.dumps({"stream_name": stream, "config": config.as_dict()}).encode()
            assert self.nc is not None  # a subscription's callback: the connection is there
            try:
                answer = await self.nc.request(f"$JS.API.CONSUMER.CREATE.{stream}.{config.name}.{config.filter_subject}", request, timeout=5)
            except RETRYABLE as exc:
                log.warning("consumer %s not created for %s (%s)", config.name, owner, exc)
                return  # unanswered: the asker tries again
            last = self._consumer_answers[msg.subject] = (now, answer.data)
        if msg.reply:
            await msg.respond(last[1])

    async def _ingest_loop(self, js: nats.js.JetStreamContext) -> None:
        async for msgs in pull(js, UPLINK_STREAM, INGEST_DURABLE, batch=50, max_ack_pending=1000):
            # the whole fetch in one transaction (one fsync), acked only after it committed
            verdicts = await asyncio.to_thread(ingest_batches, self.engine, [(m.subject, m.data, clock_offset(m)) for m in msgs])
            rotated = False
            for msg, verdict in zip(msgs, verdicts, strict=False):
                self.counts[f"ingest.{INGEST_OUTCOMES.get(type(verdict), 'rejected')}"] += 1
                if isinstance(verdict, Accepted):
                    self.counts["ingest.records"] += len(verdict.batch.records)
                if isinstance(verdict, Gap):
                    # held in the database and a resend requested (same transaction): safe to ack
                    log.info("held %s seq %d (expected %d)", msg.subject, verdict.got, verdict.expected)
                    self.wake_downlink()
                elif isinstance(verdict, Accepted):
                    log.info("applied %s seq %d (%d records)", msg.subject, verdict.batch.seq, len(verdict.batch.records))
                    rotated = rotated or any(r.kind == NODE_KEY_ROTATED for r in verdict.batch.records)
                elif isinstance(verdict, Duplicate):
                    log.info("duplicate %s seq %d ignored", msg.subject, verdict.seq)
            if rotated and self.key is not None:  # (an extra worker leaves it to the hub's access loop, ≤ 10 s)
                await asyncio.to_thread(natsauth.apply, self.engine, self.nats_dir)  # let the new identity in
                self.wake_access()
                self.wake_downlink()
            for msg in msgs:
                await msg.ack()

    async def _status_loop(self, js: nats.js.JetStreamContext, statuses: asyncio.Queue) -> None:
        """Nodes' statuses (their heartbeats), kept and answered together: whatever arrived while
        the last group was written goes in one transaction (linkstatus.receive_statuses)."""
        while True:
            still_wanted()
            group = [await statuses.get()]
            while not statuses.empty() and len(group) < STATUS_GROUP:
                group.append(statuses.get_nowait())
            for msg in group:
                node_id = msg.subject.rsplit(".", 1)[-1]
                self._statuses_waiting[node_id] -= 1
                if self._statuses_waiting[node_id] <= 0:
                    del self._statuses_waiting[node_id]
            try:
                replies = await asyncio.to_thread(linkstatus.receive_statuses, self.engine, [(m.subject.rsplit(".", 1)[-1], m.data) for m in group])
            except Exception:
                log.exception("%d statuses not kept", len(group))
                continue
            if sum([reply.pop("_republished") for reply in replies if reply is not None]):
                self.wake_downlink()
            self.counts["statuses"] += len(group)
            for msg, reply in zip(group, replies, strict=False):
                if reply is not None and msg.reply:
                    await self._answer_status(js, msg, reply)

    async def _answer_status(self, js: nats.js.JetStreamContext, msg: nats.aio.msg.Msg, reply: dict) -> None:
        """Answer how far a node's uplink and its file have arrived — applied by the hub, or
        stored in the stream and not yet applied — signed by the hub key."""
        assert self.key is not None
        node_id = msg.subject.rsplit(".", 1)[-1]
        try:
            their_up_seq, all_published = reply.pop("_up_seq"), reply.pop("_all_published")
            if their_up_seq > reply["up_applied"]:  # something may be in the stream, not yet applied
                stored = await _last_stored(js, UPLINK_STREAM, uplink_subject(node_id))
                if stored is not None and stored.headers and SEQ_HEADER in stored.headers:
                    reply["up_stored"] = int(stored.headers[SEQ_HEADER])
                if all_published:  # none in flight: what the stream lacks is lost to this hub
                    await asyncio.to_thread(ingest.ask_for_lost, self.engine, node_id, their_up_seq, reply.get("up_stored"))
            file = reply.get("file")
            if file is not None:
                chunk = await _last_stored(js, BLOB_STREAM, blob_subject(node_id, file["sha256"]))
                if (
                    chunk is not None
                    and chunk.headers
                    and BLOB_OFFSET_HEADER in chunk.headers
                    and int(chunk.headers[BLOB_OFFSET_HEADER]) <= file["stored"]
                ):
                    # only when it follows what is applied without a hole: with chunks in a window,
                    # a later one can be in the stream while an earlier one was lost
                    file["stored"] = max(file["stored"], int(chunk.headers[BLOB_OFFSET_HEADER]) + len(chunk.data or b""))
            await msg.respond(seal_status(reply | {"at": utcnow()}, self.key))
        except (ValueError, *RETRYABLE) as exc:
            log.warning("status of %s not answered: %s", node_id, exc)

    async def _answer_lookup(self, msg: nats.aio.msg.Msg) -> None:
        """一号申请 across the county (central/lookup.py): a point's signed request about one person,
        answered signed with the hub key; a request that does not verify, or one over the point's
        rate, gets no answer (the point then uses what it has cached)."""
        assert self.key is not None
        node_id = msg.subject.rsplit(".", 1)[-1]
        if not msg.reply or not self._lookups.allow(node_id):
            return
        try:
            request = await asyncio.to_thread(linkstatus.open_from_node, self.engine, node_id, msg.data, LOOKUP_REQUEST_FIELDS, MAX_LOOKUP_BYTES)
            found = await asyncio.to_thread(lookup.answer, self.engine, node_id, str(request["id_number"]))
            await msg.respond(seal_status(found | {"node": node_id, "at": utcnow()}, self.key, MAX_LOOKUP_BYTES))
        except (SyncError, ValueError, *RETRYABLE) as exc:
            log.warning("lookup from %s not answered: %s", node_id, exc)

    def wake_access(self) -> None:
        """Thread-safe: the access list changed (enrolment, revocation, …): publish it now."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._access_wake.set)

    async def _access_loop(self, js: nats.js.JetStreamContext) -> None:
        """Brings the access list in line with the database once connected, then ends rotated
        keys' overlap windows on time (and picks up changes made by another process). Each new
        list also goes to the access bucket, for cluster members on other machines."""
        published = None
        while True:
            still_wanted()
            await asyncio.to_thread(natsauth.apply, self.engine, self.nats_dir)
            await self._ensure_node_consumers(js)
            path = self.nats_dir / "accounts.conf"
            text = path.read_text() if path.exists() else None
            if text is not None and text != published:
                try:
                    await publish_access(js, text, self.replicas)
                    published = text
                except RETRYABLE as exc:
                    log.warning("access list not published to the cluster (%s); will retry", exc)
            await wait_event(self._access_wake, ACCESS_CHECK_SECONDS)
            self._access_wake.clear()

    async def _ensure_node_consumers(self, js: nats.js.JetStreamContext) -> None:
        """Every enrolled node has its downlink consumer before its first batch is published (with
        interest retention a message nobody consumes is dropped); a revoked node's goes, and with
        it what waited for that node. Each is done once per process (``self._consumers``)."""
        enrolled, revoked = await asyncio.to_thread(_nodes_by_status, self.engine)
        for node_id in sorted(set(enrolled) - self._consumers.keys()):
            try:
                await js.add_consumer(DOWNLINK_STREAM, config=downlink_consumer_config(node_id))
                self._consumers[node_id] = "made"
            except RETRYABLE as exc:
                log.warning("downlink consumer of %s not made yet (%s)", node_id, exc)
        for node_id in sorted(set(revoked) - {n for n, done in self._consumers.items() if done == "deleted"}):
            try:
                await js.delete_consumer(DOWNLINK_STREAM, downlink_consumer(node_id))
                log.info("downlink consumer of revoked node %s deleted", node_id)
            except nats.js.errors.NotFoundError:
                pass
            except RETRYABLE as exc:
                log.warning("downlink consumer of revoked %s not deleted (%s)", node_id, exc)
                continue
            self._consumers[node_id] = "deleted"

    async def _blob_loop(self, js: nats.js.JetStreamContext) -> None:
        async for msgs in pull(js, BLOB_STREAM, BLOB_DURABLE, batch=20, max_ack_pending=200):
            for msg in msgs:
                headers = msg.headers or {}
                try:
                    offset, size = int(headers.get(BLOB_OFFSET_HEADER, "")), int(headers.get(BLOB_SIZE_HEADER, ""))
                except ValueError:
                    log.warning("chunk on %s without offset/size headers dropped", msg.subject)
                    await msg.term()
                    continue
                outcome = await asyncio.to_thread(blobs.receive_chunk, self.engine, self.blobs_dir, msg.subject, offset, size, msg.data)
                if outcome.startswith("rejected"):
                    log.warning("chunk on %s %s", msg.subject, outcome)
                await msg.ack()

    async def _downlink_loop(self, js: nats.js.JetStreamContext) -> None:
        assert self.key is not None
        while True:
            still_wanted()
            await wait_event(self._wake, 2.0)
            self._wake.clear()
            try:
                if time.monotonic() >= self._next_delegations:  # townships' delegations: new keys, new items, renewals
                    self._next_delegations = time.monotonic() + DELEGATION_INTERVAL_S
                    await asyncio.to_thread(delegation.renew, self.engine, self.key)
                if time.monotonic() >= self._next_clocks:  # 视为受理, then the cards the clocks call for (电子监察)
                    self._next_clocks = time.monotonic() + CLOCKS_INTERVAL_S
                    for app_id in await asyncio.to_thread(clocks.deem_overdue, self.engine):
                        log.info("case %s deemed accepted: its pre-review ran out (行政许可法 第三十二条)", app_id)
                    issued = await asyncio.to_thread(cards.issue_due, self.engine)
                    await asyncio.to_thread(consultations.alert_late, self.engine)  # 网上咨询 past its day
                    if any(issued.values()):
                        log.info(
                            "e-supervision: %d yellow, %d red cards issued, %d orders escalated", issued["yellow"], issued["red"], issued["escalated"]
                        )
                await asyncio.to_thread(commitments.decide_pending, self.engine, self.key)  # 告知承诺制: decided at once
                while await asyncio.to_thread(document_texts.issue_pending, self.engine, self.key, self.county, self.county_phone):
                    pass  # the documents of record actions asked for, signed
                if await asyncio.to_thread(recovery.collect, self.engine, self.blobs_dir, self.key.verify_key):
                    log.info("downlink batches this hub lost in a restore came back from their points")
                await asyncio.to_thread(downlink.seal_pending, self.engine, self.key)
                batches = await asyncio.to_thread(downlink.unpublished, self.engine)
                if any(self._consumers.get(b.node_id) != "made" for b in batches):
                    await self._ensure_node_consumers(js)  # enrolled since: its consumer first, or the batch is dropped
                for batch in batches:
                    if self._consumers.get(batch.node_id) != "made":
                        continue  # revoked (or NATS refused the consumer for now)
                    await js.publish(
                        downlink_subject(batch.node_id), batch.raw, headers={"Nats-Msg-Id": batch_message_id(batch.hash, batch.resends)}, timeout=5
                    )
                    await asyncio.to_thread(downlink.mark_published, self.engine, batch.node_id, batch.seq)
                    self.counts["downlink.published"] += 1
                    self.counts["downlink.bytes"] += len(batch.raw)
                    log.info("published downlink %s seq %d", batch.node_id, batch.seq)
                for event in await asyncio.to_thread(departments.unpublished, self.engine):
                    subject, body = department_subject(event.department), event.payload_json.encode()
                    await js.publish(subject, body, headers=sign_feed(subject, event.id, body, self.key), timeout=5)
                    await asyncio.to_thread(departments.mark_published, self.engine, event.id)
                    log.info("sent %s of %s to department %s", event.event, event.application_id, event.department)
            except RETRYABLE as exc:
                log.warning("downlink publish failed (%s); will retry", exc)
                await asyncio.sleep(1)
