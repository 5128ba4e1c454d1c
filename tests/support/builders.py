"""Test data: valid resident IDs, the materials an item needs, keys, records and chains, applications."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from stdnum.cn import ric

from edge_node.auth import add_user
from edge_node.store import Store
from provisioning.keys import ensure_node_key
from sync_protocol import GENESIS, Record, seal_next, verify_key_to_text
from tests.images import signature
from tests.support.api import Api


def resident_id(n: int) -> str:
    """A valid GB 11643 number (Beijing Xicheng, born 1950-01-01 + n days), with its check digit."""
    base = f"110102{(date(1950, 1, 1) + timedelta(days=n)):%Y%m%d}{n % 1000:03d}"
    return base + ric.calc_check_digit(base + "?")


def checked(item_code: str) -> list[str]:
    """What an agent ticks after seeing every original the sample catalog requires for an item."""
    catalog = json.loads(files("central").joinpath("catalog_sample.json").read_text(encoding="utf-8"))
    item = next(i for i in catalog["items"] if i["code"] == item_code)
    return [m["name"] for m in item["materials"] if not m["shared"]]


def household(n: int, name: str = "李桂芳") -> dict[str, Any]:
    """A filled-in 低保 (MZ-001) application form: the applicant alone, 300 yuan a month."""
    return {
        "address": "青山镇上村三组",
        "reason": "因病致贫，无劳动能力",
        "members": [{"name": name, "relation": "本人", "id_number": resident_id(n), "income_fen": 30000}],
    }


def birth_form(n: int) -> dict[str, Any]:
    """A filled-in 新生儿出生“一件事” (GA-007) application form; the mother's ID ``resident_id(n)``."""
    return {
        "baby_name": "周小宝",
        "sex": "男",
        "birth_date": "2026-11-01",
        "birth_place": "青山镇卫生院",
        "mother_id": resident_id(n),
        "household": "随母落户",
        "contact": "13800138000",
    }


RESIDENCE_FORM = {"live_address": "青山镇上村三组 8 号", "reason": "合法稳定住所", "arrived_on": "2025-03-01"}  # 居住证 (GA-006)


NODE_KEY = SigningKey(bytes(range(32)))
HUB_KEY = SigningKey(bytes(range(5, 37)))
T = "2026-11-23T08:00:00.000000Z"


def received(n: int, item: str = "MZ-003") -> Record:
    return Record(
        "application.received",
        f"ev{n}",
        T,
        {
            "application_id": f"app{n}",
            "receipt_no": f"shangcun-{n:06d}",
            "item_code": item,
            "item_name": "x",
            "applicant_name": "张三",
            "applicant_id_number": "11010519491231002X",
            "agent": "agent",
        },
    )


def chain(*batches: list[Record], key: SigningKey = NODE_KEY, node: str = "shangcun") -> list[bytes]:
    pos, wires = GENESIS, []
    for records in batches:
        wire, pos = seal_next(node, "up", pos, records, T, key)
        wires.append(wire)
    return wires


AGENT = {"username": "agent", "display_name": "代办员 王秀兰"}
GOOD_ID = "11010519491231002X"
FORM = {"item_code": "MZ-003", "applicant_name": "张三", "applicant_id_number": GOOD_ID}
CATALOG = {
    "version": 1,
    "items": [{"code": "MZ-003", "name": "高龄津贴申领", "department": "mzj", "department_name": "县民政局", "time_limit_days": 10, "fee_fen": 0}],
}


def node_dir(
    data: Path, *, identity: dict[str, Any] | None = None, catalog: dict[str, Any] | None = None, users: tuple[tuple[str, str, str], ...] = ()
) -> Path:
    """An enrolled village node's directory, as `yiwang node enroll` leaves it, with no NATS to
    reach: its key, node.json (``identity`` overrides), optionally a catalog and
    ``(username, display name, password)`` village agents. For the node app behind a test client."""
    ensure_node_key(data)
    hub_key = verify_key_to_text(SigningKey.generate().verify_key)
    node = {"node_id": "shangcun", "name": "上村代办点", "kind": "village", "nats_url": "nats://127.0.0.1:9", "hub_public_key": hub_key}
    (data / "node.json").write_text(json.dumps(node | (identity or {})))
    if catalog is not None:
        (data / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False))
    if users:
        store = Store(data / "node.sqlite3")
        for username, display_name, password in users:
            add_user(store, username, display_name, "village_agent", password)
        store.close()
    return data


def counts(store: Store) -> tuple[int, int]:
    return store.one("SELECT (SELECT COUNT(*) FROM applications), (SELECT COUNT(*) FROM outbox)")[:]


SIGNATURE_PNG = base64.b64encode(signature()).decode()  # the applicant's signature, as the canvas sends it


def submit(agent: Api, n: int, item: str = "RS-001", by_proxy: bool = False) -> dict:
    """Take application ``n`` at a node through its API, with every material the item requires
    ticked; by proxy with the applicant's signature (as the wizard's canvas sends it). 201 or fail."""
    body = {"item_code": item, "materials_checked": checked(item), "applicant_name": f"申请人{n}", "applicant_id_number": resident_id(n)}
    if by_proxy:
        body |= {"by_proxy": True, "authorisation_png_base64": SIGNATURE_PNG}
    response = agent.post("/api/applications", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def collected(name: str, id_number: str, **extra: str) -> dict[str, str]:
    """A pickup's JSON body: the collector, and the signature drawn on screen (送达回证)."""
    return {"collector_name": name, "collector_id_number": id_number, "signature_png_base64": SIGNATURE_PNG} | extra
