"""`yiwang hub audit verify` re-verifies every stored batch from its raw bytes and names the first
bad position of a chain that was tampered with in the database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nacl.signing import SigningKey
from sqlalchemy import text
from sqlmodel import Session

from central import approval, downlink
from central.audit import verify_all
from central.cli import initialise
from central.db import make_engine
from central.ingest import ingest_batch
from central.keys import load_hub_key
from central.models import Node, User
from central.settings import Settings
from sync_protocol import GENESIS, Record, seal_next, verify_key_to_text

T = "2026-11-23T08:00:00.000000Z"


def build_hub(tmp_path: Path, db_url: str):
    settings = Settings(data_dir=tmp_path / "hub", db_url=db_url)
    initialise(settings, operator_password="op", demo_password="pw")
    engine = make_engine(settings.database_url)
    key = SigningKey.generate()
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(key.verify_key), enrolled_at=T))
        s.commit()
    pos = GENESIS
    for i in range(4):
        record = Record(
            "application.received",
            f"e{i}",
            T,
            {
                "application_id": f"a{i}",
                "receipt_no": f"shangcun-{i:06d}",
                "item_code": "MZ-003",
                "applicant_name": "张三",
                "applicant_id_number": "11010519491231002X",
                "agent": "agent",
            },
        )
        wire, pos = seal_next("shangcun", "up", pos, [record], T, key)
        ingest_batch(engine, "yiwang.up.shangcun", wire)
    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    approval.decide(engine, clerk, "a0", "approve", "")
    downlink.seal_pending(engine, load_hub_key(settings.key_path))
    return settings, engine


def run_cli(settings: Settings) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "yiwang", "hub", "audit", "verify", "--dir", str(settings.data_dir), "--db-url", settings.database_url],
        capture_output=True,
        text=True,
    )


def test_an_untouched_trail_verifies(tmp_path, hub_db_url):
    settings, engine = build_hub(tmp_path, hub_db_url)
    reports = verify_all(engine, load_hub_key(settings.key_path).verify_key)
    assert [(r.node_id, r.direction, r.batches, r.head.seq, r.ok) for r in reports] == [
        ("shangcun", "up", 4, 4, True),
        ("shangcun", "down", 1, 1, True),
    ]
    done = run_cli(settings)
    assert done.returncode == 0 and "2 of 2 chains verify" in done.stdout


def test_a_byte_changed_in_the_database_is_found_at_its_position(tmp_path, hub_db_url):
    settings, engine = build_hub(tmp_path, hub_db_url)
    with engine.begin() as conn:  # an insider edits batch 3's bytes directly in the database
        raw = conn.execute(text("SELECT raw FROM uplinkbatch WHERE node_id = 'shangcun' AND seq = 3")).scalar_one()
        conn.execute(
            text("UPDATE uplinkbatch SET raw = :raw WHERE node_id = 'shangcun' AND seq = 3"), {"raw": raw.replace("张三".encode(), "李四".encode())}
        )
    report = verify_all(engine, load_hub_key(settings.key_path).verify_key)[0]
    assert report.first_bad == 3 and "bad_signature" in report.problem and report.head.seq == 2
    done = run_cli(settings)
    assert done.returncode == 1 and "FIRST BAD at seq 3" in done.stdout and "1 do NOT" in done.stdout


def test_a_deleted_batch_is_a_missing_position(tmp_path, hub_db_url):
    settings, engine = build_hub(tmp_path, hub_db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM uplinkbatch WHERE node_id = 'shangcun' AND seq = 2"))
    report = verify_all(engine, load_hub_key(settings.key_path).verify_key)[0]
    assert report.first_bad == 2 and "missing" in report.problem


def test_a_database_from_before_key_history_is_migrated_in_place(tmp_path, hub_db_url):
    from central.db import LATEST, create_schema

    settings, engine = build_hub(tmp_path, hub_db_url)
    with engine.begin() as conn:  # make it look like the first release's schema
        conn.execute(text("DROP TABLE nodekey"))
        conn.execute(text("ALTER TABLE enrolmentcode DROP COLUMN replacement"))
        conn.execute(text("ALTER TABLE application DROP COLUMN materials_checked"))
        conn.execute(text("ALTER TABLE application DROP COLUMN supplement_json"))
        conn.execute(text("ALTER TABLE application DROP COLUMN decided_locally"))
        for table, column in (
            ("department", "integration"),
            ("node", "heartbeat_at"),
            ("node", "app_version"),
            ("node", "catalog_version"),
            ("node", "outbox_depth"),
            ("node", "clock_offset_s"),
            ("application", "accepted_at"),
            ("application", "accepted_by"),
            ("application", "supplement_rounds"),
            ("application", "outcome"),
            ("application", "licences_json"),
            ("application", "handover"),
            ("application", "handed_to_applicant"),
            ("evaluation", "followed_up_at"),
            ("evaluation", "followed_up_by"),
            ("evaluation", "follow_up"),
            ("complaint", "answered_by"),
            ("node", "revoked_at"),
            ("downlinkbatch", "resends"),
            *(
                ("node", c)
                for c in (
                    "heartbeat_interval_s",
                    "link_kbit_per_s",
                    "link_rtt_ms",
                    "bytes_up_today",
                    "bytes_down_today",
                    "files_waiting",
                    "file_bytes_waiting",
                    "compression",
                    "metered",
                    "metered_hours",
                    "set_aside",
                    "needs_upgrade",
                )
            ),
        ):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE approvaltask"))
        conn.execute(text("DROP TABLE catalogversion"))
        conn.execute(text("DROP TABLE natscredential"))
        conn.execute(text("DROP TABLE schemaversion"))
        conn.execute(
            text(
                "INSERT INTO blob (sha256, node_id, size, received_bytes, complete_at) VALUES ('ab12', 'shangcun', 9, 9, '2026-11-20T08:00:00.000000Z')"
            )
        )
    create_schema(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT version FROM schemaversion")).scalar_one() == LATEST
        assert conn.execute(text("SELECT node_id, from_seq FROM nodekey")).all() == [("shangcun", 1)]
        conn.execute(text("SELECT replacement FROM enrolmentcode")).all()
        tasks = conn.execute(text("SELECT application_id, department, status FROM approvaltask")).all()
        apps = conn.execute(text("SELECT id, department FROM application")).all()
        assert sorted((a, d) for a, d, _ in tasks) == sorted(apps) and len(apps) > 0  # one task per case, as routed before
        assert conn.execute(text("SELECT version FROM catalogversion")).scalars().all() == [1]
        assert conn.execute(text("SELECT id, revoked_at FROM node")).all() == [("shangcun", None)]
        assert conn.execute(text("SELECT heartbeat_interval_s, compression, metered FROM node")).all() == [
            (0, "", False)
        ]  # an older node until it says more
        assert conn.execute(text("SELECT count(*) FROM natscredential")).scalar_one() == 0  # such a node needs a replacement code
        receipt = conn.execute(text("SELECT node_id, data_json FROM downlinkevent WHERE kind = 'material.received'")).one()
        assert receipt[0] == "shangcun" and json.loads(receipt[1])["sha256"] == "ab12"  # files that came before receipts existed
    assert all(r.ok for r in verify_all(engine, load_hub_key(settings.key_path).verify_key))
