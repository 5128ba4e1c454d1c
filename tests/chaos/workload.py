"""The seeded workload: what agents and clerks do, through the same HTTP APIs they use.

Each worker thread draws its operations from its own ``random.Random(seed + n)``, so a seed
replays the same sequence of choices (the interleaving of threads and faults still varies with
timing). A request that finds its service down is counted as ``unavailable`` and changes nothing
the invariants rely on; what counts is what the node committed, read from its database at the end.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.builders import birth_form, checked, collected, resident_id

from ..images import photo

# (item, weight): ordinary items, a fee item, a dearer fee item, a parallel-approval item
ITEMS = [("RS-001", 3), ("MZ-003", 3), ("GA-001", 2), ("GA-002", 1), ("GA-007", 1)]  # GA-007: 公安 and 医保 in parallel
LEAD = {"RS-001": "rsj", "MZ-003": "mzj", "GA-001": "gaj", "GA-002": "gaj", "GA-007": "gaj"}
FEE = {"GA-001": 2000, "GA-002": 4000}
# (operation, weight) for a worker's next step
OPERATIONS = [("intake", 6), ("material", 2), ("hub_work", 4), ("supplement", 1), ("pickup", 2)]
SUPPLEMENT_ASKED = ["补充证明材料"]


class Client:
    """A logged-in client that survives its service restarting: a refused connection is
    ``None``, a 401 (sessions of a killed process) logs in again once."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url, self.username, self.password = base_url, username, password
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.token = ""

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        for _ in range(2):
            try:
                if not self.token:
                    login = self.http.post("/api/login", json={"username": self.username, "password": self.password})
                    if login.status_code != 200:
                        return None
                    self.token = login.json()["token"]
                response = self.http.request(method, path, headers={"Authorization": f"Bearer {self.token}"}, **kw)
            except httpx.HTTPError:
                self.token = ""
                return None
            if response.status_code != 401:
                return response
            self.token = ""
        return None

    def close(self) -> None:
        self.http.close()


@dataclass
class Ledger:
    """What the workload was told: shared by the worker threads (append-only under a lock)."""

    ops: Counter = field(default_factory=Counter)  # (operation, outcome) -> count
    answered: dict[str, str] = field(default_factory=dict)  # application id -> node id, for every 201
    items: dict[str, str] = field(default_factory=dict)  # application id -> item code
    people: dict[str, int] = field(default_factory=dict)  # application id -> the applicant's number (resident_id(n))
    asked: set[str] = field(default_factory=set)  # a supplement was asked for
    concluded: set[str] = field(default_factory=set)  # a clerk's action may have concluded it (ready for pickup once it reaches the node)
    lock: threading.Lock = field(default_factory=threading.Lock)
    serial: int = 0
    paused: set[str] = field(default_factory=set)  # points the workload leaves alone for now (a device being replaced)

    def count(self, operation: str, outcome: str) -> None:
        with self.lock:
            self.ops[operation, outcome] += 1

    def next_person(self) -> int:
        with self.lock:
            self.serial += 1
            return self.serial

    def pick(self, rng: random.Random, among: set[str] | None = None) -> tuple[str, str] | None:
        with self.lock:
            ids = list(self.answered) if among is None else sorted(among)
            if not ids:
                return None
            app_id = rng.choice(ids[-200:])  # recent cases: they are the ones still moving
            return None if self.answered[app_id] in self.paused else (app_id, self.answered[app_id])


