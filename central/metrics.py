"""Prometheus text exposition (format 0.0.4) of the dashboard's figures, for the county's
monitoring. No personal data: node ids, states and counts only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sync_protocol import parse_time


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""

    def escape(value: str) -> str:  # the exposition format escapes backslash, double quote and newline
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(str(v))}"' for k, v in sorted(labels.items())) + "}"


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(labels)} {value:g}" for labels, value in samples]
    return lines


def render(board: dict[str, Any], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    nodes = board["nodes"]
    county = board["county"]
    lines: list[str] = []
    lines += _family(
        "yiwang_node_up",
        "gauge",
        "1 if the node is enrolled and not behind",
        [({"node": n["id"]}, float(n["status"] == "enrolled" and not n["behind"])) for n in nodes],
    )
    lines += _family(
        "yiwang_node_last_seen_age_seconds",
        "gauge",
        "Seconds since the hub last heard from the node",
        [({"node": n["id"]}, (now - parse_time(n["last_seen_at"])).total_seconds()) for n in nodes if n["last_seen_at"]],
    )
    lines += _family("yiwang_node_uplink_seq", "gauge", "Last uplink batch applied from the node", [({"node": n["id"]}, n["up_seq"]) for n in nodes])
    lines += _family(
        "yiwang_node_outbox_depth",
        "gauge",
        "Events waiting at the node, from its last heartbeat",
        [({"node": n["id"]}, n["outbox_depth"]) for n in nodes if n["heartbeat_at"]],
    )
    lines += _family(
        "yiwang_node_clock_offset_seconds",
        "gauge",
        "Node clock minus NATS server clock",
        [({"node": n["id"]}, n["clock_offset_s"]) for n in nodes if n["clock_offset_s"] is not None],
    )
    lines += _family(
        "yiwang_node_catalog_version",
        "gauge",
        "Catalog version the node reports",
        [({"node": n["id"]}, n["catalog_version"]) for n in nodes if n["heartbeat_at"]],
    )
    lines += _family(
        "yiwang_node_quarantined_batches", "gauge", "Batches from the node held in quarantine", [({"node": n["id"]}, n["quarantined"]) for n in nodes]
    )
    lines += _family(
        "yiwang_node_held_batches", "gauge", "Batches from the node waiting behind a gap", [({"node": n["id"]}, n["held"]) for n in nodes]
    )
    lines += _family("yiwang_catalog_version", "gauge", "Catalog version published by the hub", [({}, board["catalog_version"])])
    lines += _family("yiwang_cases", "gauge", "Cases by state, county-wide", [({"state": s}, c) for s, c in county["cases"].items()])
    lines += _family("yiwang_cases_overdue", "gauge", "Open cases past a time limit (red card)", [({}, county["overdue_open"])])
    lines += _family("yiwang_cases_near_limit", "gauge", "Open cases close to a time limit (yellow card)", [({}, county["yellow_open"])])
    lines += _family("yiwang_cases_concluded", "gauge", "Cases decided or not accepted", [({}, county["concluded"])])
    lines += _family("yiwang_cases_on_time", "gauge", "Concluded cases concluded within their limit", [({}, county["on_time"])])
    lines += _family(
        "yiwang_fees_cash_outstanding_fen",
        "gauge",
        "Cash collected at a node and not yet remitted, in fen",
        [({"node": f["node_id"]}, f["cash_outstanding_fen"]) for f in board["fees"]],
    )
    lines += _family(
        "yiwang_complaints_open",
        "gauge",
        "Complaints not answered yet",
        [({"overdue": str(o).lower()}, sum(1 for c in board["complaints_open"] if c["overdue"] is o)) for o in (True, False)],
    )
    lines += _family("yiwang_poor_evaluations_open", "gauge", "Poor evaluations not followed up yet", [({}, len(board["poor_evaluations_open"]))])
    return "\n".join(lines) + "\n"
