"""Scoped NATS credentials against a real nats-server configured by `yiwang hub init` (TLS with
the county CA, nkey users in the accounts file the hub writes): a node's identity may use its own
subjects and nothing else."""

from __future__ import annotations

import asyncio
import json
import ssl

import nats
import nats.errors
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from provisioning.federation import LocalFederation
from provisioning.natsd import new_user_seed
from tests.support.federation import village
from tests.support.polling import eventually, run_async

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def county(hub: LocalFederation) -> LocalFederation:
    """NATS and the hub running, two village points enrolled (not started: we act as them)."""
    for node_id in ("shangcun", "xiacun"):
        hub.enrol_node(village(node_id))
    eventually(lambda: run_async(_streams(hub)) >= 4, what="the hub's streams")
    return hub


async def _streams(fed: LocalFederation) -> int:
    nc = await nats.connect(fed.nats_url, **fed.nats_options(), allow_reconnect=False)
    try:
        return len(await nc.jetstream().streams_info())
    finally:
        await nc.close()


class Session:
    """One NATS connection as a node; every asynchronous error the server sends is kept."""

    def __init__(self, fed: LocalFederation, node_id: str) -> None:
        self.fed, self.node_id, self.errors = fed, node_id, []

    async def __aenter__(self) -> Session:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        self.nc = await nats.connect(self.fed.nats_url, **self.fed.nats_options(self.node_id), allow_reconnect=False, error_cb=on_error)
        self.js = self.nc.jetstream()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()

    async def refused(self, coro) -> bool:
        """Run a request the server should refuse: it answers nothing (the request times out) and
        reports a permissions violation."""
        before = len(self.errors)
        try:
            await coro
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError):
            pass
        else:
            return False
        await asyncio.sleep(0.2)
        return any("permissions violation" in e.lower() for e in self.errors[before:])


def down_consumer(name: str, subject: str) -> ConsumerConfig:
    return ConsumerConfig(name=name, durable_name=name, filter_subject=subject, ack_policy=AckPolicy.EXPLICIT)


def test_a_node_uses_its_own_subjects_and_nothing_else(county: LocalFederation):
    async def scenario() -> None:
        async with Session(county, "shangcun") as s:
            # its own uplink is stored (the hub will quarantine these bytes: they are not a batch)
            ack = await s.js.publish("yiwang.up.shangcun", b"not a batch", headers={"Nats-Msg-Id": "perm-own"}, timeout=5)
            assert ack.stream == "YIWANG_UP"
            # its own downlink consumer, created and read
            await s.js.add_consumer("YIWANG_DOWN", config=down_consumer("node-shangcun", "yiwang.down.shangcun"), timeout=5)
            sub = await s.js.pull_subscribe_bind("node-shangcun", stream="YIWANG_DOWN")
            with pytest.raises(nats.errors.TimeoutError):
                await sub.fetch(1, timeout=0.5)  # nothing for it yet, but the request was allowed
            assert not s.errors

            # another node's uplink, attachments and downlink
            assert await s.refused(s.js.publish("yiwang.up.xiacun", b"x", timeout=1))
            assert await s.refused(s.js.publish("yiwang.blob.xiacun.ab", b"x", timeout=1))
            assert await s.refused(s.js.publish("yiwang.down.shangcun", b"forged decision", timeout=1))
            assert await s.refused(s.js.add_consumer("YIWANG_DOWN", config=down_consumer("node-xiacun", "yiwang.down.xiacun"), timeout=1))
            # its own consumer name with someone else's filter: the server checks the filter
            assert await s.refused(s.js.add_consumer("YIWANG_DOWN", config=down_consumer("node-shangcun", "yiwang.down.xiacun"), timeout=1))
            assert await s.refused(s.nc.request("$JS.API.CONSUMER.MSG.NEXT.YIWANG_DOWN.node-xiacun", b'{"batch":1}', timeout=1))
            # no stream administration, no reading the department feed
            assert await s.refused(s.nc.request("$JS.API.STREAM.DELETE.YIWANG_UP", b"", timeout=1))
            assert await s.refused(s.js.add_consumer("YIWANG_UP", config=down_consumer("spy", "yiwang.up.xiacun"), timeout=1))
            assert await s.refused(s.js.add_consumer("YIWANG_DEPT", config=down_consumer("dept-cl", "yiwang.dept.cl.cases"), timeout=1))

    run_async(scenario())


