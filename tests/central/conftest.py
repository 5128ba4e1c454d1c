"""Every hub test that takes ``hub_db_url`` runs twice: on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg


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
