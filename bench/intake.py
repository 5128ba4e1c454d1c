"""The intake API at a node: open-loop at a township's peak and at ten times it, closed-loop under
20 concurrent clients, and the node's memory.

Open loop (issue 18 item 8): applications arrive at the node on their own schedule (Poisson
arrivals from a seeded generator), whether or not the earlier ones have been answered, as the
windows of a township centre send them; each latency runs from the moment the request was due, so a
request that waited for a free connection counts its wait (no coordinated omission). The peak is
PEAK_WINDOWS windows each submitting one application every WINDOW_SECONDS: a window with every
paper ready and nothing to check, several times faster than a real intake (a proxy application
with materials takes minutes), so the figure errs on the heavy side. Each phase runs OPEN_SECONDS.

Figure: ``POST /api/applications`` (validation, receipt number, the application and its outbox
event in one durable commit, synchronous=FULL) from 20 concurrent clients (each on its own
keep-alive connection, logged in as the agent; a minimal asyncio HTTP client so that the load
generator, on the same two cores, is not the bottleneck), 10,000 requests in all, while the node is online and sending to the hub:
p50/p99 latency and requests/s.
Baseline, same run, same server process, same clients: ``GET /api/health``, a route that touches
nothing (2,000 requests).
Memory: the node's resident set size (VmRSS) idle after start, and after those 10,000
applications and the open loop's (all of them sent to the hub), beside a bare Python interpreter that has imported the
same libraries (litestar, sqlite-utils, nats-py, pynacl) and nothing of yiwang.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.builders import checked, resident_id
from tests.support.federation import running_federation as federation
from tests.support.federation import village

from .common import hub_count, rss_mb, summary_ms, wait_for

CLIENTS = 20
REQUESTS = 10_000
TRIVIAL = 2_000
PEAK_WINDOWS = 8
WINDOW_SECONDS = 15.0  # one application per window every 15 s at the peak
OPEN_SECONDS = 120.0
POOL = 16  # keep-alive connections opened (and logged in) before the clock starts


class _Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator shares the
    machine's two cores with the server, and httpx spent more CPU per request than the node's
    trivial route does (it capped the baseline, not the server)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter
        self.headers = b""

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.writer.write(head.encode() + self.headers + b"\r\n" + payload)
        status_line = await self.reader.readline()
        if not status_line:  # the server closed the idle keep-alive connection (uvicorn: after 5 s)
            raise ConnectionResetError("connection closed by the server")
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def _load(port: int, password: str, requests: int, body_of) -> tuple[list[float], float]:
    """``requests`` calls spread over CLIENTS concurrent clients, each on its own keep-alive
    connection, logged in as the agent; (latencies, wall seconds)."""
    latencies: list[float] = []
    counter = iter(range(requests))

    async def client() -> None:
        conn = _Connection(port)
        await conn.open()
        status, body = await conn.request("POST", "/api/login", {"username": "agent", "password": password})
        conn.headers = f"Authorization: Bearer {json.loads(body)['token']}\r\n".encode()
        for n in counter:
            method, path, payload = body_of(n)
            start = time.perf_counter()
            status, body = await conn.request(method, path, payload)
            latencies.append(time.perf_counter() - start)
            if status >= 300:
                raise RuntimeError(f"benchmark request failed: {status} {body[:200]!r}")
        conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return latencies, time.perf_counter() - start


async def _open_loop(port: int, password: str, rate_per_s: float, seconds: float, bodies: list[tuple[str, str, dict]], seed: int) -> list[float]:
    """Requests due at Poisson arrival times (``rate_per_s`` on average) for ``seconds``; each
    latency from its due time to its answer. Connections come from a pool opened beforehand; when
    all are busy a new one is opened (its login counts in that request's latency)."""
    import random

    draw = random.Random(seed)

    async def connect() -> _Connection:
        conn = _Connection(port)
        await conn.open()
        _, body = await conn.request("POST", "/api/login", {"username": "agent", "password": password})
        conn.headers = f"Authorization: Bearer {json.loads(body)['token']}\r\n".encode()
        return conn

    idle = [await connect() for _ in range(POOL)]
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []

    async def one(due: float, request: tuple[str, str, dict]) -> None:
        conn = idle.pop() if idle else await connect()  # the most recently used first
        try:
            status, answer = await conn.request(*request)
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError):
            # closed while idle, as a browser's would be: reconnect with the same token, as a browser
            # does (its cookie survives); the reconnect counts in this request's latency
            conn.close()
            await conn.open()
            status, answer = await conn.request(*request)
        latencies.append(time.perf_counter() - due)
        idle.append(conn)
        if status >= 300:
            raise RuntimeError(f"benchmark request failed: {status} {answer[:200]!r}")

    start = time.perf_counter()
    due, n = start, 0
    while True:
        due += draw.expovariate(rate_per_s)
        if due - start > seconds:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(due, bodies[n])))
        n += 1
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return latencies


def _intake_bodies(count: int, first: int = 0) -> list[tuple[str, str, dict]]:
    """Built before the clock starts: the client's own work must not be what is measured."""
    materials = checked("MZ-003")
    return [
        (
            "POST",
            "/api/applications",
            {"item_code": "MZ-003", "applicant_name": f"申请人{n}", "applicant_id_number": resident_id(n), "materials_checked": materials},
        )
        for n in range(first, first + count)
    ]


def _bare_interpreter_rss() -> float:
    code = "import litestar, sqlite_utils, nats, nacl.signing, sys; sys.stdout.write('ready'); sys.stdout.flush(); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.read(5) == b"ready"
    rss = rss_mb(proc.pid)
    proc.communicate(b"")
    return rss


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        spec = village("desk")
        fed.enrol_node(spec)
        fed.start_node(spec)
        pid = fed.procs[spec.node_id].pid
        base = f"http://127.0.0.1:{spec.port}"
        wait_for(lambda: httpx.get(f"{base}/api/status", timeout=2).json()["online"], 30, what="the node online")
        time.sleep(2)
        idle = rss_mb(pid)
        peak = PEAK_WINDOWS / WINDOW_SECONDS
        open_loop = {}
        for name, rate, seed in (("peak", peak, 1), ("ten_times", 10 * peak, 2)):
            bodies = _intake_bodies(
                int(rate * OPEN_SECONDS * 2) + 100, first=REQUESTS + 2_000 * seed
            )  # resident_id(n): born 1950 + n days, in the past
            latencies = asyncio.run(_open_loop(spec.port, fed.password, rate, OPEN_SECONDS, bodies, seed))
            open_loop[name] = summary_ms(latencies) | {"rate": rate}
        trivial, trivial_s = asyncio.run(_load(spec.port, fed.password, TRIVIAL, lambda n: ("GET", "/api/health", None)))
        bodies = _intake_bodies(REQUESTS)
        intake, intake_s = asyncio.run(_load(spec.port, fed.password, REQUESTS, bodies.__getitem__))
        taken = REQUESTS + sum(r["n"] for r in open_loop.values())
        wait_for(
            lambda: hub_count(fed, "SELECT COUNT(*) FROM application WHERE node_id = ?", (spec.node_id,)) == taken,
            300,
            0.2,
            what="every application at the hub",
        )
        time.sleep(2)
        loaded = rss_mb(pid)
    return {
        "open_loop": open_loop,
        "applications": taken,
        "intake": summary_ms(intake) | {"rps": REQUESTS / intake_s},
        "trivial": summary_ms(trivial) | {"rps": TRIVIAL / trivial_s},
        "rss_idle_mb": idle,
        "rss_loaded_mb": loaded,
        "rss_bare_mb": _bare_interpreter_rss(),
    }
