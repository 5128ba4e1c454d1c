"""Revoking a node (a stolen laptop): NATS refuses it within seconds, the node says so, anything
it signed afterwards is quarantined if it reaches the hub by any path, and the dashboard shows it."""

from __future__ import annotations

import sqlite3
import time

import pytest

from provisioning.federation import LocalFederation
from sync_protocol import uplink_subject
from tests.support.api import Api
from tests.support.builders import submit
from tests.support.federation import running_village
from tests.support.nodes import connect_as, publish
from tests.support.polling import eventually, run_async

pytestmark = pytest.mark.e2e


def test_a_revoked_node_is_cut_off_at_once_and_its_later_batches_are_quarantined(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    submit(agent, 1)
    eventually(lambda: len(operator.get("/api/applications").json()) == 1, what="the first application at the hub")
    assert agent.get("/api/status").json()["online"] is True

    refused = operator.post("/api/nodes/shangcun/revoke", json={"reason": ""})
    assert refused.status_code == 400 and "原因" in refused.json()["detail"]
    revoked_at = time.monotonic()
    assert operator.post("/api/nodes/shangcun/revoke", json={"reason": "代办点电脑被盗"}).status_code == 200
    # the connected node is dropped by nats-server and every reconnect is refused
    eventually(lambda: agent.get("/api/status").json()["credentials_refused"], timeout=10, what="the node told its credentials are refused")
    assert time.monotonic() - revoked_at < 10
    assert agent.get("/api/status").json()["online"] is False
    assert "authorization violation" in run_async(connect_as(federation, "shangcun")).lower()

    # the thief keeps working offline; whatever he signs, if it reaches the hub by another path, is quarantined
    submit(agent, 2)
    eventually(lambda: _last_batch(federation) is not None and _last_batch(federation)[0] >= 2, what="the post-revocation batch sealed")
    seq, wire = _last_batch(federation)
    publish(federation, uplink_subject("shangcun"), wire, f"after-revocation-{seq}")
    eventually(lambda: [q["reason"] for q in operator.get("/api/quarantine").json()] == ["revoked"], what="the revoked node's batch in quarantine")
    assert len(operator.get("/api/applications").json()) == 1
    node = next(n for n in operator.get("/api/dashboard").json()["nodes"] if n["id"] == "shangcun")
    assert node["status"] == "revoked"
    [action] = [a for a in operator.get("/api/actions").json() if a["action"] == "node.revoked"]
    assert action["actor"] == "operator" and "被盗" in action["detail"]


def _last_batch(federation: LocalFederation) -> tuple[int, bytes] | None:
    conn = sqlite3.connect(f"file:{federation.node_dir('shangcun') / 'node.sqlite3'}?mode=ro", uri=True)
    row = conn.execute("SELECT seq, wire FROM uplink_batches ORDER BY seq DESC LIMIT 1").fetchone()
    conn.close()
    return (row[0], bytes(row[1])) if row else None
