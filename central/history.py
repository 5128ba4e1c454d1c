"""A node's own history, for a replacement device to restore from (paged raw batches)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from weblayer.errors import InvalidInput, NotFound

from .models import DownlinkBatch, Node, NodeKey, UplinkBatch

PAGE = 200


def node_history(engine: Engine, node_id: str, direction: str, after: int, limit: int = PAGE) -> dict[str, Any]:
    if direction not in ("up", "down"):
        raise InvalidInput("direction 只能是 up 或 down", field="direction")
    limit = max(1, min(limit, PAGE))
    model: type[UplinkBatch] | type[DownlinkBatch] = UplinkBatch if direction == "up" else DownlinkBatch
    with Session(engine) as session:
        node = session.get(Node, node_id)
        if node is None:
            raise NotFound(f"没有节点 {node_id}")
        query = select(model).where(model.node_id == node_id, col(model.seq) > after).order_by(col(model.seq)).limit(limit)
        rows = cast("Sequence[UplinkBatch | DownlinkBatch]", session.exec(query).all())  # mypy joins the two models to SQLModel
        keys = session.exec(select(NodeKey).where(NodeKey.node_id == node_id).order_by(col(NodeKey.from_seq))).all()
        last = node.up_seq if direction == "up" else node.down_seq
    return {
        "node_id": node_id,
        "direction": direction,
        "last_seq": last,
        "keys": [{"from_seq": k.from_seq, "public_key": k.public_key} for k in keys],
        "batches": [{"seq": r.seq, "raw": base64.b64encode(r.raw).decode()} for r in rows],
    }
