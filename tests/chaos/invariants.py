"""What a county operator must be able to rely on after any amount of faults, checked from the
databases themselves (every node's SQLite file, the hub's) and the hub's own audit command.

Each check returns (how many things it looked at, the violations it found).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sync_protocol import APPLICATION_NOT_ACCEPTED, DECISION_MADE, open_batch, verify_key_from_text

Check = tuple[int, list[str]]


def read(path: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _subject_node(message: str) -> str | None:
    """The point whose uplink subject an alert for unverified bytes names."""
    found = re.search(r"yiwang\.up\.([a-z0-9-]+)", message)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Injected:
    """A batch the harness put on the wire that the hub must quarantine (tamper, cross-node
    replay) or must recognise as already applied (same-stream replay)."""

    kind: str  # "tamper" | "replay_other_node" | "replay_same_node" | "hostile"
    node_id: str  # the stream it was published on
    raw: bytes


class Invariants:
    def __init__(self, hub_dir: Path, node_dirs: dict[str, Path]) -> None:
        self.hub_db = hub_dir / "hub.sqlite3"
        self.hub_dir = hub_dir
        self.node_dirs = node_dirs

    def node_db(self, node_id: str) -> Path:
        return self.node_dirs[node_id] / "node.sqlite3"

    def applications_exactly_once(self) -> Check:
        """Every application committed at a node is at the hub exactly once, from that node."""
        at_hub = Counter((r["id"], r["node_id"]) for r in read(self.hub_db, "SELECT id, node_id FROM application"))
        problems, committed = [], set()
        for node_id in self.node_dirs:
            for row in read(self.node_db(node_id), "SELECT id FROM applications"):
                committed.add((row["id"], node_id))
                if at_hub[row["id"], node_id] != 1:
                    problems.append(f"{node_id} application {row['id']} is at the hub {at_hub[row['id'], node_id]} times")
        problems += [f"the hub holds {app_id} from {node_id}, which that node does not have" for app_id, node_id in sorted(set(at_hub) - committed)]
        return len(committed), problems

    def answered_were_kept(self, answered: dict[str, str]) -> Check:
        """Every intake the workload saw answered 201 is in that node's database."""
        problems = []
        for node_id in self.node_dirs:
            kept = {r["id"] for r in read(self.node_db(node_id), "SELECT id FROM applications")}
            problems += [
                f"{node_id} answered 201 for {app_id} but does not have it" for app_id, n in answered.items() if n == node_id and app_id not in kept
            ]
        return len(answered), problems

    def decisions_exactly_once(self) -> Check:
        """Every decision (and not-accepted notice) made at the hub reached its node exactly once,
        and the node shows the hub's outcome: counted from the node's applied downlink batches."""
        decided = {
            r["id"]: (r["node_id"], r["outcome"]) for r in read(self.hub_db, "SELECT id, node_id, outcome FROM application WHERE outcome != ''")
        }
        problems = []
        for node_id, directory in self.node_dirs.items():
            hub_key = verify_key_from_text(json.loads((directory / "node.json").read_text())["hub_public_key"])
            received: Counter = Counter()
            for row in read(self.node_db(node_id), "SELECT wire FROM downlink_batches ORDER BY seq"):
                for record in open_batch(row["wire"], hub_key).records:
                    if record.kind in (DECISION_MADE, APPLICATION_NOT_ACCEPTED):
                        received[record.data["application_id"]] += 1
            at_node = {r["id"]: r["decision"] for r in read(self.node_db(node_id), "SELECT id, decision FROM applications")}
            for app_id, (owner, outcome) in decided.items():
                if owner != node_id:
                    continue
                if received[app_id] != 1:
                    problems.append(f"{node_id}: the decision on {app_id} arrived {received[app_id]} times")
                elif at_node.get(app_id) != outcome:
                    problems.append(f"{node_id}: {app_id} shows {at_node.get(app_id)!r}, the hub decided {outcome!r}")
            strays = set(received) - {a for a, (owner, _) in decided.items() if owner == node_id}
            problems += [f"{node_id}: a decision on {a} the hub never made" for a in sorted(strays)]
        return len(decided), problems

    def handovers_reached_the_hub(self) -> Check:
        """Every result handed over at a node (领取) is recorded as delivered at the hub."""
        delivered = {r["id"] for r in read(self.hub_db, "SELECT id FROM application WHERE delivered_at IS NOT NULL")}
        problems, looked = [], 0
        for node_id in self.node_dirs:
            for r in read(self.node_db(node_id), "SELECT id FROM applications WHERE status = 'picked_up'"):
                looked += 1
                if r["id"] not in delivered:
                    problems.append(f"{node_id}: {r['id']} was picked up but the hub does not know")
        return looked, problems

    def fees_to_the_fen(self) -> Check:
        """Per node: the same receipts, and the same total collected, at the node and the hub."""
        hub = {r["receipt_no"]: (r["node_id"], r["amount_fen"]) for r in read(self.hub_db, "SELECT receipt_no, node_id, amount_fen FROM feereceipt")}
        problems, looked = [], 0
        for node_id in self.node_dirs:
            mine = {r["receipt_no"]: r["amount_fen"] for r in read(self.node_db(node_id), "SELECT receipt_no, amount_fen FROM fee_receipts")}
            theirs = {no: fen for no, (n, fen) in hub.items() if n == node_id}
            looked += len(mine)
            if mine != theirs:
                problems.append(
                    f"{node_id}: receipts differ (node {len(mine)}, hub {len(theirs)}; only at node {sorted(set(mine) - set(theirs))[:3]}, only at hub {sorted(set(theirs) - set(mine))[:3]})"
                )
            if sum(mine.values()) != sum(theirs.values()):
                problems.append(f"{node_id}: collected {sum(mine.values())} fen at the node, {sum(theirs.values())} fen at the hub")
        return looked, problems

    def materials_arrived(self) -> Check:
        """Every material recorded at a node is recorded at the hub, and its file arrived whole."""
        hub = {(r["application_id"], r["sha256"], r["material"]) for r in read(self.hub_db, "SELECT application_id, sha256, material FROM material")}
        complete = {r["sha256"] for r in read(self.hub_db, "SELECT sha256 FROM blob WHERE complete_at IS NOT NULL")}
        problems, looked = [], 0
        for node_id in self.node_dirs:
            for r in read(self.node_db(node_id), "SELECT application_id, sha256, material FROM materials"):
                looked += 1
                if (r["application_id"], r["sha256"], r["material"]) not in hub:
                    problems.append(f"{node_id}: material {r['material']} of {r['application_id']} not recorded at the hub")
                elif r["sha256"] not in complete:
                    problems.append(f"{node_id}: the file of {r['material']} of {r['application_id']} never arrived whole")
        return looked, problems

    def audit_verifies(self) -> Check:
        """`yiwang hub audit verify`: every stored batch of every node re-verified from its raw bytes."""
        done = subprocess.run([sys.executable, "-m", "yiwang", "hub", "audit", "verify", "--dir", str(self.hub_dir)], capture_output=True, text=True)
        batches = sum(r[0] for r in read(self.hub_db, "SELECT COUNT(*) FROM uplinkbatch"))
        return batches, [] if done.returncode == 0 else [f"audit verify exited {done.returncode}: {(done.stdout + done.stderr).strip()[-500:]}"]

    def injected_handled(self, injected: list[Injected]) -> Check:
        """Every tampered or cross-node replayed batch is in quarantine on its stream, with an
        alert; a same-stream replay is recognised as applied (never quarantined: it is genuine).
        Nothing else is quarantined."""
        quarantined = [(r["node_id"], bytes(r["raw"])) for r in read(self.hub_db, "SELECT node_id, raw FROM quarantine")]
        # an alert for bytes that did not verify names no point, only the subject they came on
        alerted = Counter(
            r["node_id"] or _subject_node(r["message"])
            for r in read(self.hub_db, "SELECT node_id, message FROM alert WHERE kind LIKE 'quarantine.%'")
        )
        problems = []
        expected = [(i.node_id, i.raw) for i in injected if i.kind != "replay_same_node"]  # hostile ones included
        for i in injected:
            found = quarantined.count((i.node_id, i.raw))
            if i.kind == "replay_same_node" and found:
                problems.append(f"a genuine replay on {i.node_id} was quarantined")
            elif i.kind != "replay_same_node" and found != 1:
                problems.append(f"{i.kind} on {i.node_id} is in quarantine {found} times")
        for node_id, count in Counter(n for n, _ in expected).items():
            if alerted[node_id] < count:
                problems.append(f"{node_id}: {count} batches quarantined but {alerted[node_id]} alerts")
        unexpected = [q for q in quarantined if q not in expected]
        problems += [f"unexpected quarantine on {n}: {len(raw)} bytes" for n, raw in unexpected]
        return len(injected), problems

    def clock_skew_alerted(self, skewed: list[str]) -> Check:
        alerted = {r["node_id"] for r in read(self.hub_db, "SELECT node_id FROM alert WHERE kind = 'clock.skew'")}
        problems = [f"{n}: clock skewed but no clock.skew alert" for n in skewed if n not in alerted]
        return len(skewed), problems + [f"{n}: clock.skew alert but its clock is right" for n in sorted(alerted - set(skewed))]

    # hub tables that hold a point's data (not bookkeeping such as alerts, quarantine, keys)
    DATA_TABLES = ("application", "feereceipt", "dailyclose", "remittance", "complaint", "evaluation", "uplinkbatch")

    def nothing_from(self, hostile: list[str], sent: int) -> Check:
        """No record of a hostile point was applied anywhere (its batches reach only into others'
        data), and no case is delivered at the hub that its own point did not hand over."""
        problems = []
        for table in self.DATA_TABLES:
            for node_id in hostile:
                n = read(self.hub_db, f"SELECT COUNT(*) FROM {table} WHERE node_id = ?", (node_id,))[0][0]
                if n:
                    problems.append(f"{n} rows of {node_id} in {table}")
        picked = {}
        for node_id in self.node_dirs:
            picked.update({r["id"]: node_id for r in read(self.node_db(node_id), "SELECT id FROM applications WHERE status = 'picked_up'")})
        for r in read(self.hub_db, "SELECT id, node_id FROM application WHERE delivered_at IS NOT NULL"):
            if picked.get(r["id"]) != r["node_id"]:
                problems.append(f"{r['id']} is delivered at the hub but {r['node_id']} did not hand it over")
        problems += [
            f"{r['node_id']}: alert {r['kind']} for the hostile point's doing"
            for r in read(
                self.hub_db,
                "SELECT node_id, kind FROM alert WHERE kind IN ('quarantine.not_owner', 'quarantine.conflict', 'blob.mismatch') AND node_id NOT IN ({})".format(
                    ",".join("?" * len(hostile))
                ),
                tuple(hostile),
            )
        ]
        return sent, problems

    def catalog_everywhere(self) -> Check:
        """Every point holds the hub's latest catalog, however many versions it missed offline."""
        latest = read(self.hub_db, "SELECT MAX(version) FROM catalogversion")[0][0]
        problems = []
        for node_id in self.node_dirs:
            have = read(self.node_db(node_id), "SELECT value FROM meta WHERE key = 'catalog_version'")
            if not have or int(have[0][0]) != latest:
                problems.append(f"{node_id}: catalog version {have[0][0] if have else None}, the hub's is {latest}")
        return len(self.node_dirs), problems

    def upgrade_seen(self, old: str | None, upgraded: str | None) -> Check:
        """The point on older software held the batch it could not apply, the county was told,
        and after its upgrade it applied everything (the convergence) and no longer asks."""
        if old is None:
            return 0, []
        problems = [] if upgraded == old else [f"{old} was never upgraded"]
        if not read(self.hub_db, "SELECT 1 FROM alert WHERE kind = 'node.needs_upgrade' AND node_id = ?", (old,)):
            problems.append(f"{old}: no node.needs_upgrade alert")
        if read(self.hub_db, "SELECT 1 FROM node WHERE id = ? AND needs_upgrade != ''", (old,)):
            problems.append(f"{old}: the hub still shows it needs an upgrade")
        if read(self.node_db(old), "SELECT 1 FROM meta WHERE key = 'needs_upgrade' AND value != ''"):
            problems.append(f"{old}: still says it needs an upgrade")
        return 1, problems
