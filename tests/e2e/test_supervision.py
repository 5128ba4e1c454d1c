"""Supervision through real processes: a node's heartbeat and clock reach the operator's dashboard,
an edited catalog is published, installed at the node and reported back, and /metrics shows it."""

from __future__ import annotations

import httpx
import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_heartbeat_catalog_publication_and_dashboard(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    operator = Api(federation.hub_url, "operator", federation.password)
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)

    def health() -> dict:
        return next(n for n in operator.get("/api/dashboard").json()["nodes"] if n["id"] == "shangcun")

    eventually(lambda: health()["heartbeat_at"] is not None, what="the first heartbeat at the hub")
    first = health()
    assert first["app_version"] and first["catalog_version"] == 1 and first["outbox_depth"] == 0
    assert abs(first["clock_offset_s"]) <= 5 and not first["behind"]  # same machine, same clock

    item = next(i for i in operator.get("/api/catalog").json()["items"] if i["code"] == "MZ-003")
    published = operator.put("/api/catalog/items/MZ-003", json=item | {"time_limit_days": 7, "note": "压缩时限"})
    assert published.status_code == 200 and published.json()["version"] == 2
    eventually(lambda: health()["catalog_version"] == 2, what="the node running (and reporting) catalog version 2")
    guide = agent.get("/api/catalog", params={"q": "高龄"})
    assert guide.status_code == 200 and next(i for i in guide.json() if i["code"] == "MZ-003")["time_limit_days"] == 7
    assert operator.get("/api/catalog/versions").json()[0] | {"published_at": None} == {
        "version": 2,
        "published_at": None,
        "published_by": "operator",
        "note": "压缩时限",
        "items": len(operator.get("/api/catalog").json()["items"]),
        "nodes_running": 1,
    }
    metrics = httpx.get(f"{federation.hub_url}/metrics", timeout=10).text
    assert (
        'yiwang_node_catalog_version{node="shangcun"} 2.0' in metrics and "yiwang_catalog_version 2.0" in metrics
    )  # from 127.0.0.1: no token needed
