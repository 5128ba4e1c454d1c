"""A county upgrades its hub while its points still sit in the one shared NATS account the older
hub wrote. The new hub rewrites the access list into an account per point at its first connection
and reloads nats-server; a point connected in the old account is moved into its own, reconnects
by itself, and no case is lost or stuck on the way. Real nats-server, hub and node processes."""

from __future__ import annotations

import json

import pytest

from central.natsauth import hub_nkey, reload_server
from provisioning.federation import LocalFederation
from sync_protocol import ACCOUNT, node_permissions, user_nkey_from_seed
from tests.support.api import Api
from tests.support.builders import checked, resident_id
from tests.support.federation import running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def shared_account(federation: LocalFederation, node_id: str) -> str:
    """The access list as hubs before per-point accounts wrote it: one JetStream account, the hub
    with every right and the node scoped by permissions alone."""
    node = user_nkey_from_seed((federation.node_dir(node_id) / "nats.nk").read_text())
    users = [{"nkey": hub_nkey(federation.nats_dir)}, {"nkey": node, "permissions": node_permissions(node_id)}]
    return "\n".join(
        [
            "accounts {",
            f"  {ACCOUNT} {{",
            "    jetstream: enabled",
            "    users: [",
            *(f"      {json.dumps(u)}" for u in users),
            "    ]",
            "  }",
            "}",
            "",
        ]
    )


def test_points_in_the_old_shared_account_move_to_their_own_without_losing_a_case(federation: LocalFederation):
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    federation.stop("hub")
    access = federation.nats_dir / "accounts.conf"
    access.write_text(shared_account(federation, "shangcun"))
    reload_server(federation.nats_dir)  # the county as the old hub left it
    eventually(lambda: agent.get("/api/status").json()["online"], what="the point connected in the shared account")
    before = agent.post(
        "/api/applications",
        json={"item_code": "MZ-003", "materials_checked": checked("MZ-003"), "applicant_name": "升级前", "applicant_id_number": resident_id(71)},
    ).json()
    eventually(lambda: agent.get("/api/status").json()["waiting_events"] == 0, what="the case in the stream, sent from the shared account")

    federation.start_hub()  # the new hub: an account per point
    eventually(lambda: '"NODE_shangcun"' in access.read_text(), what="the access list rewritten")
    operator, clerk = Api(federation.hub_url, "operator", federation.password), Api(federation.hub_url, "clerk-mzj", federation.password)
    eventually(
        lambda: any(a["id"] == before["id"] for a in operator.get("/api/applications").json()), what="the case from before the move at the hub"
    )
    after = agent.post(
        "/api/applications",
        json={"item_code": "MZ-003", "materials_checked": checked("MZ-003"), "applicant_name": "升级后", "applicant_id_number": resident_id(72)},
    ).json()
    eventually(lambda: any(a["id"] == after["id"] for a in operator.get("/api/applications").json()), what="a case taken after the move at the hub")
    for app in (before, after):
        assert clerk.post(f"/api/applications/{app['id']}/decision", json={"decision": "approve"}).status_code == 200
    eventually(
        lambda: all(agent.get(f"/api/applications/{a['id']}").json()["status"] == "approved" for a in (before, after)),
        what="both decisions at the point, over its own account",
    )
    assert operator.get("/api/quarantine").json() == []