def test_a_node_cannot_see_other_nodes_traffic_or_reply_inboxes(county: LocalFederation):
    async def scenario() -> list[str]:
        async with Session(county, "shangcun") as s:
            for subject in ("yiwang.>", "yiwang.up.xiacun", "yiwang.down.xiacun", "_INBOX.>", "_INBOX_xiacun.>", ">"):
                await s.nc.subscribe(subject)
                await s.nc.flush()
            await asyncio.sleep(0.3)
            return s.errors

    errors = run_async(scenario())
    for subject in ("yiwang.>", "yiwang.up.xiacun", "yiwang.down.xiacun", "_INBOX.>", "_INBOX_xiacun.>", ">"):
        assert any(f'subscription to "{subject.lower()}"' in e.lower() for e in errors), (subject, errors)


def test_strangers_and_plain_connections_are_refused(county: LocalFederation):
    ca = ssl.create_default_context(cafile=str(county.nats_dir / "ca.pem"))

    async def connect(**options) -> str:
        try:
            nc = await nats.connect(county.nats_url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2, **options)
        except Exception as exc:  # nats-py raises several types here; the message is what matters
            return f"{type(exc).__name__}: {exc}"
        await nc.close()
        return "connected"

    # an nkey the hub never enrolled
    assert "authorization violation" in run_async(connect(nkeys_seed_str=new_user_seed(), tls=ca)).lower()
    # no credentials at all
    assert "authorization violation" in run_async(connect(tls=ca)).lower()
    # the system's trust store does not know the county CA: a look-alike server could not pass either
    assert run_async(connect(**county.nats_options("shangcun") | {"tls": ssl.create_default_context()})) != "connected"
    # plain TCP, no TLS
    plain = f"nats://127.0.0.1:{county.nats_port}"
    assert run_async(_plain(plain, county.nats_options("shangcun")["nkeys_seed_str"])) != "connected"


