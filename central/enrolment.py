"""Node enrolment with one-time codes. The node generates its key; only the public half arrives."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.engine import Engine

from sync_protocol import is_valid_node_id, verify_key_from_text

from .clock import utcnow
from .db import transaction
from .errors import Conflict, InvalidInput, NotFound
from .models import EnrolmentCode, Node

CODE_LIFETIME = timedelta(hours=24)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


def create_code(engine: Engine, node_id: str, name: str, kind: str, parent: str | None) -> tuple[str, str]:
    """Return (code, expires_at). Only the code's hash is stored."""
    if not is_valid_node_id(node_id):
        raise InvalidInput("节点编号只能由小写字母、数字和“-”组成，2 到 32 位", field="node_id")
    if kind not in ("village", "township"):
        raise InvalidInput("节点类型只能是村代办点（village）或乡镇便民服务中心（township）", field="kind")
    if not name.strip():
        raise InvalidInput("请填写服务点名称", field="name")
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    code = "-".join(raw[i : i + 4] for i in range(0, 12, 4))
    expires = utcnow(CODE_LIFETIME)
    with transaction(engine) as session:
        if session.get(Node, node_id) is not None:
            raise Conflict(f"节点 {node_id} 已经登记；更换设备请走设备更换流程")
        session.add(EnrolmentCode(code_hash=_hash(code), node_id=node_id, name=name.strip(), kind=kind, parent=parent, created_at=utcnow(), expires_at=expires))
    return code, expires


def redeem_code(engine: Engine, code: str, public_key: str) -> Node:
    """Enrol the node that holds ``public_key``; a used or expired code is refused.

    Redeeming again with the same key returns the same node: if the answer was lost on a flaky
    link, the node can simply retry instead of needing a new code."""
    try:
        verify_key_from_text(public_key)
    except ValueError:
        raise InvalidInput("节点公钥格式不正确（应为 64 位十六进制）", field="public_key") from None
    public_key = public_key.strip().lower()
    with transaction(engine) as session:
        row = session.get(EnrolmentCode, _hash(code))
        if row is None:
            raise NotFound("登记码无效，请向县级运维人员核对")
        existing = session.get(Node, row.node_id)
        if row.used_at is not None and existing is not None and existing.public_key == public_key:
            return existing
        if row.used_at is not None:
            raise Conflict("登记码已经使用过，请向县级运维人员申请新的登记码")
        if row.expires_at < utcnow():
            raise Conflict("登记码已过期，请向县级运维人员申请新的登记码")
        if session.get(Node, row.node_id) is not None:
            raise Conflict(f"节点 {row.node_id} 已经登记")
        row.used_at = utcnow()
        node = Node(id=row.node_id, name=row.name, kind=row.kind, parent=row.parent, public_key=public_key, enrolled_at=utcnow())
        session.add(row)
        session.add(node)
    return node
