"""A city or province hub: NATS as a three-server JetStream cluster with replicated streams, and
several ingest workers on PostgreSQL — real nats-servers, a real PostgreSQL, real processes."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import nats
import nats.errors
import pytest
from sqlalchemy import create_engine, text

from central.sync import ensure_streams, stream_replicas
from provisioning.federation import ClusterMember, LocalFederation, free_port
from sync_protocol import UPLINK_STREAM, nats_servers
from tests.support.api import Api
from tests.support.builders import submit
from tests.support.federation import running_village
from tests.support.polling import eventually, run_async

from .. import pg

pytestmark = pytest.mark.e2e


class Workload(threading.Thread):
    """Agents at several villages taking applications in, one after another, until stopped."""

    def __init__(self, agents: list[Api]) -> None:
        super().__init__(daemon=True)
        self.agents, self.taken, self.errors = agents, [], []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            for agent in self.agents:
                try:
                    self.taken.append(submit(agent, n, "MZ-003", by_proxy=True)["receipt_no"])
                except Exception as exc:  # recorded and asserted empty: a node must never refuse intake
                    self.errors.append(repr(exc))
                n += 1
            time.sleep(0.05)

    def stop(self) -> list[str]:
        self.halt.set()
        self.join(30)
        assert not self.errors, self.errors
        return self.taken


def hub_receipts(operator: Api) -> list[str]:
    return [a["receipt_no"] for a in operator.get("/api/applications").json()]


async def _uplink_stream(fed: LocalFederation):
    """The uplink stream's info, or None while the cluster cannot answer (a leader election)."""
    nc = await nats.connect(nats_servers(fed.nats_url), **fed.nats_options())
    try:
        return await nc.jetstream().stream_info(UPLINK_STREAM)
    except nats.errors.Error:
        return None
    finally:
        await nc.close()


async def _can_log_in(fed: LocalFederation, node_id: str, port: int) -> bool:
    """Whether the node's NATS identity may log in at the server on ``port`` alone."""
    try:
        nc = await nats.connect(
            f"tls://127.0.0.1:{port}", **fed.nats_options(node_id), allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )
    except Exception:  # refused (authorization violation) or not reachable: not admitted
        return False
    await nc.close()
    return True


def test_a_cluster_address_lists_every_server_and_replicas_follow_it(monkeypatch):
    assert nats_servers("tls://a:4700, tls://b:4700,tls://c:4700,") == ["tls://a:4700", "tls://b:4700", "tls://c:4700"]
    assert nats_servers("tls://127.0.0.1:4700") == ["tls://127.0.0.1:4700"]
    with pytest.raises(ValueError):
        nats_servers(" , ")
    monkeypatch.delenv("YIWANG_NATS_REPLICAS", raising=False)
    assert stream_replicas("tls://a:4700,tls://b:4700,tls://c:4700") == 3 and stream_replicas("tls://a:4700") == 1
    monkeypatch.setenv("YIWANG_NATS_REPLICAS", "5")
    assert stream_replicas("tls://a:4700") == 5


async def _kept_in(fed: LocalFederation, replicas: int) -> int:
    """Bring the hub's streams to ``replicas`` copies as the hub does at start; how many the uplink stream has then."""
    nc = await nats.connect(nats_servers(fed.nats_url), **fed.nats_options())
    try:
        js = nc.jetstream()
        await ensure_streams(js, replicas)
        return (await js.stream_info(UPLINK_STREAM)).config.num_replicas
    finally:
        await nc.close()


