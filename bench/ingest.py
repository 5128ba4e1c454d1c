"""Hub ingest throughput against raw SQLite in the same run.

Figure: records/s through ``central.ingest.ingest_batches`` — verify the Ed25519 signature, check
the chain, apply every record, store the raw batch and advance the cursor for each batch, one
transaction per fetch of 50 batches as the hub's ingest loop does, on a SQLite file with WAL and
synchronous=FULL.
Baseline: the rows that ingest writes (each application, its approval task, each raw batch)
inserted with ``sqlite3.executemany`` in one transaction into the hub's own schema (same tables,
indexes, foreign keys), same pragmas, same disk. A second baseline, application rows alone into a
bare table without indexes, is what runs before this one were compared against.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from nacl.signing import SigningKey
from sqlalchemy.engine import Engine
from sqlmodel import Session

from central.catalog import load_catalog, sample_catalog
from central.db import create_schema, full_rows, make_engine
from central.ingest import ingest_batches
from central.models import Application, ApprovalTask, Node, UplinkBatch
from sync_protocol import GENESIS, Accepted, Record, seal_next, verify_key_to_text

FETCH = 50  # messages per JetStream fetch in central/sync.py, and so per transaction
T = "2026-11-23T08:00:00.000000Z"


def _record(n: int) -> Record:
    return Record("application.received", str(uuid.uuid4()), T, {
        "application_id": str(uuid.uuid4()), "receipt_no": f"bench-{n:06d}", "item_code": "MZ-003", "item_name": "高龄津贴申领",
        "applicant_name": "张三", "applicant_id_number": "11010519491231002X", "applicant_phone": "13800138000", "proxy_agent": "", "agent": "agent",
    })


def _hub_db(path: Path, key: SigningKey) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    load_catalog(engine, sample_catalog())
    with Session(engine) as s:
        s.add(Node(id="bench", name="bench", kind="village", public_key=verify_key_to_text(key.verify_key), enrolled_at=T))
        s.commit()
    return engine


def run(batches: int = 200, per_batch: int = 50, rounds: int = 5) -> dict[str, float]:
    """Median of ``rounds`` runs of each (single runs on a shared machine vary by a third)."""
    key = SigningKey.generate()
    records = [_record(n) for n in range(batches * per_batch)]
    wires, pos = [], GENESIS
    for i in range(batches):
        wire, pos = seal_next("bench", "up", pos, records[i * per_batch : (i + 1) * per_batch], T, key)
        wires.append(wire)
    # baseline 1: the rows ingest writes (applications, their approval tasks, the raw batches)
    # into the hub's own tables, indexes and foreign keys, by raw sqlite3.executemany
    tables = {
        Application.__table__: [
            {"id": r.data["application_id"], "node_id": "bench", "receipt_no": r.data["receipt_no"], "item_code": r.data["item_code"], "item_name": r.data["item_name"],
             "department": "mzj", "applicant_name": r.data["applicant_name"], "applicant_id_number": r.data["applicant_id_number"],
             "applicant_phone": r.data["applicant_phone"], "submitted_at": r.at, "received_at": T}
            for r in records
        ],
        ApprovalTask.__table__: [{"application_id": r.data["application_id"], "department": "mzj"} for r in records],
        UplinkBatch.__table__: [{"node_id": "bench", "seq": i + 1, "hash": f"{i:064x}", "raw": wire, "received_at": T} for i, wire in enumerate(wires)],
    }
    statements = []
    for table, rows in tables.items():
        columns, values = full_rows(table, rows)  # type: ignore[arg-type]
        statements.append((f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values))

    timings: dict[str, list[float]] = {"ingest": [], "raw": [], "bare": []}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            engine = _hub_db(Path(tmp) / "hub.sqlite3", key)
            start = time.perf_counter()
            for i in range(0, len(wires), FETCH):  # as the hub's ingest loop does: a fetch per transaction
                verdicts = ingest_batches(engine, [("yiwang.up.bench", wire, 0) for wire in wires[i : i + FETCH]])
                assert all(isinstance(v, Accepted) for v in verdicts)
            timings["ingest"].append(time.perf_counter() - start)
            engine.dispose()
            _hub_db(Path(tmp) / "raw.sqlite3", key).dispose()
            timings["raw"].append(_raw(Path(tmp) / "raw.sqlite3", statements))
            # baseline 2 (earlier runs' baseline): application rows alone into a bare table
            bare = sqlite3.connect(Path(tmp) / "bare.sqlite3")
            bare.execute(f"CREATE TABLE application ({', '.join(full_rows(Application.__table__, [])[0])})")  # type: ignore[arg-type]
            bare.close()
            timings["bare"].append(_raw(Path(tmp) / "bare.sqlite3", statements[:1]))
    ingest_s, raw_s, bare_s = (statistics.median(timings[k]) for k in ("ingest", "raw", "bare"))
    n = len(records)
    return {"records": n, "batches": batches, "rounds": rounds, "ingest_rps": n / ingest_s, "raw_rps": n / raw_s, "bare_rps": n / bare_s, "ratio": raw_s / ingest_s}


def _raw(path: Path, statements: list[tuple[str, list[tuple]]]) -> float:
    """Seconds to run ``statements`` with sqlite3.executemany in one transaction, hub pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    start = time.perf_counter()
    conn.execute("BEGIN")
    for sql, rows in statements:
        conn.executemany(sql, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed
