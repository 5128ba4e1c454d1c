"""The restore drill (issue 22 item 5): the hub is backed up while it runs, works on, and is then
restored from that older backup. The points resend what the backup lacks and nothing they sent is
lost; the downlink goes on from where each point stands, with no fork; the audit verifies. Before,
docs/operations.md said the downlink's reused positions were set aside as forks at every point and
that neither path had been exercised by a test."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from provisioning.federation import LocalFederation, free_port
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def yiwang(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "yiwang", *args], capture_output=True, text=True)


def test_restoring_an_older_hub_backup_loses_nothing_the_points_sent(federation: LocalFederation, tmp_path: Path):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    hub_dir = federation.root / "hub"

    def apply(n: int) -> str:
        body = {"item_code": "MZ-003", "materials_checked": checked("MZ-003"), "applicant_name": f"申请人{n}", "applicant_id_number": resident_id(n)}
        return agent.post("/api/applications", json=body).json()["id"]

    def synced() -> bool:
        return agent.get("/api/status").json()["waiting_events"] == 0

    first = [apply(n) for n in range(2)]
    eventually(lambda: len(operator.get("/api/applications").json()) == 2 and synced(), what="two applications at the hub")
    metrics = httpx.get(f"{federation.hub_url}/metrics").text  # the hub's own machine may scrape without a token
    applied = float(re.search(r'yiwang_ingest_batches_total\{outcome="applied"\} (\S+)', metrics)[1])
    assert applied >= 2 and "yiwang_nats_connected 1.0" in metrics and "yiwang_downlink_batches_published_total" in metrics
    for proxied in ({"X-Forwarded-For": "203.0.113.9"}, {"Via": "1.1 proxy"}, {"X-Forwarded-Proto": "https"}):
        assert httpx.get(f"{federation.hub_url}/metrics", headers=proxied).status_code == 403  # adversarial passes: a proxy opened it

    done = yiwang("hub", "backup", "--dir", str(hub_dir), "--out", str(tmp_path / "backups"))  # online: the hub keeps running
    assert done.returncode == 0, done.stderr
    archive = next((tmp_path / "backups").glob("yiwang-hub-*.tar.gz"))

    # the hub works on after the backup: three more applications, a decision sent down
    later = [apply(n) for n in range(2, 5)]
    clerk.post(f"/api/applications/{first[0]}/decision", json={"decision": "approve"})
    eventually(lambda: agent.get(f"/api/applications/{first[0]}").json()["status"] == "approved", what="the decision at the point")
    eventually(lambda: len(operator.get("/api/applications").json()) == 5 and synced(), what="five applications at the hub")

    # adversarial pass: a restore given another --dir and the running hub's database moved that
    # database aside under the hub, which then wrote to the set-aside copy until its restart
    live = hub_dir / "hub.sqlite3"
    refused = yiwang("hub", "restore", str(archive), "--dir", str(tmp_path / "other"), "--db-url", f"sqlite:///{live}")
    assert refused.returncode != 0 and "stop `yiwang hub serve`" in refused.stderr, refused.stdout + refused.stderr
    assert live.exists() and not (tmp_path / "other").exists()  # refused before anything, its --dir not even made
    # second new-user pass: a second `hub serve` on the same directory ran as a whole second hub
    second = yiwang("hub", "serve", "--dir", str(hub_dir), "--port", str(free_port()))
    assert second.returncode == 1 and "already runs on" in second.stderr, second.stderr

    # the hub's disk is lost: restore the older backup
    federation.stop("hub")
    done = yiwang("hub", "restore", str(archive), "--dir", str(hub_dir))
    assert done.returncode == 0, done.stderr
    assert "before-restore-" in done.stdout  # what was there is set aside, not deleted
    federation.start_hub()
    operator = Api(federation.hub_url, "operator", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)

    # every application the point sent is back, each once, though the point had nothing new to send
    eventually(lambda: sorted(a["id"] for a in operator.get("/api/applications").json()) == sorted(first + later), timeout=90, what="all five back")
    # the downlink continues where the point stands: a new decision arrives, nothing set aside
    clerk.post(f"/api/applications/{first[1]}/decision", json={"decision": "deny", "reason": "不符合条件"})
    eventually(lambda: agent.get(f"/api/applications/{first[1]}").json()["status"] == "denied", timeout=90, what="a decision after the restore")
    with sqlite3.connect(federation.node_dir("shangcun") / "node.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    assert operator.get("/api/quarantine").json() == []
    assert "downlink.resumed" in [a["kind"] for a in operator.get("/api/alerts").json()]
    actions = [a["action"] for a in operator.get("/api/actions").json()]
    assert "hub.restored" in actions
    # what the hub did after the backup is what a restore loses: the first decision is to be made again
    assert operator.get(f"/api/applications/{first[0]}").json()["status"] != "approved"

    # the downlink batches the backup lacked come back from the point: the audit finds no hole
    eventually(lambda: yiwang("hub", "audit", "verify", "--dir", str(hub_dir)).returncode == 0, timeout=90, what="the hub's chains whole again")
    # … and the clerk is told which cases: the decision the point holds and the hub lost
    receipt = operator.get(f"/api/applications/{first[0]}").json()["receipt_no"]
    lost = [a["message"] for a in operator.get("/api/alerts").json() if a["kind"] == "restore.steps_lost"]
    assert any(f"{receipt}（决定）" in m for m in lost), lost
