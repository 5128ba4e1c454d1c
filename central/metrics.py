"""The hub's metrics for Prometheus (`GET /metrics`, prometheus-client's text format), no
personal data: node ids, states and counts only.

- Values are exact (prometheus-client writes every digit: 12345678 fen is 1.2345678e+07, not a
  rounded 1.23457e+07); what only grows is a counter named ``…_total``, the rest are gauges.
- Cheap to scrape: the dashboard's figures are computed at most once per ``CACHE_S`` however
  often, and by however many, it is scraped; process metrics (CPU, memory, open files) come from
  prometheus-client's own collector.
- What this process did since it started — HTTP requests by route and status with their
  durations, uplink batches ingested by outcome, downlink batches published, statuses answered
  (SYNC_COUNTS) — and whether it is connected to NATS. An extra `hub worker` counts its own
  ingest; the totals of the county are the database's (``yiwang_node_uplink_batches_applied``).
- Who may scrape is the web layer's: a bearer token (``YIWANG_METRICS_TOKEN``), or, without one,
  the hub's own machine only (central/web/pages.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sync_protocol import parse_time

CACHE_S = 30.0  # the dashboard's figures, computed at most this often for scrapes
# HubSync.counts key -> (metric, help, label values): each a counter since the process started
SYNC_COUNTS = {
    "ingest.applied": ("yiwang_ingest_batches", "Uplink batches this process ingested, by outcome", {"outcome": "applied"}),
    "ingest.duplicate": ("yiwang_ingest_batches", "", {"outcome": "duplicate"}),
    "ingest.held": ("yiwang_ingest_batches", "", {"outcome": "held"}),
    "ingest.rejected": ("yiwang_ingest_batches", "", {"outcome": "rejected"}),
    "ingest.records": ("yiwang_ingest_records", "Records in the uplink batches this process applied", {}),
    "downlink.published": ("yiwang_downlink_batches_published", "Downlink batches this process published", {}),
    "downlink.bytes": ("yiwang_downlink_bytes_published", "Bytes of downlink batches this process published", {}),
    "statuses": ("yiwang_statuses_received", "Node statuses (heartbeats) this process received", {}),
}


def _gauge(name: str, help_text: str, samples: list[tuple[dict[str, str], float]], labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=list(labels))
    for values, value in samples:
        family.add_metric([values[k] for k in labels], value)
    return family


def _counter(name: str, help_text: str, samples: list[tuple[dict[str, str], float]], labels: tuple[str, ...] = ()) -> CounterMetricFamily:
    family = CounterMetricFamily(name, help_text, labels=list(labels))  # exposed as name_total
    for values, value in samples:
        family.add_metric([values[k] for k in labels], value)
    return family


def families(board: dict[str, Any], now: datetime | None = None) -> list[Metric]:
    """The dashboard's figures as metric families."""
    now = now or datetime.now(UTC)
    nodes, county = board["nodes"], board["county"]
    node = ("node",)
    return [
        _gauge(
            "yiwang_node_up",
            "1 if the node is enrolled and not behind",
            [({"node": n["id"]}, float(n["status"] == "enrolled" and not n["behind"])) for n in nodes],
            node,
        ),
        _gauge(
            "yiwang_node_last_seen_age_seconds",
            "Seconds since the hub last heard from the node",
            [({"node": n["id"]}, (now - parse_time(n["last_seen_at"])).total_seconds()) for n in nodes if n["last_seen_at"]],
            node,
        ),
        _counter(
            "yiwang_node_uplink_batches_applied", "Uplink batches applied from the node", [({"node": n["id"]}, n["up_seq"]) for n in nodes], node
        ),
        _gauge(
            "yiwang_node_outbox_depth",
            "Events waiting at the node, from its last heartbeat",
            [({"node": n["id"]}, n["outbox_depth"]) for n in nodes if n["heartbeat_at"]],
            node,
        ),
        _gauge(
            "yiwang_node_clock_offset_seconds",
            "Node clock minus NATS server clock",
            [({"node": n["id"]}, n["clock_offset_s"]) for n in nodes if n["clock_offset_s"] is not None],
            node,
        ),
        _gauge(
            "yiwang_node_catalog_version",
            "Catalog version the node reports",
            [({"node": n["id"]}, n["catalog_version"]) for n in nodes if n["heartbeat_at"]],
            node,
        ),
        _gauge(
            "yiwang_node_quarantined_batches",
            "Batches from the node held in quarantine",
            [({"node": n["id"]}, n["quarantined"]) for n in nodes],
            node,
        ),
        _gauge("yiwang_node_held_batches", "Batches from the node waiting behind a gap", [({"node": n["id"]}, n["held"]) for n in nodes], node),
        _gauge("yiwang_catalog_version", "Catalog version published by the hub", [({}, board["catalog_version"])]),
        _gauge("yiwang_cases", "Cases by state, county-wide", [({"state": s}, c) for s, c in county["cases"].items()], ("state",)),
        _gauge("yiwang_cases_overdue", "Open cases past a time limit (red card)", [({}, county["overdue_open"])]),
        _gauge("yiwang_cases_near_limit", "Open cases close to a time limit (yellow card)", [({}, county["yellow_open"])]),
        _counter("yiwang_cases_concluded", "Cases decided or not accepted", [({}, county["concluded"])]),
        _counter("yiwang_cases_concluded_on_time", "Concluded cases concluded within their limit", [({}, county["on_time"])]),
        _gauge(
            "yiwang_fees_cash_outstanding_fen",
            "Cash collected at a node and not yet remitted, in fen",
            [({"node": f["node_id"]}, f["cash_outstanding_fen"]) for f in board["fees"]],
            node,
        ),
        _gauge(
            "yiwang_complaints_open",
            "Complaints not answered yet",
            [({"overdue": str(o).lower()}, sum(1 for c in board["complaints_open"] if c["overdue"] is o)) for o in (True, False)],
            ("overdue",),
        ),
        _gauge("yiwang_poor_evaluations_open", "Poor evaluations not followed up yet", [({}, len(board["poor_evaluations_open"]))]),
        _gauge(
            "yiwang_certificate_not_after_seconds",
            "When each of the hub's certificates ends (Unix time): renew before (docs/operations.md)",
            [({"file": c.file}, c.not_after.timestamp()) for c in board.get("certificates", [])],
            ("file",),
        ),
    ]


