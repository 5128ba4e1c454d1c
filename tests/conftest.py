"""Shared fixtures. Everything here is real: SQLite files, nats-server from the wheel, processes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.federation import LocalFederation
from tests.support.federation import running_federation
from tests.support.logs import full_resident_ids


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def no_full_resident_id_in_any_log(tmp_path_factory) -> Iterator[None]:
    """Citizens' data: no log line written during the test suite — by this process or by any hub,
    node or nats-server the tests started (their logs are under the session's temporary
    directory) — may contain a full resident ID. Lists show them masked; logs must too."""
    kept = _Kept()
    logging.getLogger().addHandler(kept)
    logging.getLogger("yiwang").setLevel(logging.DEBUG)
    yield
    logging.getLogger().removeHandler(kept)
    found = [f"(this process) {line}" for line in kept.lines if full_resident_ids(line)]
    for log_file in Path(tmp_path_factory.getbasetemp()).rglob("*.log"):
        for number, line in enumerate(log_file.read_text(errors="replace").splitlines(), 1):
            if full_resident_ids(line):
                found.append(f"{log_file}:{number}: {line}")
    assert not found, "full resident IDs in log lines:\n" + "\n".join(found[:20])


def pytest_terminal_summary(terminalreporter) -> None:
    """Say in one line whether the hub tests ran on PostgreSQL too, or why not."""
    from tests import pg

    on_pg = {
        outcome: [r for r in terminalreporter.stats.get(outcome, []) if "[postgresql" in getattr(r, "nodeid", "")]
        for outcome in ("passed", "failed", "skipped")
    }
    if not any(on_pg.values()):
        return
    where = pg.PG_URL.split("@")[-1]
    if on_pg["skipped"]:
        terminalreporter.write_line(
            f"PostgreSQL: {len(on_pg['skipped'])} hub tests SKIPPED on PostgreSQL — {pg.unreachable() or 'see the skip reasons above'}",
            yellow=True,
            bold=True,
        )
    if on_pg["passed"] or on_pg["failed"]:
        terminalreporter.write_line(
            f"PostgreSQL: hub tests ran on PostgreSQL at {where} too: {len(on_pg['passed'])} passed, {len(on_pg['failed'])} failed", bold=True
        )


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[LocalFederation]:
    """NATS + hub in a temporary directory; nodes are added by the test."""
    with running_federation(tmp_path / "fed") as fed:
        yield fed
