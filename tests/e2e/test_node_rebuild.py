"""A village node's disk dies. New hardware is enrolled for the same point with a replacement code,
restores the point's history from the hub (verifying every batch), and continues its chain with
its own key: no fork, the audit still verifies, and decisions keep flowing to it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import pytest

from provisioning.enrol import EnrolmentFailed, enroll
from provisioning.federation import LocalFederation
from sync_protocol import user_nkey_from_seed
from tests.support.api import Api
from tests.support.builders import checked, collected, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_replacement_device_restores_history_and_continues_the_chain(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    node_url = f"http://127.0.0.1:{spec.port}"
    agent = Api(node_url, "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)

    apps = [
        agent.post(
            "/api/applications",
            json={
                "item_code": "MZ-003",
                "materials_checked": checked("MZ-003"),
                "applicant_name": f"申请人{n}",
                "applicant_id_number": resident_id(n),
            },
        ).json()
        for n in range(3)
    ]
    eventually(lambda: len(clerk.get("/api/queue").json()) == 3, what="3 applications in the queue")
    clerk.post(f"/api/applications/{apps[0]['id']}/decision", json={"decision": "approve"})
    eventually(lambda: agent.get(f"/api/applications/{apps[0]['id']}").json()["status"] == "approved", what="decision at the node")
    agent.post(f"/api/applications/{apps[0]['id']}/pickup", json=collected("申请人0", resident_id(0)))
    eventually(lambda: operator.get(f"/api/applications/{apps[0]['id']}").json()["status"] == "delivered", what="pickup at the hub")
    eventually(lambda: agent.get("/api/status").json()["waiting_events"] == 0, what="node fully synced")
    before = {a["id"]: (a["receipt_no"], a["status"]) for a in agent.get("/api/applications").json()}

    # the disk dies
    old_nats = (federation.node_dir("shangcun") / "nats.nk").read_text().strip()
    federation.stop("shangcun", sig=signal.SIGKILL)
    shutil.rmtree(federation.node_dir("shangcun"))

    # a normal enrolment code cannot take over an enrolled point ...
    taken = operator.post("/api/enrolment-codes", json={"node_id": "shangcun", "name": "x", "kind": "village"})
    assert taken.status_code == 409 and "设备更换码" in taken.json()["detail"]
    # ... a replacement code can, and the new device restores the point's history
    slip = operator.post("/api/nodes/shangcun/replacement-code").json()
    code, ca = slip["code"], slip["ca_fingerprint"]
    enroll(code, federation.hub_url, federation.node_dir("shangcun"), ca)
    with pytest.raises(EnrolmentFailed):  # and the code is spent
        enroll(code, federation.hub_url, federation.node_dir("shangcun") / "another", ca)
    # the old device's NATS identity is out of the access list; the new one is in
    access = (federation.nats_dir / "accounts.conf").read_text()
    assert user_nkey_from_seed(old_nats) not in access
    assert user_nkey_from_seed((federation.node_dir("shangcun") / "nats.nk").read_text()) in access
    federation.add_node_user(federation.node_dir("shangcun"), "agent", "代办员 王秀兰", "village_agent")
    federation.start_node(spec)
    agent = Api(node_url, "agent", federation.password)

    after = {a["id"]: (a["receipt_no"], a["status"]) for a in agent.get("/api/applications").json()}
    assert after == before  # every case, receipt number and status is back
    restored = agent.get(f"/api/applications/{apps[0]['id']}").json()
    assert restored["decided_by"] and restored["picked_up_by"] == "申请人0"

    # the chain continues with the new device's key: numbering goes on, nothing forks
    new = agent.post(
        "/api/applications",
        json={"item_code": "MZ-003", "materials_checked": checked("MZ-003"), "applicant_name": "新申请人", "applicant_id_number": resident_id(9)},
    ).json()
    assert new["receipt_no"] == "shangcun-000004"
    eventually(lambda: len(operator.get("/api/applications").json()) == 4, what="the new application at the hub")
    clerk.post(f"/api/applications/{apps[1]['id']}/decision", json={"decision": "deny", "reason": "不符合条件"})
    eventually(lambda: agent.get(f"/api/applications/{apps[1]['id']}").json()["status"] == "denied", what="a decision reaching the new device")
    assert operator.get("/api/quarantine").json() == []
    kinds = [a["kind"] for a in operator.get("/api/alerts").json()]
    assert "node.replaced" in kinds

    audit = subprocess.run(
        [sys.executable, "-m", "yiwang", "hub", "audit", "verify", "--dir", str(federation.root / "hub")], capture_output=True, text=True
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "2 of 2 chains verify" in audit.stdout
