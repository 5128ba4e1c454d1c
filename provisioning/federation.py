"""A local federation of real processes: nats-server, the county hub and edge nodes.

Used by `yiwang demo` (fixed ports, data kept between runs) and by the end-to-end tests (free
ports, a temporary directory). Each process logs to ``<dir>/logs/<name>.log``.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sync_protocol import ca_fingerprint, inbox_prefix

from .enrol import enroll
from .natsd import ClusterMember, cluster_url, init_nats, member_bundle, nats_server_binary


class FederationError(RuntimeError):
    """A process did not start or answer in time; the message names its log file."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@dataclass
class NodeSpec:
    node_id: str
    name: str
    kind: str  # "village" | "township"
    port: int
    parent: str | None = None
    users: list[tuple[str, str, str]] = field(default_factory=list)  # (username, display name, role)
    tls_dir: Path | None = None  # web.pem + web.key from `yiwang hub issue-cert`: serve HTTPS
    nats_url: str | None = None  # instead of the URL from enrolment (the chaos run puts a proxy between)
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the node's process
    program: str = "yiwang"  # the module the node's process runs, as `python -m PROGRAM node serve` (a test may run older software)


@dataclass
class LocalFederation:
    root: Path
    nats_port: int
    hub_port: int
    password: str = "demo123"
    host: str = "127.0.0.1"
    https: bool = False  # the hub's web server on HTTPS with its county-CA certificate
    db_url: str = ""  # the hub's database (default: SQLite in <root>/hub)
    cluster: list[ClusterMember] = field(default_factory=list)  # NATS as this cluster instead of one server
    remote_members: set[str] = field(default_factory=set)  # cluster members that do not share the hub's directory
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def nats_url(self) -> str:
        return cluster_url(self.cluster) if self.cluster else f"tls://{self.host}:{self.nats_port}"

    @property
    def nats_dir(self) -> Path:
        return self.root / "hub" / "nats"

    def nats_options(self, node_id: str | None = None) -> dict:
        """nats.connect keyword arguments for the hub's identity, or a node's (its nkey, its
        private inbox), with TLS trusting the county CA: for tests acting as one of them."""
        if node_id is None:
            seed = (self.nats_dir / "hub.nk").read_text().strip()
            return {"nkeys_seed_str": seed, "tls": self.county_ca_context()}
        seed = (self.node_dir(node_id) / "nats.nk").read_text().strip()
        return {"nkeys_seed_str": seed, "inbox_prefix": inbox_prefix(node_id), "tls": self.county_ca_context()}

    def county_ca_context(self) -> ssl.SSLContext:
        """TLS that trusts the county CA alone, as nodes do."""
        return ssl.create_default_context(cafile=str(self.nats_dir / "ca.pem"))

    @property
    def hub_url(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}:{self.hub_port}"

    @property
    def hub_verify(self) -> ssl.SSLContext | bool:
        """What an HTTP client checks the hub's certificate with: the county CA."""
        return self.county_ca_context() if self.https else True

    def ca_fingerprint(self) -> str:
        return ca_fingerprint((self.nats_dir / "ca.pem").read_text())

    def node_dir(self, node_id: str) -> Path:
        return self.root / "nodes" / node_id

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # -- processes ------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path(name), "ab")
        # a new session: Ctrl-C in the terminal reaches only the launcher, which stops the
        # children in order (nodes, hub, then NATS) instead of all at once
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {}),
        )
        log.close()
        self.procs[name] = proc
        return proc

    def _wait(self, name: str, ready, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise FederationError(f"{name} exited with code {proc.returncode}; see {self.log_path(name)}")
            if ready():
                return
            time.sleep(0.1)
        raise FederationError(f"{name} did not become ready within {timeout:.0f}s; see {self.log_path(name)}")

    def _init_nats(self) -> Path:
        return init_nats(self.nats_dir, self.host, self.nats_port, cluster=self.cluster or None)

    def start_nats(self) -> None:
        """nats-server with the configuration `yiwang hub init` writes (TLS, nkeys, JetStream);
        with ``cluster``, every member of that cluster."""
        conf = self._init_nats()
        if not self.cluster:
            if port_open(self.nats_port, self.host):
                raise FederationError(f"port {self.nats_port} is already in use; is another NATS or demo running? choose another with --nats-port")
            self._spawn("nats", [str(nats_server_binary()), "-c", str(conf)])
            self._wait("nats", lambda: port_open(self.nats_port, self.host))
            return
        for member in self.cluster:
            self.start_nats_member(member.name)

    def start_nats_member(self, name: str) -> None:
        """One cluster member (again, after it was stopped) by `yiwang hub nats --member`, as
        process ``nats-<name>``. A member named in ``remote_members`` runs from its own copy of
        the hub's NATS directory (``<root>/<name>/nats``, copied at its first start), as on a
        machine of its own: only the access bucket tells it about new identities."""
        member = next(m for m in self.cluster if m.name == name)
        hub_dir = self.root / "hub"
        if name in self.remote_members:
            hub_dir = self.root / name
            if not (hub_dir / "nats").exists():
                member_bundle(self.nats_dir, hub_dir)
        self._spawn(f"nats-{name}", [sys.executable, "-m", "yiwang", "hub", "nats", "--dir", str(hub_dir), "--member", name])
        self._wait(f"nats-{name}", lambda: port_open(member.port, self.host))

    def stop(self, name: str, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)  # the process and any children (a cluster member's nats-server)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            proc.wait()

    def init_hub(self) -> None:
        """`yiwang hub init`, as a county does it (the password on standard input, never in argv)."""
        hub_dir = self.root / "hub"
        if (hub_dir / "hub.key").exists():
            self._init_nats()
            return
        cluster = [arg for m in self.cluster for arg in ("--nats-cluster", f"{m.name}={m.host}:{m.port}:{m.route_port}")]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "yiwang",
                "hub",
                "init",
                "--dir",
                str(hub_dir),
                *self._db_args(),
                "--nats-host",
                self.host,
                "--nats-port",
                str(self.nats_port),
                *cluster,
                "--password-stdin",
                "--demo-clerks",
            ],
            input=self.password + "\n",
            text=True,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start_hub(self) -> None:
        self.init_hub()
        https = ["--https"] if self.https else []
        self._spawn(
            "hub",
            [
                sys.executable,
                "-m",
                "yiwang",
                "hub",
                "serve",
                "--dir",
                str(self.root / "hub"),
                *self._db_args(),
                "--host",
                self.host,
                "--port",
                str(self.hub_port),
                "--nats-url",
                self.nats_url,
                *https,
            ],
        )
        self._wait("hub", lambda: _http_ok(f"{self.hub_url}/api/health", self.hub_verify))

    def start_worker(self, name: str = "worker") -> None:
        """An extra hub ingest worker (`yiwang hub worker`) on the hub's database and NATS."""
        self._spawn(
            name, [sys.executable, "-m", "yiwang", "hub", "worker", "--dir", str(self.root / "hub"), *self._db_args(), "--nats-url", self.nats_url]
        )
        self._wait(name, lambda: "connected to NATS" in self.log_path(name).read_text(errors="replace"))

    def _db_args(self) -> list[str]:
        return ["--db-url", self.db_url] if self.db_url else []

    def hub_token(self, username: str = "operator") -> str:
        response = httpx.post(f"{self.hub_url}/api/login", json={"username": username, "password": self.password}, timeout=30, verify=self.hub_verify)
        response.raise_for_status()
        return response.json()["token"]

    def enrol_node(self, spec: NodeSpec) -> None:
        """Operator creates a one-time code at the hub; the node redeems it (idempotent per directory)."""
        directory = self.node_dir(spec.node_id)
        if (directory / "node.json").exists():
            return
        headers = {"Authorization": f"Bearer {self.hub_token()}"}
        response = httpx.post(
            f"{self.hub_url}/api/enrolment-codes",
            json={"node_id": spec.node_id, "name": spec.name, "kind": spec.kind, "parent": spec.parent},
            headers=headers,
            timeout=30,
            verify=self.hub_verify,
        )
        response.raise_for_status()
        slip = response.json()  # what the operator hands over: the code and the CA fingerprint
        enroll(slip["code"], self.hub_url, directory, slip["ca_fingerprint"])
        for username, display, role in spec.users:
            self.add_node_user(directory, username, display, role)

    def add_node_user(self, directory: Path, username: str, display: str, role: str) -> None:
        """`yiwang node user add`, the password on standard input (never in argv)."""
        subprocess.run(
            [sys.executable, "-m", "yiwang", "node", "user", "add", "--dir", str(directory), username, display, role, "--password-stdin"],
            input=self.password + "\n",
            text=True,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start_node(self, spec: NodeSpec) -> None:
        if not (self.node_dir(spec.node_id) / "nats.nk").exists():
            raise FederationError(
                f"{self.node_dir(spec.node_id)} was enrolled by an older yiwang, without NATS credentials; delete {self.root} and start again"
            )
        tls = ["--tls-cert", str(spec.tls_dir / "web.pem"), "--tls-key", str(spec.tls_dir / "web.key")] if spec.tls_dir else []
        nats = ["--nats-url", spec.nats_url] if spec.nats_url else []
        argv = [
            sys.executable,
            "-m",
            spec.program,
            "node",
            "serve",
            "--dir",
            str(self.node_dir(spec.node_id)),
            "--host",
            self.host,
            "--port",
            str(spec.port),
            *tls,
            *nats,
        ]
        self._spawn(spec.node_id, argv, spec.env)
        verify = self.county_ca_context() if spec.tls_dir else True
        self._wait(spec.node_id, lambda: _http_ok(f"{'https' if spec.tls_dir else 'http'}://{self.host}:{spec.port}/api/status", verify))

    def stop_all(self) -> None:
        """Nodes and workers first, then the hub, then NATS."""
        nats = [n for n in self.procs if n == "nats" or n.startswith("nats-")]
        for name in [n for n in self.procs if n != "hub" and n not in nats] + ["hub", *nats]:
            self.stop(name)

    def exited(self) -> list[tuple[str, int]]:
        return [(name, p.returncode) for name, p in self.procs.items() if p.poll() is not None]


def _http_ok(url: str, verify: ssl.SSLContext | bool = True) -> bool:
    try:
        return httpx.get(url, timeout=1.0, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False
