"""Record kinds and NATS subjects: the names both ends must agree on."""

from __future__ import annotations

import re

# uplink (node -> hub)
APPLICATION_RECEIVED = "application.received"
APPLICATION_PICKED_UP = "application.picked_up"
# downlink (hub -> node)
DECISION_MADE = "decision.made"

UPLINK_STREAM = "YIWANG_UP"
DOWNLINK_STREAM = "YIWANG_DOWN"

NODE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


def is_valid_node_id(node_id: str) -> bool:
    """Node ids are used as NATS subject tokens: lower-case ASCII, digits and '-' only."""
    return bool(NODE_ID_PATTERN.match(node_id))


def uplink_subject(node_id: str) -> str:
    return f"yiwang.up.{node_id}"


def downlink_subject(node_id: str) -> str:
    return f"yiwang.down.{node_id}"


def node_from_subject(subject: str) -> str | None:
    """The node id a message's subject names, or None if it is not one of ours."""
    parts = subject.split(".")
    if len(parts) == 3 and parts[0] == "yiwang" and parts[1] in ("up", "down") and is_valid_node_id(parts[2]):
        return parts[2]
    return None
