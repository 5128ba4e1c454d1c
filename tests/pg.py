"""PostgreSQL for the hub tests: a scratch schema per test in a real server.

The server is ``$YIWANG_TEST_PG_URL`` (default: this machine's PostgreSQL, trust auth, database
``test``). Each test gets a schema of its own (the URL sets ``search_path`` to it), dropped
afterwards, so tests neither see each other's rows nor need CREATE DATABASE. When no server
answers, the PostgreSQL half of the hub tests is skipped with that reason, and the run's summary
says so (see ``pytest_terminal_summary`` in tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

PG_URL = os.environ.get("YIWANG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@cache
def _admin() -> Engine:
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}, pool_size=1)


@cache
def unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed"
    try:
        with _admin().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: not usable here, skip with the reason
        return f"PostgreSQL at {make_url(PG_URL).render_as_string(hide_password=True)} not reachable ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})"
    return None


@contextmanager
def scratch_schema() -> Iterator[str]:
    """A new empty schema; yields a database URL whose connections use only it. Dropped after."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with _admin().connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
    finally:
        with _admin().connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
