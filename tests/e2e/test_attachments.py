"""Attachments: content-addressed, sent in chunks outside the batches, resumable after the link
drops, verified against the hash in the signed record. The test plays the node's sync worker with
the node's own functions (real SQLite, real files) against a real nats-server and hub process."""

from __future__ import annotations

import asyncio
import math
import os
import re

import httpx
import nats
import pytest

from edge_node import blobs, link, materials, photos
from provisioning.federation import LocalFederation
from sync_protocol import uplink_subject
from tests.support.api import Api
from tests.support.builders import AGENT, checked, household, resident_id
from tests.support.federation import running_village
from tests.support.nodes import UploadLink, blob_complete, offline_case
from tests.support.polling import eventually, run_async

from .. import images

pytestmark = pytest.mark.e2e
CHUNK = 64 * 1024


def test_interrupted_attachment_upload_resumes_and_is_verified_at_the_hub(federation: LocalFederation):
    settings, identity, store, app = offline_case(federation, 5)
    scan = b"%PDF-1.7\n" + os.urandom(4 * 1024 * 1024)
    row = materials.attach_material(store, settings.blobs_dir, app["id"], "家庭经济状况核对授权书", "授权书.pdf", scan, AGENT)
    sha, size = row["sha256"], row["size"]
    operator = Api(federation.hub_url, "operator", federation.password)

    def sent() -> int:
        return store.one("SELECT sent_bytes FROM blob_uploads WHERE sha256 = ?", (sha,))["sent_bytes"]

    async def first_attempt() -> None:
        nc = await nats.connect(federation.nats_url, **federation.nats_options())
        js = nc.jetstream()
        link.seal_pending(store, identity.node_id, identity.key)
        for batch in link.unpublished(store):  # the records reach the hub ...
            await js.publish(uplink_subject(identity.node_id), batch["wire"], headers={"Nats-Msg-Id": link.message_id(batch)})
            link.mark_published(store, batch["seq"])
        upload = asyncio.create_task(blobs.send_pending(js, store, identity.node_id, settings.blobs_dir, UploadLink(), max_chunk=CHUNK))
        while sent() < 3 * CHUNK:  # ... and the link drops a few chunks into the attachment
            await asyncio.sleep(0.002)
        await nc.close()
        with pytest.raises((blobs.LinkLost, nats.errors.Error)):  # the link's loss, however nats-py reports it
            await upload

    run_async(first_attempt())
    partial = sent()
    assert 0 < partial < size

    def hub_view() -> dict:
        return operator.get(f"/api/applications/{app['id']}").json()

    view = eventually(lambda: (v := hub_view()).get("materials") and v, what="the application and its material at the hub")
    assert view["materials_complete"] is False and view["materials"][0]["arrived"] is False  # never shown as complete
    early = operator.get(f"/api/applications/{app['id']}/materials/{sha}")
    assert early.status_code == 409 and "传输中" in early.json()["detail"]

    async def resume() -> tuple[int, int]:
        nc = await nats.connect(federation.nats_url, **federation.nats_options())
        pending = blobs.pending_uploads(store)
        assert [(p["sha256"], p["sent_bytes"]) for p in pending] == [(sha, partial)]
        resumed = UploadLink()
        chunks = await blobs.send_pending(nc.jetstream(), store, identity.node_id, settings.blobs_dir, resumed, max_chunk=CHUNK)
        await nc.close()
        return chunks, resumed.usage.up

    chunks, resent = run_async(resume())
    assert chunks >= math.ceil((size - partial) / CHUNK) and resent == size - partial  # continued from the last stored chunk, not from zero
    assert blobs.pending_uploads(store) == []
    eventually(lambda: hub_view()["materials_complete"] is True, what="the hub to verify the assembled attachment")
    download = operator.get(f"/api/applications/{app['id']}/materials/{sha}")
    assert download.status_code == 200 and download.content == scan
    store.close()


