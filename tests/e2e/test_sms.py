"""Issue 21 item 1: every step reaches the citizen's phone once, even when the hub is killed (-9)
while it hands a message to the gateway — the real hub, node and NATS processes; the gateway is a
stand-in HTTP server (an SMS provider is a boundary yiwang does not own: the one fake allowed)."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.api import Api
from tests.support.builders import SIGNATURE_PNG, checked, resident_id
from tests.support.federation import running_federation, running_village
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

PHONE = "13912345678"


class Provider:
    """STAND-IN for an SMS provider: takes each Idempotency-Key once (as real providers' request
    ids do), and holds its first request open until ``release`` — the hub is killed meanwhile."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.taken: dict[str, dict] = {}  # key -> the message that reached the phone
        self.holding = threading.Event()
        self.release = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert self.headers["Idempotency-Key"] == body["id"] and self.headers["Authorization"] == "Bearer gw-token"
                provider.requests.append(body)
                provider.taken.setdefault(body["id"], body)  # it reaches the phone once per key
                if len(provider.requests) == 1:
                    provider.holding.set()
                    provider.release.wait(60)  # the answer never reaches the hub that asked
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"id": "P-" + body["id"]}).encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


def test_each_step_reaches_the_phone_once_across_a_kill_9_of_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    provider = Provider()
    monkeypatch.setenv("YIWANG_SMS_URL", provider.url)
    monkeypatch.setenv("YIWANG_SMS_TOKEN", "gw-token")
    try:
        with running_federation(tmp_path / "fed") as federation:
            spec = running_village(federation, "shangcun")
            agent = Api(f"http://127.0.0.1:{spec.port}", "agent", federation.password)
            clerk = Api(federation.hub_url, "clerk-mzj", federation.password)
            body = {
                "item_code": "MZ-003",
                "materials_checked": checked("MZ-003"),
                "applicant_name": "申请人1",
                "applicant_id_number": resident_id(1),
                "by_proxy": True,
                "authorisation_png_base64": SIGNATURE_PNG,
                "applicant_phone": PHONE,
                "sms_consent": True,
            }
            response = agent.post("/api/applications", json=body)
            assert response.status_code == 201, response.text
            case = response.json()

            # the 收件 message is in the gateway's hands when the hub dies
            assert provider.holding.wait(60), "the hub never handed the first SMS over"
            federation.stop("hub", sig=signal.SIGKILL)
            provider.release.set()
            federation.start_hub()
            eventually(lambda: len(provider.requests) >= 2, timeout=30, what="the interrupted SMS handed over again")
            clerk = Api(federation.hub_url, "clerk-mzj", federation.password)

            assert clerk.post(f"/api/applications/{case['id']}/decision", json={"decision": "approve"}).status_code == 200
            steps = ["collected", "accepted", "decided", "ready"]  # 受理并办结; ready once the point holds the result
            eventually(lambda: sorted(m["template"] for m in provider.taken.values()) == sorted(steps), timeout=90, what="every step at the phone")
            shown = clerk.get(f"/api/applications/{case['id']}").json()["notifications"]
            assert sorted((n["step"], n["status"]) for n in shown) == sorted((s, "sent") for s in steps)
    finally:
        provider.release.set()
        provider.server.shutdown()

    per_key = Counter(r["id"] for r in provider.requests)
    assert [m["template"] for m in provider.taken.values()].count("collected") == 1  # each step once at the phone
    assert per_key[provider.requests[0]["id"]] == 2  # the interrupted one, handed over again with its key …
    assert all(n == 1 for key, n in per_key.items() if key != provider.requests[0]["id"])  # … and nothing else twice
    assert all(m["phone"] == PHONE and "申请人1" not in m["text"] and resident_id(1) not in m["text"] for m in provider.taken.values())
