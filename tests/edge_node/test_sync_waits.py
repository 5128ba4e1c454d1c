"""The node's sync worker never spins its event loop while it waits for a link (helper review,
finding 1): nats-py marks a connection as reconnecting before it calls the disconnect callback,
and for that time the worker's "up" event is still set although it is offline. A waiting loop
that awaited only that event never yielded, so the callback could never run: the process hung at
100 % CPU. The NATS client here is a stand-in at a boundary this project does not own (nats-py's
connection state); everything else is the node's own code on a real SQLite file."""

from __future__ import annotations

import asyncio
import threading

from nacl.signing import SigningKey

from edge_node.settings import NodeIdentity
from edge_node.sync import NodeSync
from tests.support.builders import HUB_KEY
from tests.support.polling import run_async


class Reconnecting:
    """nats-py between losing its socket and calling disconnected_cb."""

    is_connected = False
    is_closed = False


def test_asking_what_arrived_while_reconnecting_lets_the_event_loop_run(store, tmp_path):
    identity = NodeIdentity("shangcun", "上村", "village", SigningKey(bytes(range(1, 33))), HUB_KEY.verify_key, "nats://127.0.0.1:9")

    async def go() -> bool:
        worker = NodeSync(store, identity, tmp_path, tmp_path / "blobs")
        worker.nc = Reconnecting()
        worker._mark(True)  # the last callback said online: the disconnect callback has not run yet
        ran = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, ran.set)  # stands for that callback
        try:
            await asyncio.wait_for(worker.file_stored("ab" * 32, 10), timeout=1.0)
        except TimeoutError:
            pass  # still waiting for the link, as it should: patiently, and yielding
        return ran.is_set()

    result: dict[str, bool] = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("ran", asyncio.run(go())), daemon=True
    )  # a spinning loop never returns: fail, don't hang
    thread.start()
    thread.join(10)
    assert result.get("ran") is True, "the event loop never got to run: the wait spins"


def test_a_loop_whose_cancellation_was_swallowed_still_stops():
    """A suspect for the CI run that hung: on Python 3.11 asyncio.wait_for (nats-py's requests use
    it) can swallow a cancellation that arrives as what it waits for completes, and a worker loop
    would run on after its TaskGroup was cancelled, the group waiting for it for ever. Each loop
    of both workers checks at every turn whether it was asked to stop (edge_node/sync.py,
    central/sync.py still_wanted)."""
    from central.sync import still_wanted as hub_still_wanted
    from edge_node.sync import still_wanted

    async def go(check) -> bool:
        ended = False

        async def loop() -> None:
            while not ended:  # (only so that the test can end the unchecked loop afterwards)
                check()
                try:
                    await asyncio.sleep(0.01)
                except asyncio.CancelledError:
                    pass  # what a swallowed cancellation looks like to the loop

        task = asyncio.create_task(loop())
        await asyncio.sleep(0.05)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1)
        stopped = task in done and task.cancelled()
        ended = True
        await asyncio.gather(task, return_exceptions=True)
        return stopped

    # run_async, not asyncio.run: the browser tests keep an event loop running in the main thread
    assert run_async(go(still_wanted)) and run_async(go(hub_still_wanted))
    assert not run_async(go(lambda: None))  # the same loop without the check runs on


def test_waiting_for_an_event_is_cancelled_cleanly_and_times_out():
    from edge_node.sync import wait_event

    async def go() -> tuple[bool, bool, bool]:
        event = asyncio.Event()
        timed_out = not await wait_event(event, 0.05)
        event.set()
        was_set = await wait_event(event, 1.0)
        waiter = asyncio.create_task(wait_event(asyncio.Event(), None))
        await asyncio.sleep(0.02)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        return timed_out, was_set, waiter.cancelled()

    assert run_async(go()) == (True, True, True)
