"""Hub ingest throughput on SQLite and on PostgreSQL, each against its own raw insert rate in the
same run, with one ingest worker and with two.

Figure: records/s through ``central.ingest.ingest_batches`` — verify the Ed25519 signature, check
the chain, apply every record, store the raw batch and advance the cursor for each batch, one
transaction per fetch of 50 batches as the hub's ingest loop does. SQLite: a file with WAL and
synchronous=FULL. PostgreSQL: ``$YIWANG_TEST_PG_URL`` (default this machine's server), a fresh
schema per round, the server's default durability (synchronous_commit on).
Two workers: two processes (as `yiwang hub worker` beside `yiwang hub serve`), each taking the
fetches of half the nodes — what a consumer that hands each node's batches to one worker gives;
a shared consumer that splits one node's batches between workers adds held batches on top.
Also: batches/s when every batch holds a single record — heartbeats (one a minute per connected
node) and a quiet point's applications are such batches, so this bounds the nodes one hub serves.
Baseline: the rows ingest writes (each application, its approval task, each raw batch) inserted
by the driver's executemany in one transaction into the hub's own schema (same tables, indexes,
foreign keys) on the same database. SQLite's second baseline, application rows alone into a bare
table without indexes, is what runs before issue 7 were compared against.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from nacl.signing import SigningKey
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session

from central.catalog import load_catalog, sample_catalog
from central.db import create_schema, full_rows, make_engine
from central.ingest import ingest_batches
from central.models import Application, ApprovalTask, DocumentDue, Node, UplinkBatch
from sync_protocol import GENESIS, Accepted, Record, seal_next, uplink_subject, verify_key_to_text
from tests import pg

FETCH = 50  # messages per JetStream fetch in central/sync.py, and so per transaction
NODES = 4
T = "2026-11-23T08:00:00.000000Z"
Fetch = list[tuple[str, bytes, int]]


def _record(node: str, n: int) -> Record:
    return Record(
        "application.received",
        str(uuid.uuid4()),
        T,
        {
            "application_id": str(uuid.uuid4()),
            "receipt_no": f"{node}-{n:06d}",
            "item_code": "MZ-003",
            "item_name": "高龄津贴申领",
            "applicant_name": "张三",
            "applicant_id_number": "11010519491231002X",
            "applicant_phone": "13800138000",
            "proxy_agent": "",
            "agent": "agent",
        },
    )


class Workload:
    """``NODES`` nodes' signed chains, and the stream they make when published side by side."""

    def __init__(self, batches: int, per_batch: int) -> None:
        self.keys = {f"bench{i}": SigningKey.generate() for i in range(NODES)}
        self.records: list[tuple[str, Record]] = []
        self.chains: dict[str, list[bytes]] = {}
        for node, key in self.keys.items():
            pos, wires = GENESIS, []
            for _ in range(batches // NODES):
                records = [_record(node, len(self.records) + r) for r in range(per_batch)]
                self.records += [(node, r) for r in records]
                wire, pos = seal_next(node, "up", pos, records, T, key)
                wires.append(wire)
            self.chains[node] = wires

    def stream(self, nodes: list[str]) -> list[Fetch]:
        """These nodes' batches in publish order (node after node, batch after batch), in fetches."""
        messages = [(uplink_subject(node), self.chains[node][i], 0) for i in range(len(self.chains[nodes[0]])) for node in nodes]
        return [messages[i : i + FETCH] for i in range(0, len(messages), FETCH)]

    def rows(self) -> dict:
        """The rows ingest writes, for the baselines."""
        return {
            Application.__table__: [
                {
                    "id": r.data["application_id"],
                    "node_id": node,
                    "receipt_no": r.data["receipt_no"],
                    "item_code": r.data["item_code"],
                    "item_name": r.data["item_name"],
                    "department": "mzj",
                    "applicant_name": r.data["applicant_name"],
                    "applicant_id_number": r.data["applicant_id_number"],
                    "applicant_phone": r.data["applicant_phone"],
                    "submitted_at": r.at,
                    "received_at": T,
                }
                for node, r in self.records
            ],
            ApprovalTask.__table__: [{"application_id": r.data["application_id"], "department": "mzj"} for _, r in self.records],
            # the 收件回执 each case calls for (central/documents.py), as ingest records it due
            DocumentDue.__table__: [
                {"id": i + 1, "application_id": r.data["application_id"], "kind": "receipt", "context_json": "{}", "created_at": T}
                for i, (_, r) in enumerate(self.records)
            ],
            UplinkBatch.__table__: [
                {"node_id": node, "seq": i + 1, "hash": f"{i:064x}", "raw": wire, "received_at": T}
                for node, wires in self.chains.items()
                for i, wire in enumerate(wires)
            ],
        }

    def prepare(self, url: str) -> Engine:
        engine = make_engine(url)
        create_schema(engine)
        load_catalog(engine, sample_catalog())
        with Session(engine) as s:
            for node, key in self.keys.items():
                s.add(Node(id=node, name=node, kind="village", public_key=verify_key_to_text(key.verify_key), enrolled_at=T))
            s.commit()
        return engine


def _ingest(engine: Engine, fetches: list[Fetch]) -> None:
    for fetch in fetches:
        verdicts = ingest_batches(engine, fetch)
        assert all(isinstance(v, Accepted) for v in verdicts), verdicts


def _worker(url: str, fetches: list[Fetch], ready, go) -> None:
    engine = make_engine(url)
    with engine.connect():
        pass  # connected before the clock starts
    ready.release()
    go.wait()
    _ingest(engine, fetches)
    engine.dispose()


def _timed_workers(url: str, shares: list[list[Fetch]]) -> float:
    """Seconds for one process per share to ingest its fetches, all started together."""
    ctx = multiprocessing.get_context("fork")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_worker, args=(url, share, ready, go)) for share in shares]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    if any(p.exitcode for p in procs):
        raise RuntimeError("an ingest worker failed")
    return elapsed


