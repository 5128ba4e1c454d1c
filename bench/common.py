"""What the process benchmarks share: process resource readings from /proc, percentiles, reads of
the hub's and a node's databases. (Each benchmark starts its federation with the tests' own
``running_federation``.)"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from pathlib import Path

from provisioning.federation import LocalFederation

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MB (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, s (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 99), "max_ms": max(ms)}


def hub_count(fed: LocalFederation, sql: str, params: tuple = ()) -> int:
    conn = sqlite3.connect(f"file:{fed.root / 'hub' / 'hub.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def wait_for(check, timeout: float, interval: float = 0.01, what: str = "condition") -> float:
    """Poll ``check`` until true; return the monotonic time it first was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(interval)
    raise TimeoutError(f"benchmark: timed out after {timeout:.0f}s waiting for {what}")


def read_wires(node_dir: Path) -> list[bytes]:
    """The uplink batches a node sealed, as sent."""
    conn = sqlite3.connect(f"file:{node_dir / 'node.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT wire FROM uplink_batches ORDER BY seq")]
    finally:
        conn.close()
