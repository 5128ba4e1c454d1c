"""Online end-to-end latency: from the node's answer to an intake (its commit) to the hub having
applied the application (visible in the hub's database).

Figure: 200 intakes at an online village node, one at a time with 100 ms between them (a window's
pace, not a load test); after each 201 the hub's database is polled every 2 ms for the
application: p50 and p99. The path: the node wakes its uplink, seals a one-record batch, publishes
it and waits for the PubAck; the hub's pull consumer fetches it, verifies, applies and commits.
Baseline, same run, same NATS server: one JetStream message of the same size published by a bare
nats-py client and received by a bare pull consumer already waiting (publish to fetch return).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx
import nats
from nats.js.api import StreamConfig

from provisioning.federation import LocalFederation
from tests.support.builders import checked, resident_id
from tests.support.federation import running_federation as federation
from tests.support.federation import village

from .common import read_wires, summary_ms, wait_for

SAMPLES = 200


def _transport(fed: LocalFederation, size: int) -> list[float]:
    async def go() -> list[float]:
        nc = await nats.connect(fed.nats_url, **fed.nats_options())
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="BENCH_LATENCY", subjects=["bench.latency"]))
        psub = await js.pull_subscribe("bench.latency", durable="bench")
        payload, out = bytes(size), []
        for _ in range(SAMPLES):
            waiting = asyncio.create_task(psub.fetch(1, timeout=5))
            await asyncio.sleep(0.01)  # the consumer's pull request is out, as the hub's always is
            start = time.perf_counter()
            await js.publish("bench.latency", payload, timeout=5)
            for msg in await waiting:
                await msg.ack()
            out.append(time.perf_counter() - start)
        await js.delete_stream("BENCH_LATENCY")
        await nc.close()
        return out

    return asyncio.run(go())


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        spec = village("online")
        fed.enrol_node(spec)
        fed.start_node(spec)
        base = f"http://127.0.0.1:{spec.port}"
        wait_for(lambda: httpx.get(f"{base}/api/status", timeout=2).json()["online"], 30, what="the node online")
        hub = sqlite3.connect(f"file:{fed.root / 'hub' / 'hub.sqlite3'}?mode=ro", uri=True, timeout=30)
        latencies = []
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post("/api/login", json={"username": "agent", "password": fed.password}).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            for n in range(SAMPLES):
                body = {
                    "item_code": "MZ-003",
                    "applicant_name": f"申请人{n}",
                    "applicant_id_number": resident_id(n),
                    "materials_checked": checked("MZ-003"),
                }
                response = http.post("/api/applications", json=body, headers=headers)
                committed = time.monotonic()
                app_id = response.json()["id"]
                applied = wait_for(
                    lambda app_id=app_id: hub.execute("SELECT 1 FROM application WHERE id = ?", (app_id,)).fetchone() is not None,
                    30,
                    0.002,
                    what="the application at the hub",
                )
                latencies.append(applied - committed)
                time.sleep(0.1)
        hub.close()
        size = len(read_wires(fed.node_dir(spec.node_id))[-1])
        floor = _transport(fed, size)
    return {"end_to_end": summary_ms(latencies), "transport": summary_ms(floor) | {"bytes": size}}