def _raw(url: str, rows: dict) -> float:
    """Seconds to insert ``rows`` by the driver's executemany in one transaction: on SQLite with
    the hub's pragmas (WAL, synchronous=FULL), on PostgreSQL on a plain psycopg connection (the
    server's defaults, none of the hub's settings)."""
    engine = make_engine(url) if url.startswith("sqlite") else create_engine(url)
    marker = "?" if engine.dialect.name == "sqlite" else "%s"
    statements = []
    for table, table_rows in rows.items():
        columns, values = full_rows(table, table_rows)
        statements.append((f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})", values))
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        start = time.perf_counter()
        if engine.dialect.name == "sqlite":
            cur.execute("BEGIN")
        for sql, values in statements:
            cur.executemany(sql, values)
        conn.commit()
        return time.perf_counter() - start
    finally:
        conn.close()
        engine.dispose()


def _bare(path: Path, rows: list[dict]) -> float:
    """SQLite's old baseline: application rows alone into a table without indexes."""
    columns, values = full_rows(Application.__table__, rows)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"CREATE TABLE application ({', '.join(columns)})")
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO application ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


@contextmanager
def _sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'hub.sqlite3'}"


def _measure(database: Callable[[], AbstractContextManager[str]], work: Workload, rounds: int) -> dict[str, float]:
    """Median seconds over ``rounds`` of: one worker, two workers, the raw baseline — each on a
    fresh database."""
    nodes = list(work.keys)
    timings: dict[str, list[float]] = {"one": [], "two": [], "raw": []}
    for _ in range(rounds):
        for kind in timings:
            with database() as url:
                engine = work.prepare(url)
                if kind == "one":
                    start = time.perf_counter()
                    _ingest(engine, work.stream(nodes))
                    timings[kind].append(time.perf_counter() - start)
                elif kind == "two":
                    engine.dispose()
                    timings[kind].append(_timed_workers(url, [work.stream(nodes[: NODES // 2]), work.stream(nodes[NODES // 2 :])]))
                else:
                    engine.dispose()
                    timings[kind].append(_raw(url, work.rows()))
                engine.dispose()
    return {k: statistics.median(v) for k, v in timings.items()}


def _small_batches(database: Callable[[], AbstractContextManager[str]], work: Workload, rounds: int) -> float:
    """Median seconds for one worker to ingest ``work`` (one record a batch: what heartbeats and
    a quiet point's single applications are)."""
    timings = []
    for _ in range(rounds):
        with database() as url:
            engine = work.prepare(url)
            start = time.perf_counter()
            _ingest(engine, work.stream(list(work.keys)))
            timings.append(time.perf_counter() - start)
            engine.dispose()
    return statistics.median(timings)


def run(batches: int = 200, per_batch: int = 50, rounds: int = 5, small: int = 2000) -> dict:
    """Figures in records/s for SQLite and (when reachable) PostgreSQL; ``postgresql`` is the
    reason it was skipped instead when it is not. ``small_bps``: batches/s when each batch
    holds one record (``small`` of them)."""
    work, singles = Workload(batches, per_batch), Workload(small, 1)
    n = len(work.records)
    result: dict = {"records": n, "batches": batches, "nodes": NODES, "rounds": rounds, "small": small}
    databases: dict[str, Callable[[], AbstractContextManager[str]]] = {"sqlite": _sqlite_url}
    if reason := pg.unreachable():
        result["postgresql"] = reason
    else:
        databases["postgresql"] = pg.scratch_schema
    for name, database in databases.items():
        t = _measure(database, work, rounds)
        result[name] = {
            "one_rps": n / t["one"],
            "two_rps": n / t["two"],
            "raw_rps": n / t["raw"],
            "ratio": t["raw"] / t["one"],
            "small_bps": small / _small_batches(database, singles, rounds),
        }
    with tempfile.TemporaryDirectory() as tmp:
        bare = statistics.median(_bare(Path(tmp) / f"bare{i}.sqlite3", work.rows()[Application.__table__]) for i in range(rounds))
    result["sqlite"]["bare_rps"] = n / bare
    return result


if __name__ == "__main__":
    print(run())
