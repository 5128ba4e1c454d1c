"""Shared fixtures. Everything here is real: SQLite files, nats-server from the wheel, processes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from provisioning.federation import LocalFederation, NodeSpec, free_port

AGENT_ROLE = "village_agent"
FULL_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")


def full_resident_ids(text: str) -> list[str]:
    """Every valid GB 11643 number in ``text`` (checksum included, so hashes and times do not count;
    region codes of every era, as the window accepts them)."""
    from edge_node.intake import is_resident_id

    return [m for m in FULL_ID.findall(text) if is_resident_id(m)]


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


@contextmanager
def running_federation(root: Path, https: bool = False) -> Iterator[LocalFederation]:
    """NATS + hub on free ports under ``root``, stopped (with any nodes) afterwards."""
    fed = LocalFederation(root=root, nats_port=free_port(), hub_port=free_port(), https=https)
    fed.start_nats()
    fed.start_hub()
    try:
        yield fed
    finally:
        fed.stop_all()


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[LocalFederation]:
    """NATS + hub in a temporary directory; nodes are added by the test."""
    with running_federation(tmp_path / "fed") as fed:
        yield fed


def village(node_id: str = "shangcun") -> NodeSpec:
    return NodeSpec(node_id, f"{node_id} 代办点", "village", free_port(), parent=None, users=[("agent", "代办员 王秀兰", AGENT_ROLE)])


def running_village(federation: LocalFederation, node_id: str = "shangcun") -> NodeSpec:
    """A village point enrolled at ``federation``'s hub and serving (its agent: ``agent``)."""
    spec = village(node_id)
    federation.enrol_node(spec)
    federation.start_node(spec)
    return spec


class Api:
    """A logged-in JSON API client for one service (hub or node)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        response = self.client.post("/api/login", json={"username": username, "password": password})
        response.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, **kw):
        return self.client.post(path, **kw)

    def put(self, path: str, **kw):
        return self.client.put(path, **kw)


def resident_id(n: int) -> str:
    """A valid GB 11643 number (Beijing Xicheng, born 1950-01-01 + n days), with its check digit."""
    from datetime import date, timedelta

    from stdnum.cn import ric

    base = f"110102{(date(1950, 1, 1) + timedelta(days=n)):%Y%m%d}{n % 1000:03d}"
    return base + ric.calc_check_digit(base + "?")


def run_async(coro, timeout: float = 420):
    """Run a coroutine to completion on its own thread: the browser tests' sync Playwright keeps an
    event loop running in the main thread for the whole session, so asyncio.run() there fails.
    A coroutine still running after ``timeout`` seconds fails the test with the stack of every task
    on its loop, and is left behind on its (daemon) thread: one hung test must not hang the suite
    (pytest-timeout's alarm alone cannot end it: the thread would be joined for ever)."""
    import asyncio
    import io
    import threading

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


def checked(item_code: str) -> list[str]:
    """What an agent ticks after seeing every original the sample catalog requires for an item."""
    import json
    from importlib.resources import files

    catalog = json.loads(files("central").joinpath("catalog_sample.json").read_text(encoding="utf-8"))
    item = next(i for i in catalog["items"] if i["code"] == item_code)
    return [m["name"] for m in item["materials"] if not m["shared"]]
