"""A simulated county: 300 village points against one hub for 60 s.

Each point is enrolled through the hub's API like a real one (its own signing key and NATS nkey)
and then simulated by a lightweight sender in this process: its own TLS connection to NATS with
its own identity, the real protocol code (``seal_next``: canonical records, Ed25519 signature,
hash chain) and the real subject, sending a batch of 1-3 applications at exponentially distributed
intervals (mean 10 s per point: 30 batches/s for the county, a busy morning).
Figures: the hub process's CPU (share of one core) and resident memory while it ingests, and the
lag from a batch being sealed to its records being applied at the hub (the hub's received_at
against the record's time, one clock), p50/p99; and how long the hub takes to drain after the
senders stop. Baseline, same run, same hub process: its CPU and memory for 10 s with all 300
points connected and idle.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats

from edge_node.settings import NodeIdentity, Settings
from provisioning.enrol import enroll
from provisioning.federation import LocalFederation
from sync_protocol import GENESIS, SENT_AT_HEADER, SEQ_HEADER, Record, format_time, parse_time, seal_next, uplink_subject
from tests.support.federation import running_federation as federation

from .common import cpu_seconds, hub_count, percentile, rss_mb, wait_for

POINTS = 300
SECONDS = 60.0
MEAN_INTERVAL = 10.0


def enrol_points(fed: LocalFederation, count: int) -> list[Path]:
    token = fed.hub_token()
    fingerprint = fed.ca_fingerprint()

    def one(n: int) -> Path:
        node_id = f"sim{n:03d}"
        response = httpx.post(
            f"{fed.hub_url}/api/enrolment-codes",
            json={"node_id": node_id, "name": f"模拟代办点{n}", "kind": "village", "parent": None},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        response.raise_for_status()
        enroll(response.json()["code"], fed.hub_url, fed.node_dir(node_id), fingerprint, timeout=60)
        return fed.node_dir(node_id)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(1, count + 1)))


def application(node_id: str, n: int, at: str) -> Record:
    return Record(
        "application.received",
        str(uuid.uuid4()),
        at,
        {
            "application_id": str(uuid.uuid4()),
            "receipt_no": f"{node_id}-{n:06d}",
            "item_code": "MZ-003",
            "item_name": "高龄津贴申领",
            "applicant_name": "张三",
            "applicant_id_number": "11010519491231002X",
            "applicant_phone": "",
            "proxy_agent": "",
            "agent": "agent",
        },
    )


class Sender:
    def __init__(self, directory: Path, nats_url: str, seed: int) -> None:
        self.identity = NodeIdentity.load(Settings(data_dir=directory))
        self.nats_url = nats_url
        self.rng = random.Random(seed)
        self.pos = GENESIS
        self.sent = 0
        self.nc: nats.NATS | None = None

    async def connect(self) -> None:
        self.nc = await nats.connect(self.nats_url, name=self.identity.node_id, connect_timeout=20, **self.identity.nats_options())

    async def run(self, until: float, mean_interval: float = MEAN_INTERVAL, compress: bool = False) -> None:
        """Batches of 1-3 applications at exponentially distributed intervals until ``until``."""
        assert self.nc is not None
        js = self.nc.jetstream()
        while True:
            await asyncio.sleep(self.rng.expovariate(1 / mean_interval))
            if time.monotonic() >= until:
                return
            now = format_time(datetime.now(UTC))
            records = [application(self.identity.node_id, self.sent + i, now) for i in range(self.rng.randint(1, 3))]
            wire, pos = seal_next(self.identity.node_id, "up", self.pos, records, now, self.identity.key, compress)
            await js.publish(
                uplink_subject(self.identity.node_id),
                wire,
                headers={"Nats-Msg-Id": pos.head, SENT_AT_HEADER: now, SEQ_HEADER: str(pos.seq)},
                timeout=30,
            )
            self.pos = pos
            self.sent += len(records)


def _watch(pid: int, seconds: float) -> dict[str, float]:
    """The hub's CPU share and peak RSS over ``seconds`` (sampled every second)."""
    cpu0, t0, peak = cpu_seconds(pid), time.monotonic(), rss_mb(pid)
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        peak = max(peak, rss_mb(pid))
    return {"cpu_share": (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0), "rss_peak_mb": peak, "rss_end_mb": rss_mb(pid)}


def run(points: int = POINTS, seconds: float = SECONDS) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        enrol_started = time.monotonic()
        directories = enrol_points(fed, points)
        enrol_s = time.monotonic() - enrol_started
        hub = fed.procs["hub"].pid
        senders = [Sender(d, fed.nats_url, n) for n, d in enumerate(directories)]

        async def go() -> dict[str, float]:
            loop = asyncio.get_running_loop()
            for i in range(0, len(senders), 50):  # a county's points do not all dial in the same second
                await asyncio.gather(*(s.connect() for s in senders[i : i + 50]))
            idle = await loop.run_in_executor(None, _watch, hub, 10.0)
            me0 = time.process_time()
            watching = loop.run_in_executor(None, _watch, hub, seconds)
            await asyncio.gather(*(s.run(time.monotonic() + seconds) for s in senders))
            loaded = await watching
            sent = sum(s.sent for s in senders)
            stopped = time.monotonic()
            drained = await loop.run_in_executor(
                None, lambda: wait_for(lambda: hub_count(fed, "SELECT COUNT(*) FROM application") == sent, 300, 0.05, what="the hub to drain")
            )
            for s in senders:
                assert s.nc is not None
                await s.nc.close()
            return {
                "idle_cpu_share": idle["cpu_share"],
                "idle_rss_mb": idle["rss_end_mb"],
                "cpu_share": loaded["cpu_share"],
                "rss_peak_mb": loaded["rss_peak_mb"],
                "records": sent,
                "drain_s": drained - stopped,
                "senders_cpu_share": (time.process_time() - me0) / seconds,
            }

        result = asyncio.run(go())
        lags = [(parse_time(r) - parse_time(s)).total_seconds() for r, s in _times(fed)]
    return result | {
        "points": points,
        "seconds": seconds,
        "enrol_s": enrol_s,
        "lag_p50_ms": percentile(lags, 50) * 1000,
        "lag_p99_ms": percentile(lags, 99) * 1000,
    }


def _times(fed: LocalFederation) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{fed.root / 'hub' / 'hub.sqlite3'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT received_at, submitted_at FROM application").fetchall()
    finally:
        conn.close()
