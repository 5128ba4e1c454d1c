"""Which processes use the hub's database: every `hub serve` and `hub worker` holds it shared while
it runs, and `hub restore` holds it alone (central/backup.py). So a restore refuses while any hub
process uses that database, whatever ``--dir`` either was given (and, on PostgreSQL, from any
machine), and a hub started during a restore refuses to start. The lock is the operating system's
or the server's: it goes when its process ends, kill -9 included, and leaves nothing stale.

- SQLite: flock(2) on ``<database>.lock`` beside the database file. Not the database file
  itself: a restore replaces that file, and SQLite's own POSIX locks in a process are dropped
  when any descriptor of the file is closed. (No flock on Windows, where the hub is not run:
  there the lock is not taken.)
- PostgreSQL: a session-level advisory lock keyed by the hub's schema (as PostgreSQL names it),
  on a connection kept for the process's life in autocommit (it holds no transaction open),
  checked every 10 s: a lock lost with its connection is taken again, or the process stops.

Apart from that, one `hub serve` per data directory (``serve.lock``): a second one, typed while
the service runs, ran as a whole second hub on another port (new-user pass). Workers are extra
processes by design and take no such lock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class InUse(RuntimeError):
    """The database is held the other way: by a restore (for a hub process), or by a hub process
    (for a restore)."""


LOCK_SUFFIX = ".lock"
WATCH_S = 10.0  # how often a hub process checks it still holds its PostgreSQL lock
log = logging.getLogger("yiwang.hub.inuse")


@contextmanager
def holding(url: str, alone: bool, watch_s: float = WATCH_S) -> Iterator[None]:
    """Hold the hub's database at ``url`` shared (a hub process) or ``alone`` (a restore) until
    the block ends; InUse at once when it is held the other way. ``watch_s``: how often a hub
    process checks it still holds its PostgreSQL lock."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        with _sqlite(Path(parsed.database or ""), alone):
            yield
    elif parsed.drivername.startswith("postgresql"):
        with _postgresql(url, alone, watch_s):
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
    database = database.resolve()  # the file, however it is reached (a symlink to it got past the lock)
    with _flock(database.with_name(database.name + LOCK_SUFFIX), alone, str(database)):
        yield


@contextmanager
def _flock(path: Path, alone: bool, what: str) -> Iterator[None]:
    if fcntl is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # made by root (a restore): the service user's still
            owner = path.parent.stat()
            os.fchown(fd, owner.st_uid, owner.st_gid)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if alone else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InUse(what) from None
        yield
    finally:
        os.close(fd)


@contextmanager
def _postgresql(url: str, alone: bool, watch_s: float) -> Iterator[None]:
    from .backup import pg_schema

    key = int.from_bytes(hashlib.sha256(f"yiwang hub {pg_schema(url)}".encode()).digest()[:8], "big", signed=True)
    engine = create_engine(url, pool_size=2, max_overflow=0)
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        conn = _take(engine, key, alone, shown)
        if alone:  # a restore: minutes at most, and it stops if its own connection fails
            with conn:
                yield
            return
        stop = threading.Event()
        watch = threading.Thread(target=_keep, args=(engine, key, conn, shown, stop, watch_s), name="database-lock", daemon=True)
        watch.start()
        try:
            yield
        finally:
            stop.set()
            watch.join(watch_s + 5)
    finally:
        engine.dispose()


def _take(engine: Engine, key: int, alone: bool, shown: str) -> Connection:
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    if not conn.execute(text(f"SELECT pg_try_advisory_lock{'' if alone else '_shared'}(:key)"), {"key": key}).scalar():
        conn.close()
        raise InUse(shown)
    return conn


def _keep(engine: Engine, key: int, conn: Connection, shown: str, stop: threading.Event, watch_s: float) -> None:
    """A hub process's lock lives on one idle connection, and goes with it: a PostgreSQL restart,
    an idle-session timeout or pg_terminate_backend, and a restore could run under a hub that
    noticed nothing (adversarial pass). Every ``watch_s`` the lock is checked; lost, it is taken
    again on a new connection, and if a restore holds it by then, this process stops (SIGTERM: its
    service starts it again, and it refuses to start until the restore has finished)."""
    while not stop.wait(watch_s):
        try:
            if conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted")).scalar():
                continue
        except Exception:  # the connection is gone: so is the lock
            log.warning("the lock on the database %s went with its connection", shown)
        try:
            conn.close()
        except Exception:
            pass
        try:
            conn = _take(engine, key, False, shown)
        except Exception as exc:
            log.error("the database %s cannot be held again (%s): a restore may be under way; this process stops", shown, exc)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        log.warning("the lock on the database %s is held again", shown)
    conn.close()
