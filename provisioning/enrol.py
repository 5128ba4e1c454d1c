"""`yiwang node enroll CODE --hub URL`: run on the node's own machine."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import httpx

from sync_protocol import verify_key_to_text

from .keys import ensure_nats_seed, ensure_node_key
from .natsd import public_nkey


class EnrolmentFailed(RuntimeError):
    """The hub refused (message in Chinese from the hub) or could not be reached."""


def enroll(code: str, hub_url: str, data_dir: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Generate the node's keys locally (batch signing ``node.key``, NATS identity ``nats.nk``,
    both 0600), send only their public halves with the code, and write what the hub answers
    (node id, hub key to pin, NATS URL) to ``node.json``, the county CA to ``nats-ca.pem`` and the
    catalog to ``catalog.json``. Returns the hub's answer without the catalog."""
    if (data_dir / "node.json").exists():
        raise EnrolmentFailed(f"{data_dir} 已经登记过（node.json 已存在）；如需重新登记，请换一个空目录")
    key = ensure_node_key(data_dir)
    nats_seed = ensure_nats_seed(data_dir)
    try:
        response = httpx.post(
            hub_url.rstrip("/") + "/api/enrolment",
            json={"code": code, "public_key": verify_key_to_text(key.verify_key), "nats_public_key": public_nkey(nats_seed)},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise EnrolmentFailed(f"无法连接县中枢 {hub_url}：{exc}。请检查网络和地址后重试。") from None
    if not response.is_success:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise EnrolmentFailed(f"登记被拒绝（HTTP {response.status_code}）：{detail}")
    answer = response.json()
    catalog = answer.pop("catalog")
    nats_ca = answer.pop("nats_ca", None)
    if nats_ca:
        (data_dir / "nats-ca.pem").write_text(nats_ca)  # trust only the county CA for NATS
    restore_token = answer.pop("restore_token", None)
    if restore_token:
        download_history(hub_url, answer["node_id"], restore_token, data_dir / "restore", timeout)
    (data_dir / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False, indent=1), encoding="utf-8")
    # written last: its presence means enrolment (and any history download) is complete
    (data_dir / "node.json").write_text(json.dumps(answer | {"hub_url": hub_url}, ensure_ascii=False, indent=1), encoding="utf-8")
    return answer


def download_history(hub_url: str, node_id: str, token: str, into: Path, timeout: float = 30.0) -> dict[str, int]:
    """A replacement device fetches its point's raw uplink and downlink batches from the hub. They
    are only stored here; the node verifies every one (signatures, chain) before using them."""
    if into.exists():
        shutil.rmtree(into)
    counts, keys = {}, []
    headers = {"Authorization": f"Restore {token}"}
    for direction in ("up", "down"):
        (into / direction).mkdir(parents=True)
        after = 0
        while True:
            try:
                page = httpx.get(f"{hub_url.rstrip('/')}/api/nodes/{node_id}/history", params={"direction": direction, "after": after}, headers=headers, timeout=timeout)
            except httpx.HTTPError as exc:
                raise EnrolmentFailed(f"下载本服务点历史记录时网络中断：{exc}。请重新运行同一条登记命令。") from None
            if not page.is_success:
                raise EnrolmentFailed(f"下载历史记录被拒绝（HTTP {page.status_code}）：{page.text[:200]}")
            body = page.json()
            keys = body["keys"]
            for batch in body["batches"]:
                (into / direction / f"{batch['seq']:09d}.bin").write_bytes(base64.b64decode(batch["raw"]))
                after = batch["seq"]
            if not body["batches"] or after >= body["last_seq"]:
                break
        counts[direction] = after
    (into / "manifest.json").write_text(json.dumps({"node_id": node_id, "keys": keys, "up_seq": counts["up"], "down_seq": counts["down"]}, indent=1), encoding="utf-8")
    return counts
