"""kill -9 of the node process during intake (with fees and photographed materials): afterwards
every application is there whole — row, materials, fee receipt and all their outbox events — or
not at all; receipt numbers have no gaps; nothing is sent that was not committed."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time

import httpx
import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

from ..images import photo

pytestmark = pytest.mark.e2e
PHOTO = photo()


def test_killing_the_node_during_intake_leaves_whole_applications_or_none(federation: LocalFederation):
    spec = running_village(federation, "shangcun", kind="township")  # 身份证换领 is a township item
    base = f"http://127.0.0.1:{spec.port}"
    stop = threading.Event()
    answered: list[str] = []

    def hammer(offset: int) -> None:
        agent = Api(base, "agent", federation.password)
        n = offset
        while not stop.is_set():
            n += 2
            body = {
                "item_code": "GA-001",
                "applicant_name": f"申请人{n}",
                "applicant_id_number": resident_id(n),
                "payment_method": "cash",
                "materials_checked": ["原居民身份证"],
            }
            try:
                r = agent.post("/api/applications", json=body)
                if r.status_code == 201:
                    agent.post(
                        f"/api/applications/{r.json()['id']}/materials",
                        data={"material": "原居民身份证"},
                        files={"file": ("id.jpg", PHOTO, "image/jpeg")},
                    )
                    answered.append(r.json()["id"])
            except httpx.HTTPError:
                return  # the node is gone

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    eventually(lambda: len(answered) >= 15, what="intake under way")
    federation.stop("shangcun", sig=signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()

    db = sqlite3.connect(federation.node_dir("shangcun") / "node.sqlite3")
    db.row_factory = sqlite3.Row
    apps = {r["id"]: r for r in db.execute("SELECT * FROM applications")}
    events = [(r["kind"], json.loads(r["data_json"])) for r in db.execute("SELECT kind, data_json FROM outbox")]
    receipts = {r["application_id"]: r for r in db.execute("SELECT * FROM fee_receipts")}
    materials = [r["application_id"] for r in db.execute("SELECT application_id FROM materials")]
    assert set(answered) <= set(apps)  # every intake that was answered 201 survived
    received = [d["application_id"] for k, d in events if k == "application.received"]
    assert sorted(received) == sorted(apps)  # each application has exactly one event, and no event lacks its row
    assert set(receipts) == set(apps)  # every application (a fee item) has its fee receipt, none is orphaned
    assert sorted(d["application_id"] for k, d in events if k == "fee.collected") == sorted(apps)
    assert sorted(d["application_id"] for k, d in events if k == "materials.attached") == sorted(materials)
    numbers = sorted(int(r["receipt_no"].rsplit("-", 1)[1]) for r in apps.values())
    assert numbers == list(range(1, len(apps) + 1))  # no gaps
    db.close()

    federation.start_node(spec)  # and after the restart it all reaches the hub
    operator = Api(federation.hub_url, "operator", federation.password)
    eventually(lambda: len(operator.get("/api/applications").json()) == len(apps), timeout=60, what="every committed application at the hub")
    time.sleep(0.5)
    assert len(operator.get("/api/applications").json()) == len(apps)