async def _plain(url: str, seed: str) -> str:
    try:
        nc = await nats.connect(url, nkeys_seed_str=seed, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await nc.close()
    return "connected"


# Every subject someone other than the sender reads: another point's uplink, downlink, files and
# status (the hub stores or answers them), a department's feed, and the JetStream API itself.
NOT_THE_SENDERS = (
    "yiwang.up.xiacun",
    "yiwang.down.xiacun",
    "yiwang.blob.xiacun." + "ab" * 32,
    "yiwang.status.xiacun",
    "yiwang.dept.mzj.cases",
    "$JS.API.STREAM.PURGE.YIWANG_UP",
)


def test_no_request_a_node_may_send_puts_an_answer_on_a_subject_anyone_else_reads(county: LocalFederation):
    """Reply-subject injection (issue 17 finding 3): every request shangcun may send, each with
    the reply subject set to a subject another point, a department or the hub reads. NATS checks
    the publish permission of the request, not of the answer: JetStream and the hub answer to
    whatever reply subject they are given. Each point is in a NATS account of its own, so the
    answer stays there. Watched from the hub's own account, where every one of those subjects
    lives: nothing arrives, and xiacun (not running) does not come to life at the hub."""
    from nacl.signing import SigningKey

    from sync_protocol import BLOB_OFFSET_HEADER, BLOB_SIZE_HEADER, seal_status
    from tests.support.api import Api
    from tests.support.nodes import identity, status_of

    shangcun = identity(county, "shangcun")
    config = down_consumer("node-shangcun", "yiwang.down.shangcun")
    create = "$JS.API.CONSUMER.CREATE.YIWANG_DOWN.node-shangcun.yiwang.down.shangcun"
    requests: list[tuple[str, bytes, dict[str, str] | None]] = [
        ("$JS.API.CONSUMER.INFO.YIWANG_DOWN.node-shangcun", b"", None),
        (create, json.dumps({"stream_name": "YIWANG_DOWN", "config": config.as_dict()}).encode(), None),
        ("$JS.API.CONSUMER.MSG.NEXT.YIWANG_DOWN.node-shangcun", b'{"batch": 1, "no_wait": true}', None),
        ("yiwang.up.shangcun", b"not a batch", {"Nats-Msg-Id": "reply-injection"}),
        ("yiwang.blob.shangcun." + "cd" * 32, b"x", {BLOB_OFFSET_HEADER: "0", BLOB_SIZE_HEADER: "1"}),
        ("yiwang.status.shangcun", status_of(shangcun), None),
        ("yiwang.status.shangcun", seal_status({"node": "shangcun"}, SigningKey.generate()), None),  # one the hub refuses
    ]

    async def scenario() -> tuple[dict[str, list[str]], list[str]]:
        hub = await nats.connect(county.nats_url, **county.nats_options(), allow_reconnect=False)
        arrived: dict[str, list[str]] = {target: [] for target in NOT_THE_SENDERS}
        for target in NOT_THE_SENDERS:
            await hub.subscribe(target, cb=_noting(arrived[target]))
        await hub.flush()
        try:
            async with Session(county, "shangcun") as s:
                for target in NOT_THE_SENDERS:
                    for subject, payload, headers in requests:
                        await s.nc.publish(subject, payload, reply=target, headers=headers)
                await s.nc.flush()
                await asyncio.sleep(2)  # every answer given
                return arrived, s.errors
        finally:
            await hub.close()

    arrived, errors = run_async(scenario())
    assert not any("permissions violation" in e.lower() for e in errors), errors  # every request was one it may send
    assert arrived == {target: [] for target in NOT_THE_SENDERS}, arrived
    operator = Api(county.hub_url, "operator", county.password)
    [xiacun] = [n for n in operator.get("/api/nodes").json() if n["id"] == "xiacun"]
    assert xiacun["last_seen_at"] is None, xiacun
    assert not [a for a in operator.get("/api/alerts").json() if a["node_id"] == "xiacun"]


def _noting(into: list[str]):
    async def note(msg) -> None:
        into.append(f"{msg.subject}: {msg.data[:80]!r}")

    return note


def test_a_node_cannot_choose_its_consumers_settings(county: LocalFederation):
    """Found by the adversarial pass: the create request's body chose every setting but the
    filter, so a node could delete its consumer (inactive_threshold) and make it a push consumer
    whose idle heartbeats landed on another point's status subject, ten a second, in the hub's
    account. The hub now makes the consumer with its own settings and passes JetStream's answer
    back: the node's create still succeeds (older nodes need that), with the hub's settings."""

    async def scenario() -> tuple[dict, list[str], dict]:
        hub = await nats.connect(county.nats_url, **county.nats_options(), allow_reconnect=False)
        arrived: list[str] = []
        await hub.subscribe("yiwang.status.xiacun", cb=_noting(arrived))
        await hub.flush()
        try:
            async with Session(county, "shangcun") as s:
                create = "$JS.API.CONSUMER.CREATE.YIWANG_DOWN.node-shangcun.yiwang.down.shangcun"
                mine = {
                    "name": "node-shangcun",
                    "durable_name": "node-shangcun",
                    "filter_subject": "yiwang.down.shangcun",
                    "ack_policy": "explicit",
                    "deliver_policy": "all",
                }
                # first: gone after half a second idle; then again, as a push consumer
                await s.nc.request(
                    create,
                    json.dumps(
                        {"stream_name": "YIWANG_DOWN", "config": mine | {"ack_wait": 60_000_000_000, "inactive_threshold": 500_000_000}}
                    ).encode(),
                    timeout=10,
                )
                await asyncio.sleep(2)
                push = mine | {"deliver_subject": "yiwang.status.xiacun", "idle_heartbeat": 100_000_000}
                answer = await s.nc.request(create, json.dumps({"stream_name": "YIWANG_DOWN", "config": push}).encode(), timeout=10)
                await asyncio.sleep(2)
            info = await hub.jetstream().consumer_info("YIWANG_DOWN", "node-shangcun")
            return json.loads(answer.data), arrived, info.config.as_dict()
        finally:
            await hub.close()

    answer, arrived, config = run_async(scenario())
    assert answer["type"] == "io.nats.jetstream.api.v1.consumer_create_response" and "error" not in answer, answer
    assert "deliver_subject" not in answer["config"] and "deliver_subject" not in config, config  # a pull consumer, as the hub makes it
    assert not config.get("inactive_threshold"), config  # still there after the 0.5 s it asked for
    assert arrived == []
