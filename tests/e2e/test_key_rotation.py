"""A node rotates its keys while its agent keeps taking applications: nothing lost, nothing twice,
the hub verifies each batch with the right key, the new NATS identity takes over and the old one
stops working when the overlap window ends."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import submit
from tests.support.federation import running_village
from tests.support.nodes import connect_as
from tests.support.polling import eventually, run_async

pytestmark = pytest.mark.e2e


def test_rotation_under_load_loses_nothing_and_retires_the_old_identity(federation: LocalFederation, monkeypatch):
    monkeypatch.setenv("YIWANG_KEY_OVERLAP_SECONDS", "20")
    federation.stop("hub")
    federation.start_hub()  # with the short overlap window
    spec = running_village(federation, "shangcun")
    directory = federation.node_dir("shangcun")
    old_key, old_seed = (directory / "node.key").read_text(), (directory / "nats.nk").read_text()
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)

    stop, submitted = threading.Event(), []

    def keep_taking_applications() -> None:
        worker = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
        n = 100
        while not stop.is_set():
            submitted.append(submit(worker, n)["id"])
            n += 1

    load = threading.Thread(target=keep_taking_applications)
    load.start()
    try:
        eventually(lambda: len(submitted) >= 5, what="applications flowing")
        refused = agent.post("/api/node/rotate-key")
        assert refused.status_code == 202, refused.text
        again = agent.post("/api/node/rotate-key")  # one rotation at a time
        assert again.status_code == 409 and "尚未完成" in again.json()["detail"]
        eventually(lambda: (directory / "nats.nk").read_text() != old_seed, what="the node on its new NATS identity")
        count = len(submitted)
        eventually(lambda: len(submitted) >= count + 5, what="applications after the switch")
    finally:
        stop.set()
        load.join()

    eventually(lambda: len(operator.get("/api/applications").json()) >= len(submitted), what="every application at the hub")
    at_hub = [a["id"] for a in operator.get("/api/applications").json()]
    assert sorted(at_hub) == sorted(submitted) and len(set(at_hub)) == len(at_hub)  # every one, once
    assert (directory / "node.key").read_text() != old_key and not (directory / "node.key.next").exists()
    assert operator.get("/api/quarantine").json() == []
    assert any(a["action"] == "node.key_rotated" for a in operator.get("/api/actions").json())
    # the whole chain re-verifies, each batch against the key that signed it
    audit = subprocess.run(
        [sys.executable, "-m", "yiwang", "hub", "audit", "verify", "--dir", str(federation.root / "hub")], capture_output=True, text=True
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # a fresh connection with the new identity works; the old one is refused once the overlap ends
    assert run_async(connect_as(federation, "shangcun")) == "connected"

    async def connect_old() -> str:
        import nats

        options = federation.nats_options("shangcun") | {"nkeys_seed_str": old_seed.strip()}
        try:
            nc = await nats.connect(federation.nats_url, **options, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
        except Exception as exc:
            return str(exc)
        await nc.close()
        return "connected"

    eventually(
        lambda: "authorization violation" in run_async(connect_old()).lower(), timeout=60, what="the old NATS identity refused after the overlap"
    )