class _Once(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def render(board: dict[str, Any], now: datetime | None = None) -> str:
    """The dashboard's figures alone, as the text format (tests and one-off use)."""
    registry = CollectorRegistry()
    registry.register(_Once(families(board, now)))
    return generate_latest(registry).decode()


def sync_families(counts: Mapping[str, int], connected: bool) -> list[Metric]:
    """What the sync worker of this process counted, and whether it is connected to NATS."""
    out: dict[str, CounterMetricFamily] = {}
    for key, (name, help_text, labels) in SYNC_COUNTS.items():
        family = out.get(name) or out.setdefault(name, CounterMetricFamily(name, help_text, labels=list(labels)))
        family.add_metric(list(labels.values()), counts.get(key, 0))
    return [*out.values(), _gauge("yiwang_nats_connected", "1 while this hub process is connected to NATS", [({}, float(connected))])]


class Scrapes(Collector):
    """What a scrape collects: the dashboard's figures (computed at most once per ``CACHE_S``),
    this process's sync counts, its HTTP requests (``observe``) and its own process metrics. One
    per hub process."""

    def __init__(
        self,
        board: Callable[[], dict[str, Any]],
        cache_s: float = CACHE_S,
        sync_counts: Callable[[], Mapping[str, int]] = dict,
        connected: Callable[[], bool] = lambda: False,
    ) -> None:
        self.board, self.cache_s, self.sync_counts, self.connected = board, cache_s, sync_counts, connected
        self._lock = threading.Lock()
        self._at: float = -cache_s
        self._metrics: list[Metric] = []
        self.registry = CollectorRegistry()
        self.registry.register(self)
        ProcessCollector(registry=self.registry)
        self.requests = Counter("yiwang_http_requests", "HTTP requests answered, by route", ["method", "route", "status"], registry=self.registry)
        self.seconds = Histogram(
            "yiwang_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.computed = 0  # how many times the figures were computed (the tests count them)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request; ``route`` is its path template (bounded: never the raw path)."""
        self.requests.labels(method, route, str(status)).inc()
        self.seconds.labels(method, route).observe(seconds)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._at >= self.cache_s:
                self._metrics, self._at = families(self.board()), time.monotonic()
                self.computed += 1
            metrics = self._metrics
        yield from metrics
        yield from sync_families(self.sync_counts(), self.connected())

    def text(self) -> bytes:
        return generate_latest(self.registry)
