"""Weak links: a village's day over a 2G-class link, the bytes an application costs on the wire,
and what an idle point costs — all through the shaping proxy of the tests (tests/support/
shaping.py) between a real node process and the real NATS server and hub.

- **Village day** (``YIWANG_BENCH_VILLAGE_PHOTOS`` sets how many photos): CASES applications with PHOTOS phone photos (12-megapixel JPEGs of generated
  documents) taken offline, then the link comes up at 64 kbit/s, 300 ms one way, cut every
  2 minutes. Figure: the time from the link coming up until everything is applied at the hub.
  Baselines, same run: the link's physical limit for the bytes that had to travel (batches as
  sealed plus files as optimised, at 64 kbit/s, no latency, no cut), and the same for the
  originals sent as they were (photos as taken, batch bodies uncompressed) — that one is
  computed from the byte counts, not sent: it would take hours.
- **Bytes per application**: 200 applications (no photos) queued offline, then a 256 kbit/s
  link: bytes through the proxy upwards, per application (TLS, NATS framing, status requests and
  keep-alives included). Baseline: the batches' own wire bytes per application.
- **Idle cost**: an idle connected point for IDLE_S seconds at the default heartbeat (60 s) and
  keep-alive (7 s): bytes on its link per day, and what its heartbeats add to the hub's database
  and the NATS server (measured over 120 heartbeats at a fast interval, scaled to a day at one
  a minute). Baseline, same run: 120 heartbeats as the chain records they used to be (and older
  nodes still send), sealed with the real protocol code and ingested into a scratch hub database
  by the hub's own ingest: their wire bytes and the database's growth, scaled the same way.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from datetime import UTC
from pathlib import Path

import nats

from provisioning.federation import LocalFederation
from sync_protocol import BLOB_STREAM, DOWNLINK_STREAM, UPLINK_STREAM, inflate_body
from tests.images import document_photo
from tests.support.api import Api
from tests.support.builders import checked, household, resident_id
from tests.support.federation import running_federation as federation
from tests.support.federation import village
from tests.support.shaping import ShapingProxy

from .common import hub_count, wait_for

CASES = 30
PHOTOS = int(os.environ.get("YIWANG_BENCH_VILLAGE_PHOTOS", "90"))  # 90 photos take about half an hour at 64 kbit/s
LINK_KBIT, ONE_WAY_MS, CUT_EVERY_S = 64, 300, 120.0
IDLE_S = 120.0
DAY_S = 86_400


def _node_bytes(fed: LocalFederation, node_id: str) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{fed.node_dir(node_id) / 'node.sqlite3'}?mode=ro", uri=True)
    try:
        wires = [bytes(r[0]) for r in conn.execute("SELECT wire FROM uplink_batches")]
        files = conn.execute("SELECT COALESCE(SUM(size), 0) FROM blob_uploads").fetchone()[0]
        originals = conn.execute("SELECT COALESCE(SUM(COALESCE(original_size, size)), 0) FROM materials").fetchone()[0]
    finally:
        conn.close()
    return {
        "batches": sum(map(len, wires)),
        "plain_batches": sum(64 + len(inflate_body(w[64:])) for w in wires),
        "files": files,
        "originals": originals,
        "n_batches": len(wires),
    }


def _node_behind(
    fed: LocalFederation, node_id: str, kbit: float | None, one_way_ms: float, env: dict[str, str] | None = None
) -> tuple[ShapingProxy, Api, str]:
    proxy = ShapingProxy(fed.nats_port, kbit_per_s=kbit, one_way_ms=one_way_ms).start()
    proxy.silence()
    spec = village(node_id)
    spec.nats_url = proxy.url
    spec.env = env or {}
    fed.enrol_node(spec)
    fed.start_node(spec)
    return proxy, Api(f"http://127.0.0.1:{spec.port}", "agent", fed.password), f"http://127.0.0.1:{spec.port}"


def village_day(cases: int = CASES, photos: int = PHOTOS) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        proxy, agent, _ = _node_behind(fed, "day", LINK_KBIT, ONE_WAY_MS)
        ids = []
        for n in range(cases):
            r = agent.post(
                "/api/applications",
                json={
                    "item_code": "MZ-001",
                    "materials_checked": checked("MZ-001"),
                    "applicant_name": f"村民{n}",
                    "applicant_id_number": resident_id(7000 + n),
                    "form": household(7000 + n, f"村民{n}"),
                },
            )
            r.raise_for_status()
            ids.append(r.json()["id"])
        for p in range(photos):
            photo = document_photo(p, lines=24)
            agent.post(
                f"/api/applications/{ids[p % cases]}/materials", data={"material": f"材料{p}"}, files={"file": (f"{p}.jpg", photo, "image/jpeg")}
            ).raise_for_status()
        proxy.restore()
        up = time.monotonic()
        proxy.cut_every(CUT_EVERY_S, down_s=5)
        wait_for(
            lambda: (
                hub_count(fed, "SELECT COUNT(*) FROM application WHERE node_id = 'day'") == cases
                and hub_count(fed, "SELECT COUNT(*) FROM blob WHERE complete_at IS NOT NULL") == photos
            ),
            6 * 3600,
            1.0,
            what="the village day at the hub",
        )
        took = time.monotonic() - up
        sizes = _node_bytes(fed, "day")
        rate = LINK_KBIT * 1000 / 8
        proxy.stop()
        return {
            "cases": cases,
            "photos": photos,
            "took_s": took,
            "cuts": proxy.cuts,
            "wire_up": proxy.up.forwarded,
            "limit_s": (sizes["batches"] + sizes["files"]) / rate,
            "originals_s": (sizes["plain_batches"] + sizes["originals"]) / rate,
            **sizes,
        }


def bytes_per_application(count: int = 200) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        proxy, agent, _ = _node_behind(fed, "bytes", 256, 100)
        for n in range(count):
            agent.post(
                "/api/applications",
                json={
                    "item_code": "MZ-001",
                    "materials_checked": checked("MZ-001"),
                    "applicant_name": f"申请人{n:03d}",
                    "applicant_id_number": resident_id(4000 + n),
                },
            ).raise_for_status()
        time.sleep(1)
        proxy.restore()
        wait_for(
            lambda: hub_count(fed, "SELECT COUNT(*) FROM application") == count and agent.get("/api/status").json()["waiting_events"] == 0,
            600,
            0.2,
            what="the applications at the hub",
        )
        sizes = _node_bytes(fed, "bytes")
        proxy.stop()
        return {
            "count": count,
            "wire_per_app": proxy.up.forwarded / count,
            "batch_per_app": sizes["batches"] / count,
            "plain_per_app": sizes["plain_batches"] / count,
        }


def _stream_bytes(fed: LocalFederation) -> int:
    async def go() -> int:
        nc = await nats.connect(fed.nats_url, **fed.nats_options())
        js = nc.jetstream()
        total = sum([(await js.stream_info(s)).state.bytes for s in (UPLINK_STREAM, DOWNLINK_STREAM, BLOB_STREAM)])
        await nc.close()
        return total

    return asyncio.run(go())


def _hub_db_bytes(fed: LocalFederation) -> int:
    with sqlite3.connect(fed.root / "hub" / "hub.sqlite3") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
        return pages * conn.execute("PRAGMA page_size").fetchone()[0]


def idle_cost(idle_s: float = IDLE_S) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        proxy, agent, _ = _node_behind(fed, "idle", None, 0)
        proxy.restore()
        wait_for(lambda: agent.get("/api/status").json()["link"]["statuses_answered"] >= 1, 60, 0.2, what="the idle point online")
        link0, t0 = proxy.up.forwarded + proxy.down.forwarded, time.monotonic()
        time.sleep(idle_s)
        link_per_day = (proxy.up.forwarded + proxy.down.forwarded - link0) / (time.monotonic() - t0) * DAY_S
        proxy.stop()
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        proxy, agent, _ = _node_behind(fed, "idle", None, 0, env={"YIWANG_HEARTBEAT_SECONDS": "0.25"})
        proxy.restore()
        wait_for(lambda: agent.get("/api/status").json()["link"]["statuses_answered"] >= 1, 60, 0.2, what="the idle point online")
        db0, js0, beats0 = _hub_db_bytes(fed), _stream_bytes(fed), agent.get("/api/status").json()["link"]["statuses_answered"]
        wait_for(lambda: agent.get("/api/status").json()["link"]["statuses_answered"] - beats0 >= 120, 120, 0.2, what="120 heartbeats")
        beats = agent.get("/api/status").json()["link"]["statuses_answered"] - beats0
        db1, js1 = _hub_db_bytes(fed), _stream_bytes(fed)
        proxy.stop()
    scale = DAY_S / 60 / beats
    old = _old_heartbeats(120)
    return {
        "link_per_day": link_per_day,
        "db_per_day": (db1 - db0) * scale,
        "js_per_day": (js1 - js0) * scale,
        "beats": beats,
        "old_db_per_day": old["db"] * DAY_S / 60 / 120,
        "old_wire_per_day": old["wire"] * DAY_S / 60 / 120,
    }


def _old_heartbeats(count: int) -> dict[str, int]:
    """What ``count`` node.heartbeat chain records cost: their batches' wire bytes, and the
    growth of a hub database that ingests them (the hub's own ingest; older nodes still send them)."""
    import uuid
    from datetime import datetime

    from nacl.signing import SigningKey
    from sqlmodel import Session

    from central.db import create_schema, make_engine
    from central.ingest import ingest_batch
    from central.models import Node
    from sync_protocol import GENESIS, NODE_HEARTBEAT, Record, format_time, seal_next, uplink_subject, verify_key_to_text

    key = SigningKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "hub.sqlite3"
        engine = make_engine(f"sqlite:///{db}")
        create_schema(engine)
        with Session(engine) as session:
            session.add(
                Node(
                    id="idle", name="idle", kind="village", public_key=verify_key_to_text(key.verify_key), enrolled_at=format_time(datetime.now(UTC))
                )
            )
            session.commit()

        def used() -> int:
            with sqlite3.connect(db) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return (conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]) * conn.execute(
                    "PRAGMA page_size"
                ).fetchone()[0]

        before, pos, wire_bytes = used(), GENESIS, 0
        for _ in range(count):
            now = format_time(datetime.now(UTC))
            record = Record(NODE_HEARTBEAT, str(uuid.uuid4()), now, {"app_version": "0.1.0", "catalog_version": 1, "outbox_depth": 0, "clock": now})
            wire, pos = seal_next("idle", "up", pos, [record], now, key)
            wire_bytes += len(wire)
            ingest_batch(engine, uplink_subject("idle"), wire)
        grown = used() - before
        engine.dispose()
    return {"db": grown, "wire": wire_bytes}


def run() -> dict[str, dict[str, float]]:
    return {"day": village_day(), "bytes": bytes_per_application(), "idle": idle_cost()}


if __name__ == "__main__":
    import sys

    print({"day": village_day(int(sys.argv[1]), int(sys.argv[2]))} if len(sys.argv) == 3 else run())