def test_materials_uploaded_at_the_window_reach_the_clerk_and_leave_the_laptop(federation: LocalFederation, monkeypatch):
    monkeypatch.setenv("YIWANG_MATERIAL_RETENTION_DAYS", "0")  # delete a copy as soon as the hub confirms it
    spec = running_village(federation, "shangcun")
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    app = agent.post(
        "/api/applications",
        json={
            "item_code": "MZ-001",
            "materials_checked": checked("MZ-001"),
            "applicant_name": "李桂芳",
            "applicant_id_number": resident_id(6),
            "form": household(6),
        },
    ).json()
    taken = images.photo(6, (2400, 1800))  # the photo as taken; the node sends it optimised
    photo, _ = photos.optimise(taken, "image/jpeg")
    up = agent.post(f"/api/applications/{app['id']}/materials", data={"material": "居民身份证"}, files={"file": ("身份证.jpg", taken, "image/jpeg")})
    assert up.status_code == 201, up.text
    assert up.json()["size"] == len(photo) < len(taken) and up.json()["original_size"] == len(taken)

    def photo_arrived() -> bool:  # listed (its record arrived) and complete (its bytes arrived and verified)
        view = clerk.get(f"/api/applications/{app['id']}")
        return view.status_code == 200 and bool(view.json()["materials"]) and view.json()["materials_complete"]  # 404 until the application arrives

    eventually(photo_arrived, what="the photo at the hub")
    got = clerk.get(f"/api/applications/{app['id']}/materials/{up.json()['sha256']}")
    assert got.status_code == 200, got.text[:300]
    assert got.content == photo and got.headers["content-type"] == "image/jpeg"
    other_clerk = Api(federation.hub_url, "clerk-rsj", federation.password)
    assert other_clerk.get(f"/api/applications/{app['id']}/materials/{up.json()['sha256']}").status_code == 403

    # the hub's receipt comes back down; with retention 0 the node deletes its copy at once
    sha = up.json()["sha256"]
    mine = eventually(
        lambda: (m := agent.get(f"/api/applications/{app['id']}/materials").json()[0])["purged_at"] and m,
        what="the node to delete its confirmed copy",
    )
    assert mine["received_at"] and mine["stored_here"] is False
    assert not (federation.node_dir("shangcun") / "blobs" / sha).exists()
    assert not (federation.node_dir("shangcun") / "blobs" / up.json()["original_sha256"]).exists()  # the original went with it
    page = httpx.Client(base_url=f"http://127.0.0.1:{spec.port}", timeout=30)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.get("/login").text).group(1)
    page.post("/login", data={"username": "agent", "password": federation.password, "_csrf_token": token})
    assert "已送达县中枢，本机不再保存" in page.get(f"/applications/{app['id']}").text
    gone = page.get(f"/applications/{app['id']}/materials/{sha}")
    assert gone.status_code == 404 and "本机不再保存" in gone.text
    assert clerk.get(f"/api/applications/{app['id']}/materials/{sha}").content == photo  # the county still has it


def test_small_files_travel_together_in_one_window(federation: LocalFederation, caplog):
    """Ten ID-card photos go in one window, not ten PubAck round trips one after the other."""
    settings, _identity, store, app = offline_case(federation, 15)
    shas = [
        materials.attach_material(store, settings.blobs_dir, app["id"], f"材料{n}", f"{n}.pdf", b"%PDF-1.7\n" + os.urandom(3000), AGENT)["sha256"]
        for n in range(10)
    ]
    link_ = UploadLink()

    async def go() -> int:
        nc = await nats.connect(federation.nats_url, **federation.nats_options("shangcun"))
        sends = await blobs.send_pending(nc.jetstream(), store, "shangcun", settings.blobs_dir, link_)
        await nc.close()
        return sends

    caplog.set_level("INFO", logger="yiwang.node.blobs")
    assert run_async(go()) == 10
    assert blobs.pending_uploads(store) == []
    assert [r.getMessage() for r in caplog.records if "sent whole" in r.getMessage()] == [
        "10 attachment(s) sent whole; 10 chunks acknowledged, 30090 bytes published"
    ]
    store.close()
    eventually(lambda: all(blob_complete(federation, sha) for sha in shas), what="all ten at the hub")


class WatchedJetStream:
    """nats-py's JetStream context, counting the publishes that await their PubAck at once."""

    def __init__(self, js) -> None:
        self.js, self.waiting, self.most = js, 0, 0

    async def publish(self, *args, **kwargs):
        self.waiting += 1
        self.most = max(self.most, self.waiting)
        try:
            return await self.js.publish(*args, **kwargs)
        finally:
            self.waiting -= 1


def test_a_large_files_chunks_follow_each_other_without_waiting_for_each_ack(federation: LocalFederation):
    """Stop-and-wait leaves a 64 kbit/s link idle for a round trip after every chunk (12 % of
    it at 300 ms one way): the next chunk is published while the one before awaits its PubAck."""
    settings, _identity, store, app = offline_case(federation, 16)
    scan = b"%PDF-1.7\n" + os.urandom(20 * CHUNK)
    sha = materials.attach_material(store, settings.blobs_dir, app["id"], "授权书", "授权书.pdf", scan, AGENT)["sha256"]
    link_ = UploadLink()

    async def go() -> tuple[int, int]:
        nc = await nats.connect(federation.nats_url, **federation.nats_options("shangcun"))
        js = WatchedJetStream(nc.jetstream())
        chunks = await blobs.send_pending(js, store, "shangcun", settings.blobs_dir, link_, max_chunk=CHUNK)
        await nc.close()
        return chunks, js.most

    chunks, most = run_async(go())
    assert chunks >= 21 and link_.usage.up == len(scan)  # every byte once
    assert most >= 2, "each chunk waited for the PubAck of the one before"
    assert blobs.pending_uploads(store) == []
    store.close()
    eventually(lambda: blob_complete(federation, sha), what="the file at the hub")
