"""Two ingest workers in one database at once — what several hub processes sharing the ingest
consumer do on PostgreSQL. Every batch arrives twice, in shuffled fetches that interleave nodes,
so the workers race for the same cursors; and the downlink sealer runs beside them. Nothing may be
applied twice, skipped or quarantined, and no worker may fail (a deadlock would)."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

from nacl.signing import SigningKey
from sqlalchemy import func
from sqlmodel import Session, select

from central import downlink
from central.catalog import load_catalog, sample_catalog
from central.db import create_schema, make_engine
from central.ingest import ingest_batches
from central.models import Application, ApprovalTask, DownlinkBatch, HeldBatch, Node, Quarantine, UplinkBatch
from sync_protocol import GENESIS, Accepted, Duplicate, Gap, Record, seal_next, uplink_subject, verify_key_to_text

T = "2026-11-23T08:00:00.000000Z"
NODES = [f"cun{i}" for i in range(4)]
BATCHES, PER_BATCH, FETCH = 25, 3, 8
HUB_KEY = SigningKey(bytes(range(7, 39)))


def _wires(node_id: str, key: SigningKey) -> list[bytes]:
    pos, wires = GENESIS, []
    for b in range(BATCHES):
        records = [
            Record(
                "application.received",
                f"{node_id}-{b}-{r}",
                T,
                {
                    "application_id": f"{node_id}-{b}-{r}",
                    "receipt_no": f"{node_id}-{b:03d}{r}",
                    "item_code": "MZ-003",
                    "item_name": "x",
                    "applicant_name": "张三",
                    "applicant_id_number": "11010519491231002X",
                    "agent": "agent",
                },
            )
            for r in range(PER_BATCH)
        ]
        wire, pos = seal_next(node_id, "up", pos, records, T, key)
        wires.append(wire)
    return wires


def test_two_workers_racing_over_the_same_batches_apply_each_exactly_once(hub_db_url: str):
    engine = make_engine(hub_db_url)
    create_schema(engine)
    load_catalog(engine, sample_catalog())
    keys = {n: SigningKey.generate() for n in NODES}
    with Session(engine) as s:
        for n in NODES:
            s.add(Node(id=n, name=n, kind="village", public_key=verify_key_to_text(keys[n].verify_key), enrolled_at=T))
        s.commit()
    # every batch delivered twice (a redelivery after a lost ack), in an order a shared consumer
    # might hand out: roughly in publish order per node, but nodes interleaved and fetches split
    messages = [(uplink_subject(n), wire, None) for n in NODES for wire in _wires(n, keys[n])] * 2
    random.Random(8).shuffle(messages)
    fetches = [messages[i : i + FETCH] for i in range(0, len(messages), FETCH)]
    queue = iter(fetches)
    lock, start = threading.Lock(), threading.Barrier(3)
    verdicts: list = []

    def worker() -> int:
        start.wait()
        done = 0
        while True:
            with lock:
                fetch = next(queue, None)
            if fetch is None:
                return done
            verdicts.extend(ingest_batches(engine, fetch))
            done += 1

    def sealer() -> None:  # the downlink loop answering the gaps with resend requests meanwhile
        start.wait()
        for _ in range(20):
            downlink.seal_pending(engine, HUB_KEY)

    with ThreadPoolExecutor(3) as pool:
        seal = pool.submit(sealer)
        done = [f.result() for f in [pool.submit(worker), pool.submit(worker)]]
        seal.result()
    downlink.seal_pending(engine, HUB_KEY)
    assert all(n > 0 for n in done) and sum(done) == len(fetches)  # both workers took part
    assert {type(v) for v in verdicts} <= {Accepted, Duplicate, Gap}

    with Session(engine) as s:
        assert {n.id: n.up_seq for n in s.exec(select(Node)).all()} == {n: BATCHES for n in NODES}
        assert s.exec(select(func.count()).select_from(UplinkBatch)).one() == len(NODES) * BATCHES
        assert s.exec(select(func.count()).select_from(Application)).one() == len(NODES) * BATCHES * PER_BATCH
        assert s.exec(select(func.count()).select_from(ApprovalTask)).one() == len(NODES) * BATCHES * PER_BATCH
        assert s.exec(select(func.count()).select_from(Quarantine)).one() == 0
        assert s.exec(select(func.count()).select_from(HeldBatch)).one() == 0  # every held batch applied in the end
        # the downlink chains the sealer built meanwhile are gapless: 1..n per node
        for n in NODES:
            seqs = s.exec(select(DownlinkBatch.seq).where(DownlinkBatch.node_id == n).order_by(DownlinkBatch.seq)).all()
            assert list(seqs) == list(range(1, len(seqs) + 1))
    engine.dispose()


def test_an_extra_worker_refuses_a_database_the_hub_has_not_set_up(hub_db_url: str, tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "yiwang", "hub", "worker", "--dir", str(tmp_path / "hub"), "--db-url", hub_db_url, "--nats-url", "nats://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "has no yiwang schema yet" in done.stderr and "yiwang hub serve" in done.stderr
