"""`yiwang node enroll CODE --hub URL`: run on the node's own machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from sync_protocol import verify_key_to_text

from .keys import ensure_node_key


class EnrolmentFailed(RuntimeError):
    """The hub refused (message in Chinese from the hub) or could not be reached."""


def enroll(code: str, hub_url: str, data_dir: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Generate the node key locally, send only its public half with the code, and write what the
    hub answers (node id, hub key to pin, NATS URL) to ``node.json`` and the catalog to
    ``catalog.json``. Returns the hub's answer without the catalog."""
    if (data_dir / "node.json").exists():
        raise EnrolmentFailed(f"{data_dir} 已经登记过（node.json 已存在）；如需重新登记，请换一个空目录")
    key = ensure_node_key(data_dir)
    try:
        response = httpx.post(
            hub_url.rstrip("/") + "/api/enrolment",
            json={"code": code, "public_key": verify_key_to_text(key.verify_key)},
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
    (data_dir / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False, indent=1), encoding="utf-8")
    (data_dir / "node.json").write_text(json.dumps(answer | {"hub_url": hub_url}, ensure_ascii=False, indent=1), encoding="utf-8")
    return answer
