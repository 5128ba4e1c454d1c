"""A point with valid credentials turned hostile, against the link machinery: its status flood
delays only itself, and a chunk it publishes for another point's file (a shared form whose
SHA-256 anyone can compute) does not make that point's own chunks vanish. Real NATS, real hub;
the hostile point uses its own NATS identity and signing key, as a stolen laptop could."""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import time

import nats
import pytest

from edge_node import blobs, cases, materials
from edge_node.app import open_store
from edge_node.settings import Settings
from provisioning.federation import LocalFederation
from sync_protocol import BLOB_OFFSET_HEADER, BLOB_SIZE_HEADER, blob_subject, status_subject
from tests.support.api import Api
from tests.support.builders import AGENT, checked, household, resident_id
from tests.support.federation import village
from tests.support.nodes import UploadLink, blob_complete, identity, status_of
from tests.support.polling import eventually, run_async

pytestmark = pytest.mark.e2e


def test_a_point_flooding_its_status_subject_delays_only_itself(federation: LocalFederation):
    for node_id in ("evil", "good"):
        federation.enrol_node(village(node_id))
    evil, good = identity(federation, "evil"), identity(federation, "good")

    async def go() -> tuple[list[float], int]:
        bad = await nats.connect(federation.nats_url, **federation.nats_options("evil"))
        fine = await nats.connect(federation.nats_url, **federation.nats_options("good"))
        raw, stop = status_of(evil), asyncio.Event()

        async def flood() -> int:
            sent = 0
            inbox = bad.new_inbox()
            while not stop.is_set():
                for _ in range(200):
                    await bad.publish(status_subject("evil"), raw, reply=inbox)
                sent += 200
                await asyncio.sleep(0.01)
            return sent

        flooding = asyncio.ensure_future(flood())
        await asyncio.sleep(1)
        answered = []
        for _ in range(8):
            started = time.monotonic()
            await fine.request(status_subject("good"), status_of(good), timeout=10)
            answered.append(time.monotonic() - started)
            await asyncio.sleep(0.3)
        stop.set()
        sent = await flooding
        await bad.close()
        await fine.close()
        return answered, sent

    answered, sent = run_async(go())
    assert sent >= 5_000
    assert len(answered) == 8 and statistics.median(answered) < 1.0, answered  # every honest status answered, promptly


def test_another_points_chunk_for_the_same_file_does_not_hide_this_points_own(federation: LocalFederation):
    for node_id in ("evil", "good"):
        federation.enrol_node(village(node_id))
    settings = Settings(data_dir=federation.node_dir("good"))
    store = open_store(settings, identity(federation, "good"))
    form = b"%PDF-1.7\n" + os.urandom(300_000)  # the county's printed form: every point has the same bytes
    sha, size = hashlib.sha256(form).hexdigest(), len(form)
    operator = Api(federation.hub_url, "operator", federation.password)

    async def squat() -> None:
        bad = await nats.connect(federation.nats_url, **federation.nats_options("evil"))
        garbage = os.urandom(size)
        for msg_id in (f"{sha}:0", f"good:{sha}:0"):  # the ids good's chunks had, or could have
            await bad.jetstream().publish(
                blob_subject("evil", sha), garbage, headers={"Nats-Msg-Id": msg_id, BLOB_OFFSET_HEADER: "0", BLOB_SIZE_HEADER: str(size)}, timeout=10
            )
        await bad.close()

    async def upload() -> None:
        fine = await nats.connect(federation.nats_url, **federation.nats_options("good"))
        await blobs.send_pending(fine.jetstream(), store, "good", settings.blobs_dir, UploadLink())
        await fine.close()

    app = cases.submit_application(
        store,
        {"item_code": "MZ-001", "applicant_name": "李桂芳", "applicant_id_number": resident_id(55), "form": household(55)},
        AGENT,
        checked=checked("MZ-001"),
    )
    materials.attach_material(store, settings.blobs_dir, app["id"], "家庭经济状况核对授权书", "form.pdf", form, AGENT)
    run_async(squat())
    eventually(
        lambda: any(a["kind"] == "blob.mismatch" and a["node_id"] == "evil" for a in operator.get("/api/alerts").json()),
        what="the garbage dropped, the alert against its sender",
    )
    run_async(upload())
    eventually(lambda: blob_complete(federation, sha), what="good's own file complete at the hub")
    store.close()
