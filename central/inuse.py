"""Which processes use the hub's database: every `hub serve` and `hub worker` holds it shared while
it runs, and `hub restore` holds it alone (central/backup.py). So a restore refuses while any hub
process uses that database, whatever ``--dir`` either was given (and, on PostgreSQL, from any
machine), and a hub started during a restore refuses to start. The lock is the operating system's
or the server's: it goes when its process ends, kill -9 included, and leaves nothing stale.

- SQLite: flock(2) on ``<database>.lock`` beside the database file. Not the database file
  itself: a restore replaces that file, and SQLite's own POSIX locks in a process are dropped
  when any descriptor of the file is closed. (No flock on Windows, where the hub is not run:
  there the lock is not taken.)
- PostgreSQL: a session-level advisory lock keyed by the hub's schema, on a connection kept
  for the process's life in autocommit (it holds no transaction open).

Apart from that, one `hub serve` per data directory (``serve.lock``): a second one, typed while
the service runs, ran as a whole second hub on another port (new-user pass). Workers are extra
processes by design and take no such lock.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class InUse(RuntimeError):
    """The database is held the other way: by a restore (for a hub process), or by a hub process
    (for a restore)."""


LOCK_SUFFIX = ".lock"


@contextmanager
def holding(url: str, alone: bool) -> Iterator[None]:
    """Hold the hub's database at ``url`` shared (a hub process) or ``alone`` (a restore) until
    the block ends; InUse at once when it is held the other way."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        with _sqlite(Path(parsed.database or ""), alone):
            yield
    elif parsed.drivername.startswith("postgresql"):
        with _postgresql(url, alone):
            yield
    else:
        yield


@contextmanager
def serving_alone(data_dir: Path) -> Iterator[None]:
    """The only `hub serve` on ``data_dir`` until the block ends; InUse at once if another is."""
    with _flock(data_dir / "serve.lock", alone=True, what=str(data_dir)):
        yield


@contextmanager
def _sqlite(database: Path, alone: bool) -> Iterator[None]:
    if fcntl is None or not database.name:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with _flock(database.with_name(database.name + LOCK_SUFFIX), alone, str(database)):
        yield


@contextmanager
def _flock(path: Path, alone: bool, what: str) -> Iterator[None]:
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if alone else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InUse(what) from None
        yield
    finally:
        os.close(fd)


@contextmanager
def _postgresql(url: str, alone: bool) -> Iterator[None]:
    from .backup import pg_schema

    key = int.from_bytes(hashlib.sha256(f"yiwang hub {pg_schema(url)}".encode()).digest()[:8], "big", signed=True)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            taken = conn.execute(text(f"SELECT pg_try_advisory_lock{'' if alone else '_shared'}(:key)"), {"key": key}).scalar()
            if not taken:
                raise InUse(make_url(url).render_as_string(hide_password=True))
            yield  # the lock goes with the connection
    finally:
        engine.dispose()
