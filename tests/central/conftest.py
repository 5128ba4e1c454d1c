"""Every hub test that takes ``hub_db_url`` (or ``engine``) runs twice: on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from central.auth import add_user
from central.catalog import load_catalog, sample_catalog
from central.db import create_schema, make_engine
from central.models import Node
from sync_protocol import verify_key_to_text
from tests import pg
from tests.support.builders import NODE_KEY, T


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite3'}"
        return
    reason = pg.unreachable()
    if reason:
        pytest.skip(f"hub test on PostgreSQL skipped: {reason}")
    with pg.scratch_schema() as url:
        yield url


@pytest.fixture
def engine(hub_db_url: str) -> Iterator[Engine]:
    """A hub database with the sample catalog, the point shangcun (NODE_KEY) and two clerks."""
    engine = make_engine(hub_db_url)
    create_schema(engine)
    load_catalog(engine, sample_catalog())
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    add_user(engine, "clerk-mzj", "王敏", "clerk", "pw", department="mzj")
    add_user(engine, "clerk-rsj", "李强", "clerk", "pw", department="rsj")
    yield engine
    engine.dispose()
