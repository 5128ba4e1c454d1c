"""What the adversarial pass of issue 18 found: requests anybody could send that were answered
500, a forged X-Forwarded-For that escaped the per-address login limit, and msgspec's English
leaking into problem details. Each is now a 4xx that says what to fix, and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from provisioning.federation import free_port
from tests.support.builders import node_dir
from tests.support.polling import eventually
from weblayer.throttle import ADDRESS_FAILURES

DEEP = b'{"username": "a", "password": "b", "x": ' + b'{"x": ' * 5000 + b"1" + b"}" * 5000 + b"}"
NOT_UTF8 = b'--x\r\nContent-Disposition: form-data; name="username"\r\n\r\n\xff\xfe\r\n--x--\r\n'


def test_json_nested_thousands_deep_is_a_400_not_a_500(node_client, hub_client):
    json = {"content-type": "application/json"}
    for client in (node_client, hub_client):
        answer = client.post("/api/login", content=DEEP, headers=json)
        assert answer.status_code == 400 and answer.json()["type"].endswith("/invalid-input")
    # a body of free shape (a catalog item) is decoded all the way down: there it was the RecursionError
    token = hub_client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]
    answer = hub_client.put("/api/catalog/items/X-1", content=DEEP, headers=json | {"Authorization": f"Bearer {token}"})
    assert answer.status_code == 400 and answer.json()["detail"] == "请求体不是有效的 JSON"


def test_form_text_that_is_not_utf8_is_a_400_not_a_500(node_client, hub_client):
    for client in (node_client, hub_client):
        for path in ("/login", "/logout"):
            answer = client.post(path, content=NOT_UTF8, headers={"content-type": "multipart/form-data; boundary=x"})
            assert answer.status_code == 400 and "UTF-8" in answer.text, path


def test_msgspec_details_come_out_in_chinese(node_client):
    token = node_client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    missing = node_client.post("/api/applications", json={"item_code": "RS-001"}, headers=auth).json()
    assert (missing["detail"], missing["field"]) == ("请求内容不符合要求：缺少必填字段 applicant_name", "applicant_name")
    huge = node_client.post("/api/fees/close", content=b'{"cash_counted_fen": 1e400}', headers=auth | {"content-type": "application/json"})
    assert huge.status_code == 400 and "数值超出范围" in huge.json()["detail"]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_forged_forwarded_address_does_not_escape_the_per_address_limit(tmp_path: Path):
    """uvicorn believed X-Forwarded-For from 127.0.0.1 by default: a local client naming a new
    address on every try was never held up. The real node process, as `yiwang node serve` runs it."""
    data, port = node_dir(tmp_path / "node"), free_port()
    env = {k: v for k, v in os.environ.items() if k != "YIWANG_TRUSTED_PROXY"}
    node = subprocess.Popen([sys.executable, "-m", "yiwang", "node", "serve", "--dir", str(data), "--port", str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        eventually(lambda: _answers(f"{url}/api/health"), timeout=60, what="the node to serve")
        answers = [
            httpx.post(
                f"{url}/api/login", json={"username": f"user{n}", "password": "x"}, headers={"X-Forwarded-For": f"10.0.{n}.1"}, timeout=30
            ).status_code
            for n in range(ADDRESS_FAILURES + 1)
        ]
        assert answers == [401] * ADDRESS_FAILURES + [429]
    finally:
        node.terminate()
        node.wait(timeout=30)
