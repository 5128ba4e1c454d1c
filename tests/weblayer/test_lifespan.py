"""An app stops even when its sync worker swallows a cancellation (weblayer.lifespan): a node whose
hub could not be reached hung on shutdown about one time in three, because nats-py's connect
retries for ever and Python 3.11's asyncio.wait_for inside it can lose the cancellation."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from litestar.testing import TestClient

from tests.support.builders import node_dir
from tests.support.polling import run_async
from weblayer.lifespan import cancel_all

HANG = 30.0  # seconds: far beyond a stop's normal fraction of a second, and short of the test timeout


def test_a_task_that_swallows_its_cancellation_is_cancelled_again():
    swallowed = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.append(True)  # as wait_for can in Python 3.11: the cancellation is lost
        await asyncio.sleep(3600)

    async def main() -> bool:
        task = asyncio.create_task(stubborn(), name="stubborn")
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_all([task]), HANG)
        return task.cancelled()

    assert run_async(main()) and swallowed == [True]


def test_a_node_whose_hub_is_unreachable_stops_every_time(tmp_path: Path):
    from edge_node.app import create_app
    from edge_node.settings import Settings

    for n in range(12):  # the old lifespan hung within the first three, nearly always
        data = node_dir(tmp_path / f"node{n}")  # its NATS address (port 9) refuses: connect retries for ever
        client = TestClient(create_app(Settings(data_dir=data)))
        client.__enter__()
        assert client.get("/api/health").json()["nats_connected"] is False
        stopped = threading.Event()
        threading.Thread(target=lambda c=client, s=stopped: (c.__exit__(None, None, None), s.set()), daemon=True).start()
        assert stopped.wait(HANG), f"stop {n} hung"
