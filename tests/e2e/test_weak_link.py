"""Weak links, through real processes: a village node behind a shaping proxy (tests/support/
shaping.py) that caps its bandwidth, delays every byte and cuts or silences the link, as a 2G-class
village connection does. What a county operator would check: everything arrives exactly once,
what crossed the link is close to what had to, and a dead link is seen at once at both ends."""

from __future__ import annotations

import re
import sqlite3
import time

import httpx
import pytest

from provisioning.federation import LocalFederation
from tests.support.api import Api
from tests.support.builders import checked, household, resident_id
from tests.support.federation import village
from tests.support.polling import eventually

from ..images import document_photo
from ..support.shaping import ShapingProxy

pytestmark = pytest.mark.e2e


def test_the_shaping_proxy_holds_its_rate(federation: LocalFederation):
    """The tool first: bytes through a 256 kbit/s proxy take at least the time the rate allows."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as sink:
        proxy = ShapingProxy(sink.getsockname()[1], kbit_per_s=256, one_way_ms=50).start()
        try:
            client = socket.create_connection(("127.0.0.1", proxy.port))
            conn, _ = sink.accept()
            payload = bytes(64 * 1024)
            started = time.monotonic()
            client.sendall(payload)
            got = 0
            while got < len(payload):
                got += len(conn.recv(65536))
            took = time.monotonic() - started
            assert got == len(payload) and proxy.up.forwarded == len(payload)
            assert took >= 0.9 * len(payload) / (256_000 / 8) + 0.05  # never faster than the link
            client.close()
            conn.close()
        finally:
            proxy.stop()


def uplink_bytes(node_db) -> tuple[int, int]:
    """(batch wire bytes, file bytes) the node had to get to the hub."""
    with sqlite3.connect(node_db) as conn:
        batches = conn.execute("SELECT COALESCE(SUM(LENGTH(wire)), 0) FROM uplink_batches").fetchone()[0]
        files = conn.execute("SELECT COALESCE(SUM(size), 0) FROM blob_uploads").fetchone()[0]
    return batches, files


def test_a_village_day_crosses_64_kbit_cut_every_90_s_exactly_once(federation: LocalFederation):
    proxy = ShapingProxy(federation.nats_port, kbit_per_s=64, one_way_ms=300).start()
    proxy.silence()  # the day begins offline: everything queues at the node
    spec = village("shangcun")
    spec.nats_url = proxy.url
    federation.enrol_node(spec)
    federation.start_node(spec)
    base = f"http://127.0.0.1:{spec.port}"
    agent = Api(base, "agent", federation.password)
    try:
        ids = []
        for n in range(200):
            response = agent.post(
                "/api/applications",
                json={
                    "item_code": "MZ-001",
                    "materials_checked": checked("MZ-001"),
                    "applicant_name": f"村民{n:03d}",
                    "applicant_id_number": resident_id(3000 + n),
                    "form": household(3000 + n, f"村民{n:03d}"),
                },
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        originals = [document_photo(seed, lines=12) for seed in range(5)]
        for app_id, photo in zip(ids, originals, strict=False):
            up = agent.post(
                f"/api/applications/{app_id}/materials", data={"material": "居民身份证"}, files={"file": ("身份证.jpg", photo, "image/jpeg")}
            )
            assert up.status_code == 201, up.text
        assert agent.get("/api/status").json()["online"] is False
        proxy.restore()
        proxy.cut_every(90, down_s=3, first_after=20)  # the first cut lands mid-transfer
        operator = Api(federation.hub_url, "operator", federation.password)

        def at_hub() -> bool:
            apps = operator.get("/api/applications").json()
            mine = [a for a in apps if a["node_id"] == "shangcun"]
            if len(mine) < 200:
                return False
            views = [operator.get(f"/api/applications/{app_id}").json() for app_id in ids[:5]]
            return all(v["materials"] and v["materials_complete"] for v in views)

        eventually(at_hub, timeout=150, what="200 applications and 5 photos at the hub over 64 kbit/s")
        apps = [a for a in operator.get("/api/applications").json() if a["node_id"] == "shangcun"]
        assert sorted(a["receipt_no"] for a in apps) == [f"shangcun-{n:06d}" for n in range(1, 201)]  # exactly once
        batch_bytes, file_bytes = uplink_bytes(federation.node_dir("shangcun") / "node.sqlite3")
        assert file_bytes < 0.5 * sum(map(len, originals))  # the photos were optimised before they travelled
        must_travel = batch_bytes + file_bytes
        assert proxy.cuts >= 1
        assert proxy.up.forwarded <= 1.3 * must_travel, (proxy.up.forwarded, batch_bytes, file_bytes, proxy.cuts)
        hub_log = (federation.root / "logs" / "hub.log").read_text()
        assert not re.search(r"duplicate yiwang\.up\.shangcun", hub_log)  # no batch that arrived went again
        node_log = (federation.root / "logs" / "shangcun.log").read_text()
        # a cut fails the sends in flight at once (LinkLost), not after their timeouts: a chunk
        # left waiting out its budget would keep the link idle for seconds after every reconnect
        assert not re.search(r"not acknowledged.*TimeoutError", node_log), [line for line in node_log.splitlines() if "not acknowledged" in line]
        print(
            f"\n64 kbit/s, 300 ms, {proxy.cuts} cuts: {proxy.up.forwarded} bytes up for {batch_bytes} + {file_bytes} that had to travel "
            f"({proxy.up.forwarded / must_travel:.2f}x); {proxy.down.forwarded} bytes down; {batch_bytes / 200:.0f} B of batch per application"
        )
    finally:
        federation.stop("shangcun")
        proxy.stop()


def test_a_silenced_link_is_seen_at_the_node_within_30_s_and_at_the_hub_within_three_heartbeats(federation: LocalFederation):
    proxy = ShapingProxy(federation.nats_port, kbit_per_s=256, one_way_ms=100).start()
    spec = village("shangcun")
    spec.nats_url = proxy.url
    spec.env = {"YIWANG_HEARTBEAT_SECONDS": "3"}
    federation.enrol_node(spec)
    federation.start_node(spec)
    base = f"http://127.0.0.1:{spec.port}"
    agent = Api(base, "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)

    def node_row() -> dict:
        return next(n for n in operator.get("/api/dashboard").json()["nodes"] if n["id"] == "shangcun")

    try:
        eventually(lambda: agent.get("/api/status").json()["online"], what="the node online through the proxy")
        eventually(lambda: node_row()["heartbeat_interval_s"] == 3 and not node_row()["silent"], what="its first status at the hub")
        # and the hub's answer back at the node: a node that never heard one counts its hub as
        # older and queues heartbeats the old way (test_idle_cost), which would add to the count below
        eventually(lambda: agent.get("/api/status").json()["link"]["statuses_answered"] >= 1, what="the hub's first answer at the node")
        assert operator.get("/api/dashboard").json()["hub_nats_connected"] is True
        proxy.silence()
        silenced = time.monotonic()
        taken = agent.post(
            "/api/applications",
            json={
                "item_code": "MZ-001",
                "materials_checked": checked("MZ-001"),
                "applicant_name": "王五",
                "applicant_id_number": resident_id(77),
                "form": household(77, "王五"),
            },
        )
        assert taken.status_code == 201  # the window works on a dead link
        eventually(lambda: node_row()["silent"], timeout=20, what="the hub to mark the point silent")
        assert time.monotonic() - silenced <= 3 * 3 + 3  # three missed 3 s heartbeats (the last one up to 3 s before the silence)
        assert any("3 次心跳" in r for r in node_row()["reasons"])
        eventually(lambda: not agent.get("/api/status").json()["online"], timeout=40, what="the node to notice its dead link")
        assert time.monotonic() - silenced <= 32
        page = httpx.Client(base_url=base, timeout=30)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.get("/login").text).group(1)
        page.post("/login", data={"username": "agent", "password": federation.password, "_csrf_token": token})
        banner = page.get("/").text
        assert "连接中断" in banner and "1 条记录" in banner, re.search(r"id=\"sync-status\".{0,400}", banner, re.S).group(0)
        proxy.restore()
        eventually(
            lambda: agent.get("/api/status").json()["online"] and agent.get("/api/status").json()["waiting_events"] == 0,
            timeout=60,
            what="the node back and its application through",
        )
        eventually(lambda: not node_row()["silent"], what="the hub to see the point again")
    finally:
        federation.stop("shangcun")
        proxy.stop()


def test_a_metered_point_sends_records_at_once_and_files_only_when_allowed(federation: LocalFederation):
    spec = village("shangcun")
    spec.env = {"YIWANG_HEARTBEAT_SECONDS": "1"}
    federation.enrol_node(spec)
    federation.start_node(spec)
    agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
    operator = Api(federation.hub_url, "operator", federation.password)
    clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
    try:
        assert operator.post("/api/nodes/shangcun/link", json={"metered": True, "hours": "25-26"}).status_code == 400  # not an hour
        assert operator.post("/api/nodes/shangcun/link", json={"metered": True}).json()["metered"] is True  # files only on request
        eventually(lambda: agent.get("/api/status").json()["link"]["metered"], what="the node to learn its metered mode")
        app = agent.post(
            "/api/applications",
            json={
                "item_code": "MZ-001",
                "materials_checked": checked("MZ-001"),
                "applicant_name": "赵六",
                "applicant_id_number": resident_id(88),
                "form": household(88, "赵六"),
            },
        ).json()
        photo = document_photo(9, lines=8)
        sent = agent.post(
            f"/api/applications/{app['id']}/materials", data={"material": "居民身份证"}, files={"file": ("证.jpg", photo, "image/jpeg")}
        )
        assert sent.status_code == 201 and sent.json()["size"] < len(photo)
        view = eventually(
            lambda: (r := clerk.get(f"/api/applications/{app['id']}")).status_code == 200 and r.json()["materials"] and r.json(),
            what="the records at the hub",
        )
        time.sleep(4)  # four heartbeats: the file stays at the node
        assert clerk.get(f"/api/applications/{app['id']}").json()["materials_complete"] is False and view["materials"][0]["arrived"] is False
        assert agent.get("/api/status").json()["waiting_files"] == 1
        banner_page = httpx.Client(base_url=f"http://127.0.0.1:{spec.port}", timeout=30)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', banner_page.get("/login").text).group(1)
        banner_page.post("/login", data={"username": "agent", "password": federation.password, "_csrf_token": token})
        assert "按流量计费" in banner_page.get("/").text

        # the clerk cannot read a detail: the photo as taken comes, metered or not
        sha = sent.json()["sha256"]
        assert clerk.post(f"/api/applications/{app['id']}/materials/{sha}/original").status_code == 202

        def original() -> dict | None:
            return next(
                (
                    m
                    for m in clerk.get(f"/api/applications/{app['id']}").json()["materials"]
                    if m["material"] == "居民身份证（原图）" and m["arrived"]
                ),
                None,
            )

        got = eventually(original, what="the original at the hub while the point is metered")
        full = clerk.get(f"/api/applications/{app['id']}/materials/{got['sha256']}").content
        import io

        from PIL import Image

        assert Image.open(io.BytesIO(full)).size == Image.open(io.BytesIO(photo)).size == (4000, 3000)  # full size...
        assert got["size"] > sent.json()["size"] and b"GPS" not in full and 0x8825 not in Image.open(io.BytesIO(full)).getexif()  # ...but no GPS
        assert 0x8825 in Image.open(io.BytesIO(photo)).getexif()  # which the photo as taken had
        assert not next(m for m in clerk.get(f"/api/applications/{app['id']}").json()["materials"] if m["sha256"] == sha)[
            "arrived"
        ]  # the copy still waits for its hours
        case_page = httpx.Client(base_url=federation.hub_url, timeout=30)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', case_page.get("/login").text).group(1)
        case_page.post("/login", data={"username": "clerk-mzj", "password": federation.password, "_csrf_token": token})
        assert "原图已到" in case_page.get(f"/cases/{app['id']}").text
        operator.post("/api/nodes/shangcun/link", json={"metered": False})
        eventually(lambda: clerk.get(f"/api/applications/{app['id']}").json()["materials_complete"], what="the file once metering is off")
    finally:
        federation.stop("shangcun")
