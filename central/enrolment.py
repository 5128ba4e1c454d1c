"""Node enrolment with one-time codes. The node generates its key; only the public half arrives."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import is_valid_node_id, verify_key_from_text
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import guidance
from .actions import KIND_NAMES, record_action
from .clock import utcnow
from .db import transaction
from .models import Alert, EnrolmentCode, NatsCredential, Node, NodeKey, RestoreToken
from .natsauth import check_nkey, retire

CODE_LIFETIME = timedelta(hours=24)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


def create_replacement_code(engine: Engine, node_id: str, actor: str = "system") -> tuple[str, str]:
    """A code for new hardware at an enrolled point (stolen laptop, dead disk): redeeming it
    moves the point to the new device's key and lets the device restore the point's history."""
    with transaction(engine) as session:
        node = session.get(Node, node_id)
        if node is None:
            raise NotFound(f"没有节点 {node_id}；新服务点请生成普通登记码")
        record_action(session, actor, "node.replacement_code", node_id)
        return _new_code(session, node.id, node.name, node.kind, node.parent, replacement=True)


def _new_code(session, node_id: str, name: str, kind: str, parent: str | None, replacement: bool) -> tuple[str, str]:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    code = "-".join(raw[i : i + 4] for i in range(0, 12, 4))
    expires = utcnow(CODE_LIFETIME)
    session.add(
        EnrolmentCode(
            code_hash=_hash(code),
            node_id=node_id,
            name=name,
            kind=kind,
            parent=parent,
            created_at=utcnow(),
            expires_at=expires,
            replacement=replacement,
        )
    )
    return code, expires


def create_code(engine: Engine, node_id: str, name: str, kind: str, parent: str | None, actor: str = "system") -> tuple[str, str]:
    """Return (code, expires_at). Only the code's hash is stored."""
    if not is_valid_node_id(node_id):
        raise InvalidInput("节点编号只能由小写字母、数字和“-”组成，2 到 32 位", field="node_id")
    if kind not in ("village", "township"):
        raise InvalidInput("节点类型只能是村代办点（village）或乡镇便民服务中心（township）", field="kind")
    if not name.strip():
        raise InvalidInput("请填写服务点名称", field="name")
    parent = (parent or "").strip() or None
    if parent and kind != "village":
        raise InvalidInput("只有村代办点有所属乡镇；乡镇便民服务中心不填", field="parent")
    if parent == node_id:
        raise InvalidInput("所属乡镇不能是这个节点自己", field="parent")
    with transaction(engine) as session:
        if session.get(Node, node_id) is not None:
            raise Conflict(f"节点 {node_id} 已经登记；更换设备请生成设备更换码")
        other = session.exec(select(EnrolmentCode.kind).where(EnrolmentCode.node_id == node_id, EnrolmentCode.kind != kind, *_pending())).first()
        if other is not None:  # one id, two kinds: a township's code, then a village's under itself, made a village a township
            raise Conflict(f"节点 {node_id} 已有一张未使用的{KIND_NAMES.get(other, other)}登记码：换个节点编号，或等那张过期", field="node_id")
        known = townships(session) if parent else {}
        if parent and parent not in known:
            choices = "、".join(f"{k}（{v}）" for k, v in known.items()) or "还没有"
            raise InvalidInput(f"所属乡镇请填乡镇便民服务中心的节点编号；{parent} 不是已登记或已生成登记码的乡镇（可选：{choices}）", field="parent")
        record_action(session, actor, "node.enrolment_code", node_id, name=name.strip(), kind=kind, parent=parent)
        return _new_code(session, node_id, name.strip(), kind, parent, replacement=False)


def _pending() -> tuple[Any, ...]:
    """A code not used and not expired."""
    return (col(EnrolmentCode.used_at).is_(None), col(EnrolmentCode.expires_at) > utcnow())