def test_a_three_server_cluster_loses_a_server_mid_run_and_nothing_is_lost(tmp_path: Path):
    cluster = [ClusterMember(f"n{i}", "127.0.0.1", free_port(), free_port()) for i in (1, 2, 3)]
    # n3 runs from a copy of the hub's NATS directory, as on a machine of its own
    fed = LocalFederation(root=tmp_path / "fed", nats_port=cluster[0].port, hub_port=free_port(), cluster=cluster, remote_members={"n3"})
    try:
        fed.start_nats()
        fed.start_hub()
        villages = [running_village(fed, node_id) for node_id in ("shangcun", "xiacun")]
        # enrolled after n3 started: n3 admits them only because it follows the hub's access list
        n3 = cluster[2]
        for v in villages:
            eventually(lambda v=v: run_async(_can_log_in(fed, v.node_id, n3.port)), what=f"n3 to admit {v.node_id}")
        agents = [Api(f"http://127.0.0.1:{v.port}", "agent", fed.password) for v in villages]
        operator, clerk = Api(fed.hub_url, "operator", fed.password), Api(fed.hub_url, "clerk-mzj", fed.password)
        # the nodes were given every server's URL at enrolment
        for v in villages:
            assert nats_servers(json.loads((fed.node_dir(v.node_id) / "node.json").read_text())["nats_url"]) == [
                f"tls://127.0.0.1:{m.port}" for m in cluster
            ]

        stream = eventually(lambda: run_async(_uplink_stream(fed)), what="the uplink stream")
        assert stream.config.num_replicas == 3 and len(stream.cluster.replicas) == 2  # R3: a leader and two copies

        work = Workload(agents)
        work.start()
        eventually(lambda: len(hub_receipts(operator)) >= 10, what="the first applications at the hub")
        # kill -9 the server that leads the uplink stream: the harshest server to lose
        leader = eventually(lambda: run_async(_uplink_stream(fed)), what="the uplink stream").cluster.leader
        fed.stop(f"nats-{leader}", sig=signal.SIGKILL)
        time.sleep(5)  # keep taking applications while the cluster elects a new leader
        taken = work.stop()
        assert len(taken) >= 20

        eventually(lambda: sorted(hub_receipts(operator)) == sorted(taken), timeout=90, what="every application at the hub exactly once")
        for agent in agents:
            eventually(lambda agent=agent: agent.get("/api/status").json()["waiting_events"] == 0, what="node backlogs drained")
        # decisions still flow back on two servers
        last = operator.get("/api/applications").json()[-1]  # taken after the kill
        assert clerk.post(f"/api/applications/{last['id']}/decision", json={"decision": "approve"}).status_code == 200
        village_of = {v.node_id: a for v, a in zip(villages, agents, strict=False)}
        eventually(
            lambda: village_of[last["node_id"]].get(f"/api/applications/{last['id']}").json()["status"] == "approved",
            what="the decision at the village",
        )

        # the killed server comes back and catches up
        fed.start_nats_member(leader)
        eventually(
            lambda: (info := run_async(_uplink_stream(fed))) and all(p.current for p in info.cluster.replicas),
            timeout=60,
            what="the restarted server to catch up",
        )
        # an existing stream is brought to the replica count asked for (a county hub moving onto a cluster)
        assert run_async(_kept_in(fed, 1)) == 1 and run_async(_kept_in(fed, 3)) == 3
        with fed.log_path("hub").open() as log:
            assert "quarantined" not in log.read()
        assert [name for name, code in fed.exited() if not name.startswith("nats-")] == []
    finally:
        fed.stop_all()


def test_two_hub_ingest_workers_on_postgresql_apply_every_batch_once(tmp_path: Path):
    reason = pg.unreachable()
    if reason:
        pytest.skip(f"two ingest workers on PostgreSQL skipped: {reason}")
    with pg.scratch_schema() as db_url:
        fed = LocalFederation(root=tmp_path / "fed", nats_port=free_port(), hub_port=free_port(), db_url=db_url)
        try:
            fed.start_nats()
            fed.start_hub()
            fed.start_worker("worker")
            villages = [running_village(fed, f"cun{i}") for i in range(3)]
            agents = [Api(f"http://127.0.0.1:{v.port}", "agent", fed.password) for v in villages]
            operator = Api(fed.hub_url, "operator", fed.password)

            work = Workload(agents)
            work.start()
            eventually(lambda: len(work.taken) >= 90, timeout=120, what="90 applications taken")
            taken = work.stop()
            eventually(lambda: sorted(hub_receipts(operator)) == sorted(taken), timeout=90, what="every application at the hub exactly once")
            applied = {name: fed.log_path(name).read_text().count("applied yiwang.up.") for name in ("hub", "worker")}
            assert all(applied.values()), applied  # both workers took batches from the one consumer

            # every batch delivered again at once (as after a lost ack): the workers race on each
            engine = create_engine(db_url)
            with engine.connect() as conn:
                batches = conn.execute(text("SELECT node_id, seq, raw FROM uplinkbatch ORDER BY seq, node_id")).all()
                cursors = conn.execute(text("SELECT id, up_seq FROM node ORDER BY id")).all()

            async def replay() -> None:
                nc = await nats.connect(nats_servers(fed.nats_url), **fed.nats_options())
                js = nc.jetstream()
                for node_id, seq, raw in batches:
                    for copy in ("a", "b"):  # two copies each, back to back: both workers may hold one
                        await js.publish(f"yiwang.up.{node_id}", raw, headers={"Nats-Msg-Id": f"replay-{copy}-{node_id}-{seq}"})
                await nc.close()

            run_async(replay())
            eventually(
                lambda: sum(fed.log_path(n).read_text().count("duplicate yiwang.up.") for n in ("hub", "worker")) >= 2 * len(batches),
                what="every replayed copy classified",
            )
            with engine.connect() as conn:
                assert conn.execute(text("SELECT id, up_seq FROM node ORDER BY id")).all() == cursors
                assert conn.execute(text("SELECT count(*) FROM uplinkbatch")).scalar_one() == len(batches)
                assert conn.execute(text("SELECT count(*) FROM application")).scalar_one() == len(taken)
                assert conn.execute(text("SELECT count(*) FROM quarantine")).scalar_one() == 0
            engine.dispose()
            assert fed.exited() == []
        finally:
            fed.stop_all()
