"""Operator actions on enrolled nodes."""

from __future__ import annotations

import logging
import re

from sqlalchemy.engine import Engine

from weblayer.errors import Conflict, InvalidInput, NotFound

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .models import Alert, Node, User

log = logging.getLogger("yiwang.hub.nodes")


def revoke_node(engine: Engine, operator: User, node_id: str, reason: str) -> Node:
    """Stop trusting a node (e.g. a stolen laptop): from now on every batch under its id is
    quarantined (a thief holds the key and can date a batch as he likes, so no batch of a revoked
    node is trusted, whatever time it claims). The caller applies the NATS access list, which
    disconnects the node (natsauth.apply)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("吊销节点必须填写原因", field="reason")
    with transaction(engine) as session:
        node = session.get(Node, node_id)
        if node is None:
            raise NotFound(f"没有节点 {node_id}")
        if node.status == "revoked":
            raise Conflict(f"节点 {node_id} 已经吊销")
        node.status, node.revoked_at = "revoked", utcnow()
        session.add(node)
        record_action(session, operator, "node.revoked", node_id, reason=reason)
        session.add(Alert(kind="node.revoked", node_id=node_id, message=f"节点已由 {operator.display_name} 吊销：{reason}", created_at=utcnow()))
    log.warning("node %s revoked by %s: %s", node_id, operator.username, reason)
    return node


HOURS = re.compile(r"^([01]?\d|2[0-3])-([01]?\d|2[0-4])$")


def set_link_mode(engine: Engine, operator: User, node_id: str, metered: bool, hours: str = "") -> Node:
    """Metered mode (按流量计费): the point's records still go at once, its material files only in
    ``hours`` (Beijing time, ``HH-HH``; empty: only when a clerk asks). The node learns it from
    the answer to its next status, within one heartbeat."""
    hours = hours.strip()
    if hours and not HOURS.match(hours):
        raise InvalidInput("上传时段格式为“开始时-结束时”，例如 12-14（北京时间，整点）", field="hours")
    with transaction(engine) as session:
        node = session.get(Node, node_id)
        if node is None:
            raise NotFound(f"没有节点 {node_id}")
        node.metered, node.metered_hours = metered, hours if metered else ""
        session.add(node)
        record_action(session, operator, "node.link_mode", node_id, metered=metered, hours=node.metered_hours)
    log.info("node %s link mode set by %s: metered=%s hours=%s", node_id, operator.username, metered, node.metered_hours or "-")
    return node
