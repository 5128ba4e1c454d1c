"""kill -9 is normal life: the hub and the node are killed during a burst of intake and
restarted; every application ends up at the hub exactly once."""

from __future__ import annotations

import signal
import threading
from collections import Counter

import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_kill_9_of_hub_and_node_loses_nothing_and_applies_nothing_twice(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    node_url = f"http://127.0.0.1:{spec.port}"
    agent = Api(node_url, "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    committed: list[str] = []

    def burst(start: int, count: int) -> None:
        client = Api(node_url, "agent", federation.password)
        for n in range(start, start + count):
            response = client.post(
                "/api/applications",
                json={
                    "item_code": "RS-001",
                    "materials_checked": checked("RS-001"),
                    "applicant_name": f"申请人{n}",
                    "applicant_id_number": resident_id(n),
                },
            )
            if response.status_code == 201:
                committed.append(response.json()["id"])

    # the hub dies (SIGKILL) while the node is sending it a burst
    writer = threading.Thread(target=burst, args=(0, 40))
    writer.start()
    eventually(lambda: len(committed) >= 10, what="intake under way")
    federation.stop("hub", sig=signal.SIGKILL)
    writer.join()
    federation.start_hub()

    # the node dies (SIGKILL) with events possibly sealed but unpublished
    burst(40, 20)
    federation.stop(spec.node_id, sig=signal.SIGKILL)
    federation.start_node(spec)
    agent = Api(node_url, "agent", federation.password)
    assert len(agent.get("/api/applications").json()) == len(committed) == 60  # every 201 survived the kill

    eventually(lambda: len(operator.get("/api/applications").json()) == 60, timeout=60, what="all 60 at the hub")
    at_hub = Counter(a["id"] for a in operator.get("/api/applications").json())
    assert at_hub == Counter({app_id: 1 for app_id in committed})
    assert operator.get("/api/quarantine").json() == []
    eventually(lambda: agent.get("/api/status").json()["waiting_events"] == 0, what="node backlog drained")
