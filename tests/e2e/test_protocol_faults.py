"""The hub against a misbehaving network and attackers, over a real nats-server: a batch lost from
the stream (gap → resend), a duplicate publish past JetStream's window, a forged node id, an
unknown node, a revoked node, an oversized batch. The test publishes with nats-py and the real
protocol code, the way a broken or hostile node would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nats
import pytest
from nacl.signing import SigningKey

from provisioning.federation import LocalFederation
from sync_protocol import GENESIS, UPLINK_STREAM, Record, open_batch, seal_next, uplink_subject
from tests.support.api import Api
from tests.support.builders import resident_id, submit
from tests.support.federation import running_village
from tests.support.nodes import publish
from tests.support.polling import eventually, run_async

pytestmark = pytest.mark.e2e


def node_batches(directory: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{directory / 'node.sqlite3'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT seq, hash, wire FROM uplink_batches ORDER BY seq").fetchall()
    conn.close()
    return rows


@pytest.fixture
def running(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    return federation, spec, agent, operator


def test_batch_lost_from_the_stream_is_recovered_by_a_resend_request(running):
    federation, _spec, agent, operator = running
    federation.stop("hub")
    for n in range(3):  # three batches, each stored in JetStream (PubAck) before the next
        submit(agent, n)
        eventually(lambda: agent.get("/api/status").json()["waiting_events"] == 0, what=f"batch {n + 1} in the stream")

    async def lose_batch_2() -> None:
        nc = await nats.connect(federation.nats_url, **federation.nats_options())
        js = nc.jetstream()
        info = await js.stream_info(UPLINK_STREAM)
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(UPLINK_STREAM, seq)
            if msg.subject == uplink_subject("shangcun") and open_batch(msg.data, key).seq == 2:
                await js.delete_msg(UPLINK_STREAM, seq)
        await nc.close()

    key = SigningKey(bytes.fromhex((federation.node_dir("shangcun") / "node.key").read_text().strip())).verify_key
    run_async(lose_batch_2())
    federation.start_hub()
    eventually(lambda: len(operator.get("/api/applications").json()) == 3, timeout=60, what="all 3 applications after the resend")
    assert operator.get("/api/quarantine").json() == []
    assert "asked for a resend from uplink seq 2" in federation.log_path("shangcun").read_text()


def test_duplicate_publish_past_the_dedup_window_is_applied_once(running):
    federation, _spec, agent, operator = running
    for n in range(2):
        submit(agent, n)
    eventually(lambda: len(operator.get("/api/applications").json()) == 2, what="2 applications")
    for row in node_batches(federation.node_dir("shangcun")):  # a fresh msg id defeats JetStream's dedup
        publish(federation, uplink_subject("shangcun"), row["wire"], f"{row['hash']}.replay")
    submit(agent, 2)  # the stream is still in order behind the replays
    eventually(lambda: len(operator.get("/api/applications").json()) == 3, what="the third application")
    assert len({a["id"] for a in operator.get("/api/applications").json()}) == 3
    assert operator.get("/api/quarantine").json() == []


def test_forged_unknown_and_oversized_batches_are_quarantined_with_alerts(running):
    federation, _spec, agent, operator = running
    record = Record(
        "application.received",
        "forged-1",
        "2026-11-23T08:00:00.000000Z",
        {
            "application_id": "forged",
            "receipt_no": "shangcun-999999",
            "item_code": "MZ-003",
            "applicant_name": "冒名",
            "applicant_id_number": resident_id(9),
            "agent": "x",
        },
    )
    forged, _ = seal_next("shangcun", "up", GENESIS, [record], "2026-11-23T08:00:00.000000Z", SigningKey.generate())
    publish(federation, uplink_subject("shangcun"), forged, "forged")
    stranger, _ = seal_next("nobody", "up", GENESIS, [record], "2026-11-23T08:00:00.000000Z", SigningKey.generate())
    publish(federation, uplink_subject("nobody"), stranger, "stranger")
    publish(federation, uplink_subject("shangcun"), b"\0" * 950_000, "huge")
    eventually(
        lambda: sorted(q["reason"] for q in operator.get("/api/quarantine").json()) == ["bad_signature", "too_large", "unknown_node"],
        what="three quarantined batches",
    )
    kinds = sorted(a["kind"] for a in operator.get("/api/alerts").json())
    assert kinds == ["quarantine.bad_signature", "quarantine.too_large", "quarantine.unknown_node"]
    assert operator.get("/api/applications").json() == []
    submit(agent, 1)  # the real node is unaffected
    eventually(lambda: len(operator.get("/api/applications").json()) == 1, what="the real node's application")