class Worker:
    """One thread of agents and clerks acting at random on the federation."""

    def __init__(
        self,
        n: int,
        seed: int,
        nodes: dict[str, str],
        hub_url: str,
        password: str,
        ledger: Ledger,
        stop: threading.Event,
        shares: dict[str, float] | None = None,
    ) -> None:
        self.rng = random.Random(seed * 1000 + n)
        self.nodes = nodes  # node id -> base URL
        # how busy each point is: a point behind a 64 kbit/s link is a village, not a township
        # with a queue (its share of the intake follows its link, so its backlog can drain)
        self.shares = shares or {}
        self.agents = {node_id: Client(url, "agent", password) for node_id, url in nodes.items()}
        self.clerks = {dept: Client(hub_url, f"clerk-{dept}", password) for dept in ("rsj", "mzj", "gaj", "ybj")}
        self.operator = Client(hub_url, "operator", password)
        self.ledger = ledger
        self.stop = stop

    def run(self) -> None:
        names, weights = zip(*OPERATIONS, strict=False)
        try:
            while not self.stop.is_set():
                operation = self.rng.choices(names, weights)[0]
                outcome = getattr(self, operation)()
                self.ledger.count(operation, outcome)
                self.stop.wait(self.rng.uniform(0.02, 0.15))
        finally:
            for client in [*self.agents.values(), *self.clerks.values(), self.operator]:
                client.close()

    def intake(self, node_id: str | None = None) -> str:
        if node_id is None:
            names = sorted(set(self.nodes) - self.ledger.paused)
            if not names:
                return "nothing to do"
            node_id = self.rng.choices(names, [self.shares.get(n, 1.0) for n in names])[0]
        items, weights = zip(*ITEMS, strict=False)
        item = self.rng.choices(items, weights)[0]
        n = self.ledger.next_person()
        body: dict[str, Any] = {
            "item_code": item,
            "applicant_name": f"申请人{n}",
            "applicant_id_number": resident_id(n),
            "materials_checked": checked(item),
        }
        if item in FEE:
            body["payment_method"] = "cash"
        if item == "GA-007":
            body["form"] = birth_form(n)
        response = self.agents[node_id].request("POST", "/api/applications", json=body)
        if response is None:
            return "unavailable"
        if response.status_code != 201:
            return f"refused {response.status_code}"
        app_id = response.json()["id"]
        with self.ledger.lock:
            self.ledger.answered[app_id], self.ledger.items[app_id], self.ledger.people[app_id] = node_id, item, n
        return "committed"

    def material(self) -> str:
        picked = self.ledger.pick(self.rng)
        if picked is None:
            return "nothing to do"
        app_id, node_id = picked
        item = self.ledger.items[app_id]
        scan = photo(self.rng.randbytes(self.rng.randint(2_000, 40_000)))  # a real photo (the node decodes it), drawing from rng as before
        response = self.agents[node_id].request(
            "POST", f"/api/applications/{app_id}/materials", data={"material": checked(item)[0]}, files={"file": ("scan.jpg", scan, "image/jpeg")}
        )
        return _outcome(response, 201)

    def hub_work(self) -> str:
        """A clerk moves a case on: pre-review (accept, ask for a supplement, or not accept), or
        a department decides its task."""
        picked = self.ledger.pick(self.rng)
        if picked is None:
            return "nothing to do"
        app_id, _ = picked
        lead = self.clerks[LEAD[self.ledger.items[app_id]]]
        view = lead.request("GET", f"/api/applications/{app_id}")
        if view is None or view.status_code != 200:
            return "unavailable" if view is None else "not at hub yet"
        case = view.json()
        if case["status"] == "received":
            roll = self.rng.random()
            if roll < 0.15:
                return self._note(
                    app_id,
                    self.ledger.asked,
                    lead.request("POST", f"/api/applications/{app_id}/supplement-request", json={"missing": SUPPLEMENT_ASKED}),
                )
            if roll < 0.22:
                return self._note(
                    app_id,
                    self.ledger.concluded,
                    lead.request("POST", f"/api/applications/{app_id}/non-acceptance", json={"reason": "不属于本部门受理范围"}),
                )
            return _outcome(lead.request("POST", f"/api/applications/{app_id}/acceptance"), 200)
        if case["status"] == "accepted":
            pending = [t["department"] for t in case["tasks"] if t["status"] == "pending" and t["stage"] == case["stage"]]
            if not pending:
                return "nothing to do"
            decision = "approve" if self.rng.random() < 0.85 else "deny"
            body = {"decision": decision, "reason": "" if decision == "approve" else "条件不符"}
            return self._note(
                app_id,
                self.ledger.concluded,
                self.clerks[self.rng.choice(pending)].request("POST", f"/api/applications/{app_id}/decision", json=body),
            )
        return "nothing to do"

    def _note(self, app_id: str, into: set[str], response: httpx.Response | None) -> str:
        outcome = _outcome(response, 200)
        if outcome == "committed":
            with self.ledger.lock:
                into.add(app_id)
        return outcome

    def supplement(self) -> str:
        found = self._case_at_node(self.ledger.asked, ("supplement_requested",))
        if isinstance(found, str):
            return found
        app_id, agent, _ = found
        scan = b"%PDF-1.4\n" + self.rng.randbytes(self.rng.randint(1_000, 10_000))
        outcome = _outcome(
            agent.request(
                "POST", f"/api/applications/{app_id}/supplement", data={"have_0": "1"}, files={"file_0": ("证明.pdf", scan, "application/pdf")}
            ),
            200,
        )
        return self._done(app_id, self.ledger.asked, outcome)

    def pickup(self) -> str:
        found = self._case_at_node(self.ledger.concluded, ("approved", "denied", "not_accepted"))
        if isinstance(found, str):
            return found
        app_id, agent, view = found
        collector = collected(view["applicant_name"], resident_id(self.ledger.people[app_id]))
        return self._done(app_id, self.ledger.concluded, _outcome(agent.request("POST", f"/api/applications/{app_id}/pickup", json=collector), 200))

    def _case_at_node(self, among: set[str], statuses: tuple[str, ...]) -> tuple[str, Client, dict] | str:
        """A case from ``among`` that its node shows in one of ``statuses``, or why there is none."""
        picked = self.ledger.pick(self.rng, among)
        if picked is None:
            return "nothing to do"
        app_id, node_id = picked
        agent = self.agents[node_id]
        view = agent.request("GET", f"/api/applications/{app_id}")
        if view is None or view.status_code != 200:
            return "unavailable"
        return (app_id, agent, view.json()) if view.json()["status"] in statuses else "nothing to do"

    def _done(self, app_id: str, waiting: set[str], outcome: str) -> str:
        if outcome == "committed":
            with self.ledger.lock:
                waiting.discard(app_id)
        return outcome


def _outcome(response: httpx.Response | None, ok: int) -> str:
    if response is None:
        return "unavailable"
    return "committed" if response.status_code == ok else f"refused {response.status_code}"
