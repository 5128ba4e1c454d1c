"""`yiwang node enroll CODE --hub URL`: run on the node's own machine."""

from __future__ import annotations

import base64
import ipaddress
import json
import shutil
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sync_protocol import FINGERPRINT_PATTERN, ca_fingerprint, user_nkey_from_seed, verify_key_to_text

from .keys import ensure_nats_seed, ensure_node_key


class EnrolmentFailed(RuntimeError):
    """The hub refused (message in Chinese from the hub) or could not be reached."""


def _is_loopback(hub_url: str) -> bool:
    host = urlsplit(hub_url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pin_county_ca(hub_url: str, expected: str, timeout: float = 30.0) -> tuple[str, ssl.SSLContext | bool]:
    """Fetch the county CA from the hub and accept it only if its fingerprint is the one on the
    enrolment slip. Returns the CA and what to verify the hub's HTTPS with from then on."""
    expected = expected.strip().lower()
    if not FINGERPRINT_PATTERN.match(expected):
        raise EnrolmentFailed("--ca 应为登记单上的县中枢证书指纹，格式 sha256: 加 64 位十六进制数字；请照登记单重新输入")
    try:
        # not verified yet: the fingerprint check below is what makes this CA trustworthy
        response = httpx.get(hub_url.rstrip("/") + "/api/enrolment/ca", timeout=timeout, verify=False)
        response.raise_for_status()
        pem = response.json()["ca"]
        found = ca_fingerprint(pem)
    except httpx.HTTPError as exc:
        raise EnrolmentFailed(f"无法连接县中枢 {hub_url}：{exc}。请检查网络和地址后重试。") from None
    except (KeyError, ValueError, TypeError):
        raise EnrolmentFailed(f"{hub_url} 没有给出县中枢证书；请确认地址是县中枢的地址") from None
    if found != expected:
        raise EnrolmentFailed(
            f"县中枢证书指纹不符：登记单上是 {expected[:23]}…，{hub_url} 给出的是 {found[:23]}…。"
            "可能连到了冒充的县中枢，或登记单抄错。请勿继续，并联系县级运维核对。"
        )
    return pem, (ssl.create_default_context(cadata=pem) if hub_url.startswith("https://") else True)


def enroll(code: str, hub_url: str, data_dir: Path, ca: str, timeout: float = 30.0, allow_http: bool = False) -> dict[str, Any]:
    """Check the county CA against the slip's fingerprint ``ca`` (and the hub's HTTPS against that
    CA), generate the node's keys locally (batch signing ``node.key``, NATS identity ``nats.nk``,
    both 0600), send only their public halves with the code, and write what the hub answers
    (node id, hub key to pin, NATS URL) to ``node.json``, the county CA to ``nats-ca.pem`` and the
    catalog to ``catalog.json``. Returns the hub's answer without the catalog."""
    if (data_dir / "node.json").exists():
        raise EnrolmentFailed(f"{data_dir} 已经登记过（node.json 已存在）；如需重新登记，请换一个空目录")
    if not hub_url.startswith("https://") and not (allow_http or _is_loopback(hub_url)):
        raise EnrolmentFailed(f"县中枢地址应以 https:// 开头（{hub_url}）：登记时传送的县中枢公钥必须防篡改。确在可信网络上时才可加 --allow-http")
    pem, verify = pin_county_ca(hub_url, ca, timeout)
    key = ensure_node_key(data_dir)
    nats_seed = ensure_nats_seed(data_dir)
    try:
        response = httpx.post(
            hub_url.rstrip("/") + "/api/enrolment",
            json={"code": code, "public_key": verify_key_to_text(key.verify_key), "nats_public_key": user_nkey_from_seed(nats_seed)},
            timeout=timeout,
            verify=verify,
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
    if answer.pop("nats_ca", None) not in (None, pem):
        raise EnrolmentFailed("县中枢给出的 NATS 证书与登记单核对过的县中枢证书不一致；请联系县级运维")
    (data_dir / "nats-ca.pem").write_text(pem)  # trust only the county CA for NATS
    restore_token = answer.pop("restore_token", None)
    if restore_token:
        download_history(hub_url, answer["node_id"], restore_token, data_dir / "restore", timeout, verify)
    (data_dir / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False, indent=1), encoding="utf-8")
    # written last: its presence means enrolment (and any history download) is complete
    (data_dir / "node.json").write_text(
        json.dumps(answer | {"hub_url": hub_url, "ca_fingerprint": ca_fingerprint(pem)}, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return answer


def download_history(
    hub_url: str, node_id: str, token: str, into: Path, timeout: float = 30.0, verify: ssl.SSLContext | bool = True
) -> dict[str, int]:
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
                page = httpx.get(
                    f"{hub_url.rstrip('/')}/api/nodes/{node_id}/history",
                    params={"direction": direction, "after": after},
                    headers=headers,
                    timeout=timeout,
                    verify=verify,
                )
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
    (into / "manifest.json").write_text(
        json.dumps({"node_id": node_id, "keys": keys, "up_seq": counts["up"], "down_seq": counts["down"]}, indent=1), encoding="utf-8"
    )
    return counts
