"""A province's message rate on PostgreSQL with two ingest workers: 20,000 points' heartbeats and
a peak hour's intake, lag p99 ≤ 2 s.

How it is simulated (this machine holds a few hundred NATS connections beside the hub, not
20,000): POINTS real points are enrolled through the hub's API (each with its own key and NATS
identity) and connected by lightweight senders in this process; together they carry the whole
province's rate. Each sends its signed status (the heartbeat, sync_protocol's ``seal_status``) as
a request every POINTS / HEARTBEATS_PER_S seconds — 20,000 points at one a minute is 333 a
second — and batches of 1-3 applications (real ``seal_next``, compressed) at the peak-hour rate
of PEAK_HOUR_APPLICATIONS. So the hub does a province's database work per second, on POINTS node
rows instead of 20,000.
Figures: heartbeat answer time (request to the hub's signed reply) p50/p99, and the lag from an
application being sealed to its being applied (the hub's received_at against the record's time,
one clock) p50/p99, over SECONDS. Baseline, same run: a trivial request/reply through the same
NATS server at the same rate (the transport's floor), and the hub process's CPU.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats
from sqlalchemy import create_engine, text

from provisioning.federation import LocalFederation, free_port
from sync_protocol import COMPRESSION, format_time, parse_time, seal_status, status_subject
from tests import pg

from .common import cpu_seconds, percentile, wait_for
from .county import Sender, enrol_points

POINTS = 200
PROVINCE_POINTS = 20_000
HEARTBEATS_PER_S = PROVINCE_POINTS / 60
PEAK_HOUR_APPLICATIONS = 60_000  # three per point in the busiest hour
SECONDS = 60.0


class ProvinceSender(Sender):
    def __init__(self, directory: Path, nats_url: str, seed: int) -> None:
        super().__init__(directory, nats_url, seed)
        self.answers: list[float] = []
        self.unanswered = 0

    async def heartbeats(self, until: float, interval: float) -> None:
        assert self.nc is not None
        await asyncio.sleep(self.rng.uniform(0, interval))
        while time.monotonic() < until:
            fields = {
                "node": self.identity.node_id,
                "at": format_time(datetime.now(UTC)),
                "up_seq": self.pos.seq,
                "outbox_depth": 0,
                "app_version": "bench",
                "catalog_version": 1,
                "interval_s": 60,
                "compression": [COMPRESSION],
                "kbit_per_s": 64,
            }
            started = time.monotonic()
            try:
                await self.nc.request(status_subject(self.identity.node_id), seal_status(fields, self.identity.key), timeout=10)
                self.answers.append(time.monotonic() - started)
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                self.unanswered += 1
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)) * self.rng.uniform(0.8, 1.2))


async def _floor(url: str, options: dict, rate: float, seconds: float) -> list[float]:
    """Round trips of a trivial request/reply at ``rate`` per second through the same server."""
    nc = await nats.connect(url, **options)

    async def echo(msg) -> None:
        await msg.respond(b"ok")

    await nc.subscribe("bench.floor", cb=echo)
    times: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        await nc.request("bench.floor", b"x" * 400, timeout=5)
        times.append(time.monotonic() - started)
        await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))
    await nc.close()
    return times


def run(points: int = POINTS, seconds: float = SECONDS) -> dict[str, float] | str:
    reason = pg.unreachable()
    if reason:
        return reason
    with tempfile.TemporaryDirectory() as tmp, pg.scratch_schema() as db_url:
        fed = LocalFederation(root=Path(tmp) / "fed", nats_port=free_port(), hub_port=free_port(), db_url=db_url)
        fed.start_nats()
        fed.start_hub()
        try:
            fed.start_worker("worker")
            directories = enrol_points(fed, points)
            senders = [ProvinceSender(d, fed.nats_url, n) for n, d in enumerate(directories)]
            interval = points / HEARTBEATS_PER_S
            mean_intake = points / (PEAK_HOUR_APPLICATIONS / 3600 / 2)  # batches hold 2 applications on average
            hub = fed.procs["hub"].pid

            async def go() -> dict[str, float]:
                for i in range(0, len(senders), 50):
                    await asyncio.gather(*(s.connect() for s in senders[i : i + 50]))
                cpu0, t0 = cpu_seconds(hub), time.monotonic()
                until = time.monotonic() + seconds
                floor = asyncio.ensure_future(_floor(fed.nats_url, fed.nats_options(), HEARTBEATS_PER_S / 20, seconds))
                await asyncio.gather(*(s.heartbeats(until, interval) for s in senders), *(s.run(until, mean_intake, compress=True) for s in senders))
                cpu = (cpu_seconds(hub) - cpu0) / (time.monotonic() - t0)
                for s in senders:
                    assert s.nc is not None
                    await s.nc.close()
                return {"floor": await floor, "cpu_share": cpu}

            result = asyncio.run(go())
            sent = sum(s.sent for s in senders)
            engine = create_engine(db_url)
            wait_for(lambda: _count(engine) == sent, 300, 0.2, what="the province's applications at the hub")
            with engine.connect() as conn:
                times = conn.execute(text("SELECT received_at, submitted_at FROM application")).all()
            engine.dispose()
        finally:
            fed.stop_all()
    answers = [a for s in senders for a in s.answers]
    lags = [(parse_time(r) - parse_time(s)).total_seconds() for r, s in times]
    floor = result["floor"]
    return {
        "points": points,
        "seconds": seconds,
        "heartbeats": len(answers),
        "heartbeats_per_s": len(answers) / seconds,
        "unanswered": sum(s.unanswered for s in senders),
        "applications": sent,
        "answer_p50_ms": percentile(answers, 50) * 1000,
        "answer_p99_ms": percentile(answers, 99) * 1000,
        "lag_p50_ms": percentile(lags, 50) * 1000,
        "lag_p99_ms": percentile(lags, 99) * 1000,
        "cpu_share": result["cpu_share"],
        "floor_p50_ms": percentile(floor, 50) * 1000,
        "floor_p99_ms": percentile(floor, 99) * 1000,
    }


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM application")).scalar_one()


if __name__ == "__main__":
    print(run())
