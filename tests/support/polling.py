"""Waiting for what real processes do: poll a condition, run a coroutine off the main thread."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from typing import TypeVar

X = TypeVar("X")


def eventually(check: Callable[[], X], timeout: float = 45.0, what: str = "condition") -> X:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def run_async(coro, timeout: float = 420):
    """Run a coroutine to completion on its own thread: the browser tests' sync Playwright keeps an
    event loop running in the main thread for the whole session, so asyncio.run() there fails.
    A coroutine still running after ``timeout`` seconds fails the test with the stack of every task
    on its loop, and is left behind on its (daemon) thread: one hung test must not hang the suite
    (pytest-timeout's alarm alone cannot end it: the thread would be joined for ever)."""

    outcome: dict[str, object] = {}
    runner = asyncio.Runner()  # as asyncio.run(): what is left is cancelled, the executor shut down

    def target() -> None:
        with runner:
            try:
                outcome["result"] = runner.run(coro)
            except BaseException as exc:
                outcome["error"] = exc

    thread = threading.Thread(target=target, name="run_async", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        stacks = io.StringIO()
        for task in asyncio.all_tasks(runner.get_loop()):
            task.print_stack(limit=8, file=stacks)
        raise AssertionError(f"coroutine still running after {timeout:g} s; its tasks:\n{stacks.getvalue()}")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")
