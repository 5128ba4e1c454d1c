"""A local federation for tests and benchmarks: NATS and the hub on free ports, village points enrolled and serving."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from provisioning.federation import LocalFederation, NodeSpec, free_port

AGENT_ROLE = "village_agent"


@contextmanager
def running_federation(root: Path, https: bool = False) -> Iterator[LocalFederation]:
    """NATS + hub on free ports under ``root``, stopped (with any nodes) afterwards."""
    fed = LocalFederation(root=root, nats_port=free_port(), hub_port=free_port(), https=https)
    fed.start_nats()
    fed.start_hub()
    try:
        yield fed
    finally:
        fed.stop_all()


def village(node_id: str = "shangcun", kind: str = "village", parent: str | None = None) -> NodeSpec:
    """A point's spec; ``kind="township"`` for one that takes township items (身份证, with their
    fees); ``parent``: the township that decides its township stages (central/stages.py)."""
    return NodeSpec(node_id, f"{node_id} 代办点", kind, free_port(), parent=parent, users=[("agent", "代办员 王秀兰", AGENT_ROLE)])


def running_township(federation: LocalFederation, node_id: str = "qingshan") -> NodeSpec:
    """A township centre enrolled and serving, with its approver ``boss`` (乡镇审批人)."""
    spec = NodeSpec(node_id, f"{node_id} 便民服务中心", "township", free_port(), users=[("boss", "乡镇审批 周敏", "township_approver")])
    federation.enrol_node(spec)
    federation.start_node(spec)
    return spec


def running_village(federation: LocalFederation, node_id: str = "shangcun", kind: str = "village", parent: str | None = None) -> NodeSpec:
    """A village point enrolled at ``federation``'s hub and serving (its agent: ``agent``)."""
    spec = village(node_id, kind, parent)
    federation.enrol_node(spec)
    federation.start_node(spec)
    return spec
