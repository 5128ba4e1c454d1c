"""Hub ingest throughput against raw SQLite in the same run.

Figure: records/s through ``central.ingest.ingest_batch`` — verify the Ed25519 signature, check the
chain, apply every record, store the raw batch and advance the cursor, one transaction per batch,
on a SQLite file with WAL and synchronous=FULL.
Baseline: the same rows inserted with ``sqlite3.executemany`` in one transaction into a table of
the same columns, same pragmas, same disk.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from nacl.signing import SigningKey
from sqlmodel import Session

from central.catalog import load_catalog, sample_catalog
from central.db import create_schema, make_engine
from central.ingest import ingest_batch
from central.models import Node
from sync_protocol import GENESIS, Accepted, Record, seal_next, verify_key_to_text

T = "2026-11-23T08:00:00.000000Z"


def _record(n: int) -> Record:
    return Record("application.received", str(uuid.uuid4()), T, {
        "application_id": str(uuid.uuid4()), "receipt_no": f"bench-{n:06d}", "item_code": "MZ-003", "item_name": "高龄津贴申领",
        "applicant_name": "张三", "applicant_id_number": "11010519491231002X", "applicant_phone": "13800138000", "proxy_agent": "", "agent": "agent",
    })


def run(batches: int = 200, per_batch: int = 50) -> dict[str, float]:
    key = SigningKey.generate()
    records = [_record(n) for n in range(batches * per_batch)]
    wires, pos = [], GENESIS
    for i in range(batches):
        wire, pos = seal_next("bench", "up", pos, records[i * per_batch : (i + 1) * per_batch], T, key)
        wires.append(wire)

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'hub.sqlite3'}")
        create_schema(engine)
        load_catalog(engine, sample_catalog())
        with Session(engine) as s:
            s.add(Node(id="bench", name="bench", kind="village", public_key=verify_key_to_text(key.verify_key), enrolled_at=T))
            s.commit()
        start = time.perf_counter()
        for wire in wires:
            assert isinstance(ingest_batch(engine, "yiwang.up.bench", wire), Accepted)
        ingest_s = time.perf_counter() - start
        engine.dispose()

        conn = sqlite3.connect(Path(tmp) / "raw.sqlite3", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE application (id TEXT PRIMARY KEY, node_id TEXT, receipt_no TEXT, item_code TEXT, item_name TEXT, department TEXT, "
            "applicant_name TEXT, applicant_id_number TEXT, applicant_phone TEXT, proxy_agent TEXT, status TEXT, submitted_at TEXT, received_at TEXT)"
        )
        rows = [
            (r.data["application_id"], "bench", r.data["receipt_no"], r.data["item_code"], r.data["item_name"], "mzj", r.data["applicant_name"],
             r.data["applicant_id_number"], r.data["applicant_phone"], "", "received", r.at, T)
            for r in records
        ]
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO application VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
        raw_s = time.perf_counter() - start
        conn.close()

    n = len(records)
    return {"records": n, "batches": batches, "ingest_rps": n / ingest_s, "raw_rps": n / raw_s, "ratio": (n / ingest_s) / (n / raw_s)}
