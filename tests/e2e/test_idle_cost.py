"""Cost follows work, not time: an idle point's heartbeats leave nothing behind at the hub (its
status is one row updated in place) and nothing on the NATS server, and once a workload has been
applied and acknowledged the streams are back to empty."""

from __future__ import annotations

import sqlite3
import time

import nats
import pytest

from provisioning.federation import LocalFederation
from sync_protocol import BLOB_STREAM, DOWNLINK_STREAM, UPLINK_STREAM
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import village
from tests.support.polling import eventually, run_async

from ..images import document_photo

pytestmark = pytest.mark.e2e
HEARTBEAT_S = 0.25
DAY_S = 24 * 3600
DEFAULT_HEARTBEAT_S = 60


def hub_db_size(federation: LocalFederation) -> tuple[int, int]:
    """(rows in every table, bytes in use) of the hub's SQLite file, the WAL folded in first."""
    with sqlite3.connect(federation.root / "hub" / "hub.sqlite3") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = sum(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables)
        in_use = (conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]) * conn.execute(
            "PRAGMA page_size"
        ).fetchone()[0]
    return rows, in_use


def stream_state(federation: LocalFederation) -> dict[str, tuple[int, int]]:
    async def read() -> dict[str, tuple[int, int]]:
        nc = await nats.connect(federation.nats_url, **federation.nats_options())
        js = nc.jetstream()
        out = {}
        for name in (UPLINK_STREAM, DOWNLINK_STREAM, BLOB_STREAM):
            info = await js.stream_info(name)
            out[name] = (info.state.messages, info.state.bytes)
        await nc.close()
        return out

    return run_async(read())


def test_an_idle_point_costs_nothing_and_the_streams_empty_after_work(federation: LocalFederation):
    spec = village("shangcun")
    spec.env = {"YIWANG_HEARTBEAT_SECONDS": str(HEARTBEAT_S)}
    federation.enrol_node(spec)
    federation.start_node(spec)
    operator = Api(federation.hub_url, "operator", federation.password)

    def beats() -> int:
        return next(n for n in operator.get("/api/dashboard").json()["nodes"] if n["id"] == "shangcun")["heartbeat_at"] is not None

    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)

    def answered() -> int:
        return agent.get("/api/status").json()["link"]["statuses_answered"]

    eventually(beats, what="the first status at the hub")
    before_rows, before_bytes = hub_db_size(federation)
    first = answered()
    # 120 heartbeats: two hours' worth at the default interval
    eventually(lambda: answered() - first >= 120, timeout=90, what="120 heartbeats answered")
    after_rows, after_bytes = hub_db_size(federation)
    heartbeats = answered() - first
    per_day = (after_bytes - before_bytes) / heartbeats * (DAY_S / DEFAULT_HEARTBEAT_S)
    print(
        f"\n{heartbeats} heartbeats: {after_rows - before_rows} rows, {after_bytes - before_bytes} bytes at the hub ({per_day:.0f} bytes/day at one a minute)"
    )
    assert after_rows == before_rows, "an idle point's heartbeats added rows"
    assert per_day <= 10_000, f"an idle point would add {per_day:.0f} bytes a day"
    assert all(messages == 0 for messages, _ in stream_state(federation).values())  # heartbeats are not stored on the NATS server

    # a workload: applications, a photo, and decisions going back down
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    ids = []
    for n in range(30):
        response = agent.post(
            "/api/applications",
            json={
                "item_code": "MZ-003",  # accepted by the county's 民政局 (低保 is accepted at the township)
                "materials_checked": checked("MZ-003"),
                "applicant_name": f"申请人{n}",
                "applicant_id_number": resident_id(500 + n),
            },
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert (
        agent.post(
            f"/api/applications/{ids[0]}/materials",
            data={"material": "居民身份证"},
            files={"file": ("证.jpg", document_photo(3, lines=12), "image/jpeg")},
        ).status_code
        == 201
    )
    eventually(lambda: clerk.get(f"/api/applications/{ids[-1]}").status_code == 200, what="the applications at the hub")
    for app_id in ids[:10]:
        assert clerk.post(f"/api/applications/{app_id}/acceptance").status_code == 200
    eventually(lambda: sum(a["status"] == "accepted" for a in agent.get("/api/applications").json()) == 10, what="the acceptances at the node")
    eventually(lambda: clerk.get(f"/api/applications/{ids[0]}").json()["materials_complete"], what="the photo at the hub")

    def drained() -> dict[str, tuple[int, int]] | None:
        state = stream_state(federation)
        return state if all(messages == 0 for messages, _ in state.values()) else None

    state = eventually(drained, what="every stream empty once applied and acknowledged")
    assert sum(size for _, size in state.values()) <= 1_000_000
    print(f"streams after the workload: {state}")


def test_a_node_upgraded_before_its_hub_sends_heartbeats_the_old_way_until_a_hub_answers(federation: LocalFederation):
    """Upgrades in any order: a hub that never answered a status (here: none running yet, as an
    older hub never would) still gets this node's heartbeats, as the chain records it knows."""
    spec = village("shangcun")
    spec.env = {"YIWANG_HEARTBEAT_SECONDS": "1"}
    federation.enrol_node(spec)
    federation.stop("hub")
    federation.start_node(spec)
    node_db = federation.node_dir("shangcun") / "node.sqlite3"

    def legacy() -> int:
        with sqlite3.connect(node_db) as conn:
            return conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'node.heartbeat'").fetchone()[0]

    eventually(lambda: legacy() >= 2, what="heartbeat records while no hub answers")
    federation.start_hub()
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    eventually(lambda: agent.get("/api/status").json()["link"]["statuses_answered"] >= 1, what="the hub to answer a status")
    operator = Api(federation.hub_url, "operator", federation.password)
    eventually(
        lambda: next(n for n in operator.get("/api/dashboard").json()["nodes"] if n["id"] == "shangcun")["heartbeat_at"],
        what="the heartbeats at the hub",
    )
    settled = legacy()
    federation.stop("hub")  # a hub that answered once and is now down: no more chain records
    time.sleep(4)  # four heartbeat intervals unanswered
    assert legacy() == settled
    federation.start_hub()
