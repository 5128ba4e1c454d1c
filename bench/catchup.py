"""Catch-up: a village point that was offline all day comes back with 10,000 queued events.

Figure: from the moment the restarted node reports itself online (``/api/status``, polled every
10 ms) until the hub has applied all 10,000 applications (its database, polled every 10 ms):
sealing (up to 500 records a batch), publishing with PubAcks, hub ingest. The node process's start
until it is online is reported beside it.
Baseline, same run, same NATS server: the very batches the node sent (read back from its database)
published to a scratch JetStream stream by a bare nats-py client and pulled back and acked by a
bare pull consumer, with no verification and no database: the transport's floor.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx
import nats
from nats.js.api import StreamConfig

from edge_node.app import open_store
from edge_node.cases import submit_application
from edge_node.settings import NodeIdentity, Settings
from provisioning.federation import LocalFederation
from tests.support.builders import checked, resident_id
from tests.support.federation import running_federation as federation
from tests.support.federation import village

from .common import hub_count, read_wires, wait_for

EVENTS = 10_000


def queue_applications(directory: Path, count: int) -> None:
    """``count`` applications taken at the window while offline, through the node's own intake
    code on its own database (the node process is stopped; durability is relaxed for this setup
    step only, the node itself runs with synchronous=FULL)."""
    settings = Settings(data_dir=directory)
    store = open_store(settings, NodeIdentity.load(settings))  # as the node process opens it
    store.conn.execute("PRAGMA synchronous=OFF")
    agent = dict(store.one("SELECT * FROM users WHERE username = 'agent'"))
    for n in range(count):
        form = {"item_code": "MZ-003", "applicant_name": f"申请人{n}", "applicant_id_number": resident_id(n)}
        submit_application(store, form, agent, directory / "blobs", checked=checked("MZ-003"))
    store.close()


def _transport_floor(fed: LocalFederation, wires: list[bytes]) -> float:
    async def go() -> float:
        nc = await nats.connect(fed.nats_url, **fed.nats_options())
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="BENCH_CATCHUP", subjects=["bench.catchup"]))
        psub = await js.pull_subscribe("bench.catchup", durable="bench")
        start = time.perf_counter()
        for wire in wires:
            await js.publish("bench.catchup", wire, timeout=10)
        got = 0
        while got < len(wires):
            for msg in await psub.fetch(50, timeout=5):
                await msg.ack()
                got += 1
        elapsed = time.perf_counter() - start
        await js.delete_stream("BENCH_CATCHUP")
        await nc.close()
        return elapsed

    return asyncio.run(go())


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        spec = village("catchup")
        fed.enrol_node(spec)
        queue_applications(fed.node_dir(spec.node_id), EVENTS)
        started = time.monotonic()
        fed.start_node(spec)
        status = f"http://127.0.0.1:{spec.port}/api/status"
        online = wait_for(lambda: httpx.get(status, timeout=2).json()["online"], 60, what="the node online")
        done = wait_for(
            lambda: hub_count(fed, "SELECT COUNT(*) FROM application WHERE node_id = ?", (spec.node_id,)) == EVENTS,
            300,
            what=f"{EVENTS} applications at the hub",
        )
        wires = read_wires(fed.node_dir(spec.node_id))
        floor = _transport_floor(fed, wires)
    return {"events": EVENTS, "batches": len(wires), "catchup_s": done - online, "start_to_online_s": online - started, "floor_s": floor}
