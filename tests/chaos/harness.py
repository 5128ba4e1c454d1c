"""The chaos run: NATS, the hub and N nodes as real processes, a seeded workload through their
APIs, faults injected while it runs, then — once everything is healed and quiet — the invariants.

Faults (each kind at least once per run, then at random; a skewed clock for one node throughout):
- ``kill -9 hub`` while nodes are sending (mid-ingest), restarted a moment later;
- ``kill -9 node`` while three clients hammer its intake API, restarted;
- ``NATS stop/restart``;
- ``partition``: a node's link to NATS goes silent (a paused TCP proxy) for several seconds;
- ``link cut``: every connection through a node's proxy is reset at once;
- ``replay``: a node's old batch published again on its own stream (must be ignored) and on
  another node's stream (must be quarantined), each with a fresh message id so that JetStream's
  de-duplication does not hide it from the hub;
- ``tamper``: a node's batch with one byte of its body changed after signing (quarantined);
- ``hostile point``: an enrolled point with a valid key (``evil``, no process: the harness acts
  as it) signs batches that reach into other points' data (their cases, receipts, complaint ids),
  and sends every request it may with the reply subject set to another point's subjects;
- ``oversized input``: a 1 MB complaint and a 1 MB ``materials_checked`` entry at a node's API;
- ``device replacement``: a point's laptop is replaced mid-run, after fees (the workload leaves
  it alone while its backlog drains, then its directory is deleted and a new device enrolled with
  a replacement code restores it);
- ``key rotation``: a point rotates its keys while the workload goes on;
- ``catalog storm offline``: five catalog versions are published while a point is partitioned;
- ``upgrade old node``: one point runs older software that does not know ``material.received``
  (tests/chaos/oldnode.py) until it has held such a batch, then is upgraded;
- ``clock skew``: one node runs 15 minutes fast under libfaketime (the hub must alert);
- ``slow links``: every third node sits behind a 2G-class link throughout (64, 128 or 256 kbit/s,
  100–300 ms one way, seeded), through the same shaping proxy the weak-link tests use.
Replays, tampering and the hostile point's batches are published with a point's own NATS
identity, as a compromised or broken point could; nothing else on the wire is faked.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats

from provisioning.enrol import enroll
from provisioning.federation import FederationError, LocalFederation, NodeSpec, free_port
from sync_protocol import uplink_subject
from tests.support.builders import checked, resident_id
from tests.support.federation import village
from tests.support.polling import run_async

from ..images import photo
from ..support.faketime import FAKETIME_LIB, faked
from ..support.shaping import ShapingProxy
from . import hostile
from .invariants import Injected, Invariants, read
from .workload import Client, Ledger, Worker

SKEW = "+900s"  # the skewed node's clock: 15 minutes fast, three times the hub's alert threshold
FAULTS = [
    "kill -9 hub",
    "kill -9 node",
    "NATS stop/restart",
    "partition",
    "link cut",
    "replay",
    "tamper",
    "hostile point",
    "oversized input",
    "device replacement",
    "key rotation",
    "catalog storm offline",
    "upgrade old node",
]
ONCE = {"upgrade old node"}  # every other kind may come again at random
STORM = 5  # catalog versions published while one point is offline


@dataclass
class Report:
    seed: int
    nodes: int
    seconds: float
    ops: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    checks: list[tuple[str, int, list[str]]] = field(default_factory=list)
    converged_in: float = 0.0
    injected: list[Injected] = field(default_factory=list)

    @property
    def violations(self) -> list[str]:
        return [f"{name}: {v}" for name, _, found in self.checks for v in found]

    def table(self) -> str:
        lines = [
            f"chaos run: seed {self.seed}, {self.nodes} nodes, {self.seconds:.0f} s of workload and faults, converged {self.converged_in:.1f} s after healing",
            "",
        ]
        lines.append(f"{'operation':<14}{'outcome':<22}{'count':>8}")
        for (op, outcome), n in sorted(self.ops.items()):
            lines.append(f"{op:<14}{outcome:<22}{n:>8}")
        lines += ["", f"{'fault injected':<36}{'count':>8}"]
        for kind, n in sorted(self.faults.items()):
            lines.append(f"{kind:<36}{n:>8}")
        lines += ["", f"{'invariant':<36}{'checked':>9}{'violations':>12}"]
        for name, looked, found in self.checks:
            lines.append(f"{name:<36}{looked:>9}{len(found):>12}")
        lines += ["", f"violations: {len(self.violations)}"] + [f"  {v}" for v in self.violations[:30]]
        return "\n".join(lines)


class ChaosRun:
    def __init__(self, root: Path, nodes: int = 10, seed: int = 1, seconds: float = 60.0, workers: int = 3) -> None:
        if not FAKETIME_LIB.exists():
            raise FederationError(f"{FAKETIME_LIB} is missing: install Debian's faketime (scripts/ensure-chromium does)")
        self.root = root
        self.seed = seed
        self.seconds = seconds
        self.workers = workers
        self.rng = random.Random(seed)
        self.fed = LocalFederation(root=root, nats_port=free_port(), hub_port=free_port())
        self.proxies: dict[str, ShapingProxy] = {}
        self.slow: dict[str, tuple[int, int]] = {}  # node -> (kbit/s, one-way ms)
        self.specs: dict[str, NodeSpec] = {}
        self.skewed = [f"cun{nodes:02d}"]
        for n in range(1, nodes + 1):
            spec = village(f"cun{n:02d}", kind="township")  # the workload takes township items (身份证, with fees)
            self.specs[spec.node_id] = spec
            if n % 3 == 1:
                self.slow[spec.node_id] = (self.rng.choice([64, 128, 256]), self.rng.choice([100, 200, 300]))
        self.old: str | None = next((n for n in sorted(self.specs) if n not in self.slow and n not in self.skewed), None)
        if self.old is not None:
            self.specs[self.old].program = "tests.chaos.oldnode"
        self.evil = village("evil")  # enrolled, never started: the harness signs and sends as it
        self.hostile = hostile.Hostile(self.fed, "evil")
        self.oversized: list[tuple[str, str]] = []  # (node, outcome) of each oversized request
        self.replaced: list[str] = []
        self.rotated: list[str] = []
        self.ledger = Ledger()
        self.report = Report(seed, nodes, seconds)
        self.injected = self.report.injected
        self.unexpected_exits: list[str] = []
        self.upgraded: str | None = None

    # -- setting up --------------------------------------------------------------------------
    def start(self) -> None:
        self.fed.start_nats()
        self.fed.start_hub()
        for spec in self.specs.values():
            kbit, delay = self.slow.get(spec.node_id, (None, 0))
            proxy = self.proxies[spec.node_id] = ShapingProxy(self.fed.nats_port, kbit_per_s=kbit, one_way_ms=delay).start()
            spec.nats_url = proxy.url
            if spec.node_id in self.skewed:
                spec.env = faked(SKEW)
            self.fed.enrol_node(spec)
        self.fed.enrol_node(self.evil)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self.fed.start_node, self.specs.values()))
        self.report.faults[f"clock skew ({SKEW})"] += len(self.skewed)
        for kbit, delay in self.slow.values():
            self.report.faults[f"slow link ({kbit} kbit/s, {delay} ms)"] += 1

    def stop(self) -> None:
        self.fed.stop_all()
        for proxy in self.proxies.values():
            proxy.stop()

    # -- running -----------------------------------------------------------------------------
    def run(self) -> Report:
        stop = threading.Event()
        urls = {n: f"http://127.0.0.1:{s.port}" for n, s in self.specs.items()}
        shares = {node_id: kbit / 1000 for node_id, (kbit, _) in self.slow.items()}  # a 64 kbit/s point takes 6 % of an unshaped one's work
        workers = [Worker(i, self.seed, urls, self.fed.hub_url, self.fed.password, self.ledger, stop, shares) for i in range(self.workers)]
        threads = [threading.Thread(target=w.run, name=f"worker-{i}") for i, w in enumerate(workers)]
        for t in threads:
            t.start()
        started = time.monotonic()
        try:
            plan = FAULTS[:] if self.old else [f for f in FAULTS if f not in ONCE]  # every kind once, in a seeded order, then at random
            self.rng.shuffle(plan)
            while plan or time.monotonic() - started < self.seconds:  # a short run still gets every kind
                time.sleep(self.rng.uniform(1.0, 4.0))
                self._check_processes()
                kind = plan.pop() if plan else self.rng.choice([f for f in FAULTS if f not in ONCE])
                if not self.inject(kind):
                    plan.insert(0, kind)  # nothing to replay yet: try again later
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.report.seconds = time.monotonic() - started
        self.report.ops = self.ledger.ops
        self.heal()
        self.report.converged_in = self.converge()
        self.check()
        return self.report

    def inject(self, kind: str) -> bool:
        """Inject one fault of ``kind``; False if there was nothing to inject it on yet."""
        node_id = self.rng.choice(sorted(self.specs))
        if kind == "kill -9 hub":
            self.fed.stop("hub", sig=signal.SIGKILL)
            time.sleep(self.rng.uniform(0.5, 2.0))
            self.fed.start_hub()
        elif kind == "kill -9 node":
            self._kill_node_mid_intake(node_id)
        elif kind == "NATS stop/restart":
            self.fed.stop("nats")
            time.sleep(self.rng.uniform(1.0, 3.0))
            self.fed.start_nats()
        elif kind == "partition":
            self.proxies[node_id].pause()
            time.sleep(self.rng.uniform(3.0, 8.0))
            self.proxies[node_id].resume()
        elif kind == "link cut":
            self.proxies[node_id].cut()
        elif kind == "replay":
            other = self.rng.choice(sorted(set(self.specs) - {node_id}))
            wire = self._old_batch(node_id)
            if wire is None:
                return False
            self._publish(node_id, node_id, wire, "replay_same_node")
            self._publish(other, other, wire, "replay_other_node")
        elif kind == "tamper":
            wire = self._old_batch(node_id, latest=True)
            if wire is None:
                return False
            at = self.rng.randrange(len(wire) // 2, len(wire) - 80)  # inside the signed body, not the signature
            tampered = wire[:at] + bytes([wire[at] ^ 0x01]) + wire[at + 1 :]
            self._publish(node_id, node_id, tampered, "tamper")
        elif kind == "hostile point":
            victim = self.rng.choice(sorted(set(self.specs) - self.ledger.paused))
            for raw in self.hostile.batches(self.fed.node_dir(victim) / "node.sqlite3", victim, self.rng):
                self._publish("evil", "evil", raw, "hostile")
            self.injected.extend(Injected("hostile", "evil", raw) for raw in self.hostile.inject_replies(victim))
        elif kind == "oversized input":
            self._oversized(node_id)
        elif kind == "device replacement":
            return self._replace_device()
        elif kind == "key rotation":
            if node_id in self.ledger.paused:
                return False
            response = Client(f"http://127.0.0.1:{self.specs[node_id].port}", "agent", self.fed.password).request("POST", "/api/node/rotate-key")
            if response is None or response.status_code != 202:
                return False  # the node is restarting under another fault: later
            self.rotated.append(node_id)
        elif kind == "catalog storm offline":
            self._catalog_storm(node_id)
        elif kind == "upgrade old node":
            return self._upgrade_old_node()
        self.report.faults[kind] += 1
        return True

    def _oversized(self, node_id: str) -> None:
        """What a pasted novel or a broken script sends: refused at the door with a 4xx, and the
        point's sync goes on (the convergence shows it)."""
        agent = Client(f"http://127.0.0.1:{self.specs[node_id].port}", "agent", self.fed.password)
        big = "长" * 350_000  # over 1 MB of UTF-8
        n = self.ledger.next_person()
        for path, body in (
            ("/api/complaints", {"text": big}),
            (
                "/api/applications",
                {"item_code": "MZ-003", "applicant_name": f"申请人{n}", "applicant_id_number": resident_id(n), "materials_checked": [big]},
            ),
        ):
            response = agent.request("POST", path, json=body)
            self.oversized.append((node_id, "unavailable" if response is None else str(response.status_code)))
        agent.close()

    def _catalog_storm(self, node_id: str) -> None:
        operator = Client(self.fed.hub_url, "operator", self.fed.password)
        catalog = operator.request("GET", "/api/catalog")
        if catalog is None or catalog.status_code != 200:
            return
        item = next(i for i in catalog.json()["items"] if i["code"] == "MZ-003")
        self.proxies[node_id].pause()
        try:
            for n in range(STORM):
                operator.request("PUT", "/api/catalog/items/MZ-003", json=item | {"note": f"chaos storm {n + 1}"})
            time.sleep(self.rng.uniform(2.0, 5.0))
        finally:
            self.proxies[node_id].resume()
            operator.close()

    def _replace_device(self) -> bool:
        """Replace the laptop of a point on a fast link: the workload leaves it alone until what it
        took is at the hub (a laptop that dies with unsent work loses that work: no software can
        help), then its disk is gone and a new device restores from the hub and goes on."""
        eligible = sorted(n for n in self.specs if n not in self.slow and n not in self.skewed and n != self.old and n not in self.ledger.paused)
        if not eligible:
            return False
        node_id = self.rng.choice(eligible)
        spec, directory = self.specs[node_id], self.fed.node_dir(node_id)
        self.ledger.paused.add(node_id)
        try:
            time.sleep(2)  # requests already under way finish
            deadline = time.monotonic() + 60
            while not self._drained(node_id):
                if time.monotonic() > deadline:
                    return False  # still sending (a fault on its link): another time
                time.sleep(1)
            self.fed.stop(node_id, sig=signal.SIGKILL)
            shutil.rmtree(directory)
            operator = Client(self.fed.hub_url, "operator", self.fed.password)
            slip = operator.request("POST", f"/api/nodes/{node_id}/replacement-code")
            operator.close()
            if slip is None or slip.status_code not in (200, 201):
                raise FederationError(f"no replacement code for {node_id}: {slip and slip.text}")
            enroll(slip.json()["code"], self.fed.hub_url, directory, slip.json()["ca_fingerprint"])
            for username, display, role in spec.users:
                self.fed.add_node_user(directory, username, display, role)
            self.fed.start_node(spec)
            self.replaced.append(node_id)
        finally:
            self.ledger.paused.discard(node_id)
        self.report.faults["device replacement"] += 1
        return True

    def _drained(self, node_id: str) -> bool:
        db = self.fed.node_dir(node_id) / "node.sqlite3"
        try:
            waiting = httpx.get(f"http://127.0.0.1:{self.specs[node_id].port}/api/status", timeout=5).json()["waiting_events"]
            uploads = read(db, "SELECT COUNT(*) FROM blob_uploads WHERE completed_at IS NULL")[0][0]
        except (httpx.HTTPError, KeyError):
            return False
        return waiting == 0 and uploads == 0

    def _upgrade_old_node(self) -> bool:
        """Once the old node has held a batch it is too old for (the county sees it), restart it
        as today's software. Until then, give it a file whose receipt it will not know."""
        if self.old is None or self.old in self.ledger.paused:
            return False
        hub = self.fed.root / "hub" / "hub.sqlite3"
        if not read(hub, "SELECT needs_upgrade FROM node WHERE id = ? AND needs_upgrade != ''", (self.old,)):
            self._attach_a_file(self.old)
            return False
        self.fed.stop(self.old)
        self.specs[self.old].program = "yiwang"
        self.fed.start_node(self.specs[self.old])
        self.upgraded = self.old
        self.report.faults["upgrade old node"] += 1
        return True

    def _attach_a_file(self, node_id: str) -> None:
        apps = read(self.fed.node_dir(node_id) / "node.sqlite3", "SELECT id, item_code FROM applications ORDER BY created_at DESC LIMIT 1")
        if not apps:
            return
        agent = Client(f"http://127.0.0.1:{self.specs[node_id].port}", "agent", self.fed.password)
        scan = photo(self.rng.randbytes(3000))
        agent.request(
            "POST",
            f"/api/applications/{apps[0]['id']}/materials",
            data={"material": checked(apps[0]["item_code"])[0]},
            files={"file": ("scan.jpg", scan, "image/jpeg")},
        )
        agent.close()

    def _kill_node_mid_intake(self, node_id: str) -> None:
        stop = threading.Event()
        answered = Counter()
        worker = Worker(
            99,
            self.seed + self.report.faults["kill -9 node"],
            {node_id: f"http://127.0.0.1:{self.specs[node_id].port}"},
            self.fed.hub_url,
            self.fed.password,
            self.ledger,
            stop,
        )

        def hammer() -> None:
            while not stop.is_set():
                outcome = worker.intake(node_id)
                answered[outcome] += 1
                self.ledger.count("intake", outcome)
                if outcome == "unavailable":
                    return

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while answered["committed"] < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.fed.stop(node_id, sig=signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join()
        self.fed.start_node(self.specs[node_id])

    def _old_batch(self, node_id: str, latest: bool = False) -> bytes | None:
        rows = read(self.fed.node_dir(node_id) / "node.sqlite3", "SELECT wire FROM uplink_batches WHERE published_at IS NOT NULL ORDER BY seq")
        if not rows:
            return None
        return bytes(rows[-1]["wire"] if latest else self.rng.choice(rows)["wire"])

    def _publish(self, as_node: str, stream: str, raw: bytes, kind: str) -> None:
        """Publish ``raw`` on ``stream``'s uplink subject with ``as_node``'s own NATS identity."""

        async def go() -> None:
            nc = await nats.connect(self.fed.nats_url, connect_timeout=5, max_reconnect_attempts=3, **self.fed.nats_options(as_node))
            try:
                await nc.jetstream().publish(
                    uplink_subject(stream), raw, headers={"Nats-Msg-Id": f"chaos-{len(self.injected)}-{self.seed}"}, timeout=10
                )
            finally:
                await nc.close()

        for _ in range(10):  # NATS may be restarting under another fault
            try:
                run_async(go())
            except (nats.errors.Error, OSError, TimeoutError):
                time.sleep(1)
                continue
            self.injected.append(Injected(kind, stream, raw))
            return
        raise FederationError(f"could not publish the {kind} batch on {stream}: NATS unreachable for 10 tries")

    def _check_processes(self) -> None:
        """A process that died by itself (not by a fault) is a violation; restart it to go on."""
        for name, code in self.fed.exited():
            self.unexpected_exits.append(f"{name} exited by itself with code {code}; see {self.fed.log_path(name)}")
            if name == "nats":
                self.fed.start_nats()
            elif name == "hub":
                self.fed.start_hub()
            else:
                self.fed.start_node(self.specs[name])

    # -- healing and checking ------------------------------------------------------------------
    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.resume()
        self._check_processes()

    def converge(self, timeout: float = 180.0, cap: float = 1800.0) -> float:
        """Wait until nothing is in flight: every node's outbox and uploads empty, every
        application at the hub, every downlink batch applied at its node. A backlog behind a slow
        link takes as long as its bytes need: waiting goes on while the backlog shrinks, and
        fails once nothing has moved for ``timeout`` seconds (or after ``cap`` in all)."""
        started = last_progress = time.monotonic()
        best = None
        while time.monotonic() - last_progress < timeout and time.monotonic() - started < cap:
            if self._quiet():
                return time.monotonic() - started
            left = self._left()
            if best is None or left < best:
                best, last_progress = left, time.monotonic()
            time.sleep(1.0)
        self.unexpected_exits.append(f"the federation did not converge (nothing moved for {timeout:.0f}s, or {cap:.0f}s in all): {self._lag()}")
        return time.monotonic() - started

    def _left(self) -> int:
        """What is still on its way, in events and file bytes, over every node (for progress)."""
        left = 0
        for node_id in self.specs:
            db = self.fed.node_dir(node_id) / "node.sqlite3"
            try:
                left += read(
                    db,
                    "SELECT COUNT(*) FROM outbox WHERE batch_seq IS NULL OR batch_seq IN (SELECT seq FROM uplink_batches WHERE published_at IS NULL)",
                )[0][0]
                left += read(db, "SELECT COALESCE(SUM(size - sent_bytes), 0) FROM blob_uploads WHERE completed_at IS NULL")[0][0]
            except Exception:
                return 1 << 62
        return left

    def _lag(self) -> str:
        lag = []
        hub = self.fed.root / "hub" / "hub.sqlite3"
        down = dict((r[0], r[1]) for r in read(hub, "SELECT node_id, MAX(seq) FROM downlinkbatch GROUP BY node_id"))
        unsealed = dict((r[0], r[1]) for r in read(hub, "SELECT node_id, COUNT(*) FROM downlinkevent WHERE batch_seq IS NULL GROUP BY node_id"))
        unpublished = dict((r[0], r[1]) for r in read(hub, "SELECT node_id, COUNT(*) FROM downlinkbatch WHERE published_at IS NULL GROUP BY node_id"))
        at_hub = dict((r[0], r[1]) for r in read(hub, "SELECT node_id, COUNT(*) FROM application GROUP BY node_id"))
        for node_id in self.specs:
            db = self.fed.node_dir(node_id) / "node.sqlite3"
            try:
                status = httpx.get(f"http://127.0.0.1:{self.specs[node_id].port}/api/status", timeout=5).json()
            except httpx.HTTPError:
                lag.append(f"{node_id} not answering")
                continue
            meta = dict((r["key"], r["value"]) for r in read(db, "SELECT key, value FROM meta WHERE key = 'down_seq'"))
            apps = read(db, "SELECT COUNT(*) FROM applications")[0][0]
            uploads = read(db, "SELECT COUNT(*) FROM blob_uploads WHERE completed_at IS NULL")[0][0]
            parts = []
            if status["waiting_events"]:
                parts.append(f"{status['waiting_events']} events waiting")
            if uploads:
                parts.append(f"{uploads} uploads unfinished")
            if apps != at_hub.get(node_id, 0):
                parts.append(f"{apps} applications, {at_hub.get(node_id, 0)} at the hub")
            if int(meta.get("down_seq", 0)) != (down.get(node_id) or 0) or unsealed.get(node_id) or unpublished.get(node_id):
                parts.append(
                    f"downlink applied to {meta.get('down_seq', 0)} of {down.get(node_id) or 0} (+{unsealed.get(node_id, 0)} unsealed, {unpublished.get(node_id, 0)} unpublished)"
                )
            if parts:
                lag.append(f"{node_id}: {', '.join(parts)}")
        return "; ".join(lag)

    def _quiet(self) -> bool:
        try:
            return self._lag() == ""
        except Exception:
            return False

    def check(self) -> None:
        inv = Invariants(self.fed.root / "hub", {n: self.fed.node_dir(n) for n in self.specs})
        checks = [
            ("application at hub exactly once", inv.applications_exactly_once),
            ("no point's data changed by another", lambda: inv.nothing_from(["evil"], self.hostile.sent)),
            ("no answer on another's subject", lambda: (self.hostile.requests, self.hostile.leaks)),
            (
                "oversized input refused (4xx)",
                lambda: (len(self.oversized), [f"{n}: answered {o}" for n, o in self.oversized if not o.startswith("4") and o != "unavailable"]),
            ),
            ("catalog at every node the hub's", inv.catalog_everywhere),
            ("old node held, alerted, upgraded", lambda: inv.upgrade_seen(self.old, self.upgraded)),
            ("every 201 kept by its node", lambda: inv.answered_were_kept(self.ledger.answered)),
            ("decision at its node exactly once", inv.decisions_exactly_once),
            ("pickup at the hub", inv.handovers_reached_the_hub),
            ("fee totals agree to the fen", inv.fees_to_the_fen),
            ("materials arrived whole", inv.materials_arrived),
            ("hub audit verify passes", inv.audit_verifies),
            ("tamper/replay quarantined+alerted", lambda: inv.injected_handled(self.injected)),
            ("clock skew alerted", lambda: inv.clock_skew_alerted(self.skewed)),
            (
                "no 5xx answered",
                lambda: (sum(self.ledger.ops.values()), [f"{op}: {o} x{n}" for (op, o), n in self.ledger.ops.items() if o.startswith("refused 5")]),
            ),
            ("processes up, federation converged", lambda: (len(self.specs) + 2, self.unexpected_exits)),
        ]
        for name, run in checks:
            looked, found = run()
            self.report.checks.append((name, looked, found))


def chaos_run(root: Path, nodes: int, seed: int, seconds: float) -> Report:
    run = ChaosRun(root, nodes=nodes, seed=seed, seconds=seconds)
    try:
        run.start()
        return run.run()
    finally:
        run.stop()


def default_nodes() -> int:
    return int(os.environ.get("YIWANG_CHAOS_NODES", "10"))