def townships(session: Session) -> dict[str, str]:
    """The township centres a village may belong to, by node id with their names: enrolled, or
    with a code not yet used and not expired (the county may hand out a township's and its villages' slips on
    the same day)."""
    coming = session.exec(select(EnrolmentCode.node_id, EnrolmentCode.name).where(EnrolmentCode.kind == "township", *_pending()))
    enrolled = session.exec(select(Node.id, Node.name).where(Node.kind == "township"))
    return dict(sorted({**dict(coming.all()), **dict(enrolled.all())}.items()))


def redeem_code(engine: Engine, code: str, public_key: str, nats_public_key: str) -> tuple[Node, str | None]:
    """Enrol the node that holds ``public_key`` (batch signing) and ``nats_public_key`` (its NATS
    identity); a used or expired code is refused. Returns the node and, for a replacement device,
    a one-time token to download the point's history. The caller then applies the NATS access
    list (natsauth.apply): a replaced device's old identity is cut off there.

    Redeeming again with the same key returns the same node: if the answer was lost on a flaky
    link, the node can simply retry instead of needing a new code."""
    try:
        verify_key_from_text(public_key)
    except ValueError:
        raise InvalidInput("节点公钥格式不正确（应为 64 位十六进制）", field="public_key") from None
    public_key = public_key.strip().lower()
    nats_public_key = check_nkey(nats_public_key)
    with transaction(engine) as session:
        row = session.get(EnrolmentCode, _hash(code))
        if row is None:
            raise NotFound("登记码无效，请向县级运维人员核对")
        existing = session.get(Node, row.node_id)
        credential = session.get(NatsCredential, nats_public_key)
        retry = (
            row.used_at is not None
            and existing is not None
            and existing.public_key == public_key
            and credential is not None
            and credential.node_id == existing.id
        )
        if row.used_at is not None and not retry:
            raise Conflict("登记码已经使用过，请向县级运维人员申请新的登记码")
        if not retry and row.expires_at < utcnow():
            raise Conflict("登记码已过期，请向县级运维人员申请新的登记码")
        now = utcnow()
        if retry:
            assert existing is not None  # a retry is defined by the existing node
            node = existing
        elif row.replacement:
            if existing is None:
                raise NotFound(f"节点 {row.node_id} 不存在，无法更换设备")
            node = existing
            # the new key signs from the batch after the last one the hub applied
            session.merge(NodeKey(node_id=node.id, from_seq=node.up_seq + 1, public_key=public_key, enrolled_at=now))
            node.public_key, node.status, node.revoked_at = public_key, "enrolled", None
            retire(session, now, node_id=node.id)  # the old device (stolen, broken) may no longer connect
            session.add(
                Alert(kind="node.replaced", node_id=node.id, message=f"服务点更换设备：新密钥自上行批次 {node.up_seq + 1} 起生效", created_at=now)
            )
        else:
            if existing is not None:
                raise Conflict(f"节点 {row.node_id} 已经登记")
            node = Node(id=row.node_id, name=row.name, kind=row.kind, parent=row.parent, public_key=public_key, enrolled_at=now)
            session.add(NodeKey(node_id=node.id, from_seq=1, public_key=public_key, enrolled_at=now))
            guidance.send_all(session, node.id)  # its pages' 通知公告 and 常见问题, for use offline
        if not retry:
            if credential is not None:
                raise Conflict("这个 NATS 公钥已被使用；请在新的空目录重新运行登记命令")
            session.add(NatsCredential(nkey=nats_public_key, node_id=node.id, created_at=now))
        row.used_at = row.used_at or now
        session.add(row)
        session.add(node)
        restore_token = None
        if row.replacement:
            restore_token = secrets.token_urlsafe(32)
            session.add(RestoreToken(token_hash=_hash(restore_token), node_id=node.id, expires_at=utcnow(CODE_LIFETIME)))
    return node, restore_token


def node_for_restore_token(engine: Engine, node_id: str, token: str) -> None:
    """Raise unless ``token`` is a live restore token for ``node_id``."""
    from sqlmodel import Session

    with Session(engine) as session:
        row = session.get(RestoreToken, _hash(token))
    if row is None or row.node_id != node_id or row.expires_at < utcnow():
        raise Forbidden("恢复令牌无效或已过期，请重新登记设备")
