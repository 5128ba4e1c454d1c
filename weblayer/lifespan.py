"""The background work an app runs while it serves (its sync worker and the like), started with
the app and stopped with it, for both apps alike.

Stopping must not hang. A task that is cancelled can swallow the cancellation: Python 3.11's
``asyncio.wait_for`` loses one that arrives just as its inner call finishes, and nats-py's
``connect`` calls it on every attempt, then tries the next server for ever
(``max_reconnect_attempts=-1``). A node whose hub was unreachable then never shut down: the
service manager's stop, or Ctrl-C, waited for good. So each task is cancelled again until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

__all__ = ["background", "cancel_all"]

log = logging.getLogger("yiwang.web")

RECANCEL_S = 0.5  # how often a task that is still running is cancelled again
GIVE_UP_S = 30.0  # then it is left to the process's exit, and the log says so


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` until every one has ended (or GIVE_UP_S has passed)."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(int(GIVE_UP_S / RECANCEL_S)):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("background task %s had failed", task.get_name(), exc_info=task.exception())
    for task in pending:
        log.error("background task %s did not stop within %g s; leaving it to the process's exit", task.get_name(), GIVE_UP_S)


def background(
    work: Callable[[], dict[str, Coroutine[Any, Any, Any]]], stop: Callable[[], None]
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A Litestar lifespan: the coroutines ``work()`` returns (by task name) run while the app
    serves; then they are cancelled (see the module's docstring) and ``stop()`` runs."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(coroutine, name=name) for name, coroutine in work().items()]
        try:
            yield
        finally:
            await cancel_all(tasks)
            stop()

    return lifespan
