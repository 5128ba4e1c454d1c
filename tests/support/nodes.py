"""A node's side played by a test: its sync worker's link, its identity and status, NATS injections, a node store with a case."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import nats

from edge_node import cases, link, materials
from edge_node.app import open_store
from edge_node.catalog import install_catalog
from edge_node.settings import NodeIdentity, Settings
from edge_node.store import Store, set_meta
from provisioning.federation import LocalFederation
from sync_protocol import GENESIS, MATERIAL_RECEIVED, Accepted, ChainPos, LinkMeter, Record, format_time, seal_next, seal_status
from tests.support.builders import AGENT, CATALOG, HUB_KEY, checked, household, resident_id
from tests.support.federation import village
from tests.support.polling import run_async


class UploadLink:
    """What send_pending needs of the sync worker (blobs.Link): a real meter and byte counter, a
    connection that is never reported lost; no hub to ask, as when the hub is down (the transfer
    then retries from what PubAcks confirmed)."""

    def __init__(self) -> None:
        self.meter, self.usage, self.uplink_busy, self.lost = LinkMeter(), link.DailyBytes(), False, asyncio.Event()

    async def file_stored(self, sha256: str, size: int) -> int | None:
        return None


def offline_case(federation: LocalFederation, n: int):
    """An enrolled village whose node process is not running (the test plays its sync worker),
    with one application taken: (settings, identity, store, application)."""
    federation.enrol_node(village("shangcun"))
    settings = Settings(data_dir=federation.node_dir("shangcun"))
    identity = NodeIdentity.load(settings)
    store = open_store(settings, identity)
    app = cases.submit_application(
        store,
        {"item_code": "MZ-001", "applicant_name": "李桂芳", "applicant_id_number": resident_id(n), "form": household(n)},
        AGENT,
        checked=checked("MZ-001"),
    )
    return settings, identity, store, app


def blob_complete(federation: LocalFederation, sha: str) -> bool:
    """Whether the hub holds the verified file."""
    with sqlite3.connect(federation.root / "hub" / "hub.sqlite3") as conn:
        row = conn.execute("SELECT complete_at FROM blob WHERE sha256 = ?", (sha,)).fetchone()
    return bool(row and row[0])


def identity(federation: LocalFederation, node_id: str) -> NodeIdentity:
    return NodeIdentity.load(Settings(data_dir=federation.node_dir(node_id)))


def status_of(ident: NodeIdentity) -> bytes:
    return seal_status(
        {"node": ident.node_id, "at": format_time(datetime.now(UTC)), "up_seq": 0, "outbox_depth": 0, "app_version": "x", "catalog_version": 1},
        ident.key,
    )


def publish(federation: LocalFederation, subject: str, payload: bytes, msg_id: str) -> None:
    """Inject with the hub's own NATS identity: these tests prove the hub's checks hold even for
    bytes that got past NATS permissions (test_nats_permissions shows a node cannot send them)."""

    async def go() -> None:
        nc = await nats.connect(federation.nats_url, **federation.nats_options())
        await nc.jetstream().publish(subject, payload, headers={"Nats-Msg-Id": msg_id}, timeout=10)
        await nc.close()

    run_async(go())


async def connect_as(federation: LocalFederation, node_id: str) -> str:
    try:
        nc = await nats.connect(
            federation.nats_url, **federation.nats_options(node_id), allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )
    except Exception as exc:  # the message is what matters
        return str(exc)
    await nc.close()
    return "connected"


NOW = "2026-11-23T09:00:00.000000Z"


class Node:
    def __init__(self, tmp_path: Path) -> None:
        self.store = Store(tmp_path / "node.sqlite3")
        self.blobs_dir = tmp_path / "blobs"
        with self.store.write() as conn:
            set_meta(conn, "node_id", "shangcun")
        install_catalog(self.store, CATALOG)
        self.app = cases.submit_application(
            self.store, {"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": resident_id(3)}, AGENT
        )
        self.down = GENESIS

    def attach(self, content: bytes, name: str = "居民身份证") -> str:
        return materials.attach_material(self.store, self.blobs_dir, self.app["id"], name, "scan.jpg", content, AGENT)["sha256"]

    def receipt(self, sha: str, size: int) -> None:
        record = Record(MATERIAL_RECEIVED, f"r-{sha[:8]}-{self.down.seq}", NOW, {"sha256": sha, "size": size, "received_at": NOW})
        wire, self.down = seal_next("shangcun", "down", ChainPos(self.down.seq, self.down.head), [record], NOW, HUB_KEY)
        assert isinstance(link.apply_downlink(self.store, "shangcun", HUB_KEY.verify_key, wire), Accepted)

    def state(self, sha: str) -> dict:
        return next(m for m in materials.list_materials(self.store, self.blobs_dir, self.app["id"]) if m["sha256"] == sha)
