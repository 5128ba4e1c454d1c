"""Structured concurrency: each sync worker runs its loops as one set (asyncio.TaskGroup). A connection that
is closed for good ends the set, the first loop to fail cancels the others, and the worker starts
a new set on a new connection — no loop outlives its connection, however often that happens.
Real nats-server, real hub process, the workers in this process so their tasks can be counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from central.db import make_engine
from central.keys import load_hub_key
from central.settings import Settings as HubSettings
from central.sync import HubSync
from edge_node.sync import NodeSync
from provisioning.federation import LocalFederation
from tests.support.nodes import offline_case
from tests.support.polling import run_async

pytestmark = pytest.mark.e2e
FORCED = 20


async def until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def loops(prefix: str) -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(prefix) and not t.done())


async def force_reconnects(worker, prefix: str, expected: int) -> tuple[list[str], list[str], int, int]:
    """Close the worker's connection FORCED times, each time waiting for its new set of loops;
    return (loops before, loops after, all tasks before, all tasks after)."""
    await until(lambda: worker.nc is not None and worker.nc.is_connected and len(loops(prefix)) == expected, "the worker's loops")
    await asyncio.sleep(0.5)  # settled: its first exchanges done
    before, tasks_before = loops(prefix), len(asyncio.all_tasks())
    for n in range(FORCED):
        old = worker.nc
        await old.close()  # closed for good, as when NATS gives up on a connection
        await until(lambda old=old: worker.nc is not old and worker.nc.is_connected and len(loops(prefix)) == expected, f"reconnect {n + 1}")
    await asyncio.sleep(0.5)
    return before, loops(prefix), tasks_before, len(asyncio.all_tasks())


def test_twenty_forced_reconnects_leave_the_node_workers_tasks_where_they_started(federation: LocalFederation):
    settings, identity, store, _ = offline_case(federation, 21)

    async def go() -> tuple[list[str], list[str], int, int]:
        sync = NodeSync(store, identity, settings.data_dir, settings.blobs_dir, heartbeat_seconds=60, restart_delay=0.05)
        worker = asyncio.create_task(sync.run())
        try:
            return await force_reconnects(sync, "node-sync-", 5)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    before, after, tasks_before, tasks_after = run_async(go())
    assert before == after == ["node-sync-connection", "node-sync-downlink", "node-sync-files", "node-sync-status", "node-sync-uplink"]
    assert tasks_after <= tasks_before + 2, (tasks_before, tasks_after)  # (a long poll's two waits come and go)
    store.close()


def test_twenty_forced_reconnects_leave_the_hub_workers_tasks_where_they_started(federation: LocalFederation):
    """An extra ingest worker (`yiwang hub worker`) and a full one (the hub's, with its key) on
    the federation's hub database, beside the hub process itself."""
    settings = HubSettings(data_dir=federation.root / "hub", nats_url=federation.nats_url)
    engine = make_engine(settings.database_url)

    async def go(key) -> tuple[list[str], list[str], int, int]:
        sync = HubSync(engine, key, settings.nats_url, settings.blobs_dir, settings.nats_dir, restart_delay=0.05)
        worker = asyncio.create_task(sync.run())
        try:
            return await force_reconnects(sync, "hub-sync-", 2 if key is None else 6)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    try:
        before, after, tasks_before, tasks_after = run_async(go(None))
        assert before == after == ["hub-sync-connection", "hub-sync-ingest"]
        assert tasks_after <= tasks_before + 2, (tasks_before, tasks_after)
        before, after, tasks_before, tasks_after = run_async(go(load_hub_key(settings.key_path)))
        assert before == after and len(after) == 6, after
        assert tasks_after <= tasks_before + 2, (tasks_before, tasks_after)
    finally:
        engine.dispose()
