"""Hub upgrades from every schema version ever released (issue 17, finding 7). Each old schema is
built from its real historical DDL — tests/central/schemas/hub_v<N>.sql, dumped once from the
code that made it (regenerate.sh says how) — then migrated by today's create_schema, and the
result compared with today's models: every table, column, nullability and index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel

from central import models  # noqa: F401  (registers the tables)
from central.db import LATEST, create_schema, make_engine, schema_version

SCHEMAS = sorted((Path(__file__).parent / "schemas").glob("hub_v*.sql"), key=lambda p: int(p.stem[5:]))


def shape(engine) -> dict:
    """Tables -> ({(column, nullable)}, {indexed column tuples}) as the database has them."""
    found = inspect(engine)
    return {
        t: ({(c["name"], bool(c["nullable"])) for c in found.get_columns(t)}, {tuple(i["column_names"]) for i in found.get_indexes(t)})
        for t in found.get_table_names()
    }


def test_every_released_version_has_its_fixture():
    assert [int(p.stem[5:]) for p in SCHEMAS] == list(range(1, LATEST))


@pytest.mark.parametrize("ddl", SCHEMAS, ids=lambda p: p.stem)
def test_a_database_made_by_a_released_version_migrates_to_todays_models(tmp_path, ddl):
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as conn:
        conn.executescript(ddl.read_text())
    migrated = make_engine(f"sqlite:///{old}")
    create_schema(migrated)
    assert schema_version(migrated) == LATEST
    fresh = make_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    create_schema(fresh)
    got, want = shape(migrated), shape(fresh)
    assert set(got) == set(want) and set(SQLModel.metadata.tables) <= set(want)
    for table in want:
        assert got[table][0] == want[table][0], (table, got[table][0] ^ want[table][0])
        assert got[table][1] == want[table][1], (table, got[table][1] ^ want[table][1])
    migrated.dispose()
    fresh.dispose()
