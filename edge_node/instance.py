"""One `yiwang node serve` per data directory. A second one (typed while the service runs, or a
second service) would serve the same point from the same database and keys: two senders of one
chain. It is refused at start. The lock is the operating system's on ``node.lock``: it goes when
its process ends, kill -9 or a power cut included, so nothing stale stops the next start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK = "node.lock"


class AlreadyServing(RuntimeError):
    pass


@contextmanager
def only_instance(data_dir: Path) -> Iterator[None]:
    fd = os.open(data_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            _lock(fd)
        except OSError:
            raise AlreadyServing(str(data_dir)) from None
        yield
    finally:
        os.close(fd)


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: a byte of the file (it is not the database, so its mandatory lock harms nothing)
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
