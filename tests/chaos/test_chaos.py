"""The short seeded chaos run of the normal suite: 10 village nodes (or $YIWANG_CHAOS_NODES),
45 s of workload with every kind of fault at least once; zero violations. `just soak` runs
the same harness for 30 minutes."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from .harness import FAULTS, chaos_run, default_nodes
from .invariants import Invariants

pytestmark = pytest.mark.e2e


def test_chaos_run_loses_nothing_and_applies_nothing_twice(tmp_path: Path):
    seed = int(os.environ.get("YIWANG_CHAOS_SEED", "20261123"))
    report = chaos_run(tmp_path / "fed", nodes=default_nodes(), seed=seed, seconds=float(os.environ.get("YIWANG_CHAOS_SECONDS", "45")))
    print(report.table())
    assert all(report.faults[kind] >= 1 for kind in FAULTS), report.faults  # every kind was really injected
    assert report.ops["intake", "committed"] >= 50 and report.ops["hub_work", "committed"] >= 10, report.ops
    assert all(looked > 0 for name, looked, _ in report.checks), report.table()  # no check passed by looking at nothing
    assert report.violations == [], report.table()

    # the checks are not vacuous: the same databases with one application lost, one fen moved and
    # one quarantined forgery forgotten at the hub are reported as exactly those violations
    damaged = tmp_path / "damaged-hub"
    shutil.copytree(tmp_path / "fed" / "hub", damaged)
    db = sqlite3.connect(damaged / "hub.sqlite3")
    db.execute("DELETE FROM application WHERE id = (SELECT MIN(id) FROM application)")
    db.execute("UPDATE feereceipt SET amount_fen = amount_fen + 1 WHERE receipt_no = (SELECT MIN(receipt_no) FROM feereceipt)")
    db.execute("DELETE FROM quarantine WHERE id = (SELECT MIN(id) FROM quarantine)")
    db.commit()
    db.close()
    inv = Invariants(damaged, {d.name: d for d in (tmp_path / "fed" / "nodes").iterdir()})
    assert len(inv.applications_exactly_once()[1]) == 1
    assert len(inv.fees_to_the_fen()[1]) == 2  # the receipt differs, and so does the total
    assert len(inv.injected_handled(report.injected)[1]) >= 1
