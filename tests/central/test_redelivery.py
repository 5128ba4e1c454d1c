"""An ack lost after the commit: JetStream redelivers, the hub's cursor says Duplicate, nothing is
applied twice. Real nats-server, the hub's real ingest function, a consumer with a 1 s ack_wait."""

from __future__ import annotations

from pathlib import Path

import nats
from nacl.signing import SigningKey
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from sqlmodel import Session, select

from central.catalog import load_catalog, sample_catalog
from central.db import create_schema, make_engine
from central.ingest import ingest_batch
from central.models import Application, Node
from provisioning.federation import LocalFederation, free_port
from sync_protocol import GENESIS, Accepted, Duplicate, Record, seal_next, uplink_subject, verify_key_to_text
from tests.support.polling import run_async

T = "2026-11-23T08:00:00.000000Z"


def test_redelivery_after_a_lost_ack_is_a_duplicate(tmp_path: Path, hub_db_url: str):
    fed = LocalFederation(root=tmp_path, nats_port=free_port(), hub_port=0)
    fed.start_nats()
    key = SigningKey.generate()
    engine = make_engine(hub_db_url)
    create_schema(engine)
    load_catalog(engine, sample_catalog())
    with Session(engine) as s:
        s.add(Node(id="shangcun", name="上村", kind="village", public_key=verify_key_to_text(key.verify_key), enrolled_at=T))
        s.commit()
    record = Record(
        "application.received",
        "e1",
        T,
        {
            "application_id": "a1",
            "receipt_no": "shangcun-000001",
            "item_code": "MZ-003",
            "applicant_name": "张三",
            "applicant_id_number": "11010519491231002X",
            "agent": "agent",
        },
    )
    wire, _ = seal_next("shangcun", "up", GENESIS, [record], T, key)

    async def scenario() -> list:
        nc = await nats.connect(fed.nats_url, **fed.nats_options())
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="YIWANG_UP", subjects=["yiwang.up.>"]))
        await js.publish(uplink_subject("shangcun"), wire, headers={"Nats-Msg-Id": "m1"})
        psub = await js.pull_subscribe(
            "yiwang.up.>", durable="t", stream="YIWANG_UP", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=1.0)
        )
        verdicts = []
        first = (await psub.fetch(1, timeout=5))[0]
        verdicts.append(ingest_batch(engine, first.subject, first.data))  # committed ...
        # ... and the ack is lost (the hub died here): JetStream delivers it again after ack_wait
        again = (await psub.fetch(1, timeout=10))[0]
        assert again.metadata.num_delivered == 2
        verdicts.append(ingest_batch(engine, again.subject, again.data))
        await again.ack()
        await nc.close()
        return verdicts

    try:
        verdicts = run_async(scenario())
    finally:
        fed.stop_all()
    assert isinstance(verdicts[0], Accepted) and verdicts[1] == Duplicate(1)
    with Session(engine) as s:
        assert len(s.exec(select(Application)).all()) == 1
    engine.dispose()
