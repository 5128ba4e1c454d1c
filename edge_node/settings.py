"""Node settings: where its files live and where it serves. What enrolment wrote (node id, hub key,
NATS URL) is read from ``node.json`` in the data directory by ``NodeIdentity.load``."""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from sync_protocol import inbox_prefix, signing_key_from_text, verify_key_from_text


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8701
    nats_url: str = ""  # overrides the URL received at enrolment
    public_url: str = ""  # how citizens' phones reach this node (QR codes on slips); default from host/port
    heartbeat_seconds: float = 60.0  # the signed status (heartbeat) to the hub while connected (0 = only when there is news)
    tls_cert: Path | None = None  # serve HTTPS (a township LAN): a certificate from `yiwang hub issue-cert`
    tls_key: Path | None = None
    material_retention_days: float = 7.0  # keep a material file this long after the hub confirms it (0 = delete at once)

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("HTTPS needs both a certificate and its key (--tls-cert and --tls-key)")
        if self.material_retention_days < 0:
            raise ValueError(f"YIWANG_MATERIAL_RETENTION_DAYS must be 0 or more days, not {self.material_retention_days:g}")

    @property
    def base_url(self) -> str:
        return self.public_url or f"{'https' if self.tls_cert else 'http'}://{self.host}:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "node.sqlite3"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "data_dir": env.get("YIWANG_NODE_DIR"),  # no default here: the `yiwang` command gives an absolute one
            "host": env.get("YIWANG_NODE_HOST", "127.0.0.1"),
            "port": int(env.get("YIWANG_NODE_PORT", "8701")),
            "nats_url": env.get("YIWANG_NATS_URL", ""),
            "public_url": env.get("YIWANG_NODE_PUBLIC_URL", ""),
            "heartbeat_seconds": float(env.get("YIWANG_HEARTBEAT_SECONDS", "60")),
            "material_retention_days": float(env.get("YIWANG_MATERIAL_RETENTION_DAYS", "7")),
            "tls_cert": env.get("YIWANG_NODE_TLS_CERT") or None,
            "tls_key": env.get("YIWANG_NODE_TLS_KEY") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values["data_dir"]:
            raise ValueError("no data directory: give --dir or set YIWANG_NODE_DIR")
        values["data_dir"] = Path(values["data_dir"])  # type: ignore[arg-type]
        for name in ("tls_cert", "tls_key"):
            values[name] = Path(values[name]) if values[name] else None  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (0600); refuse to overwrite an existing secret."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


class NotEnrolled(RuntimeError):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(f"{data_dir} holds no enrolled node; run `yiwang node enroll CODE --hub URL --dir {data_dir}` first")


@dataclass(frozen=True)
class NodeIdentity:
    node_id: str
    name: str
    kind: str
    key: SigningKey
    hub_key: VerifyKey
    nats_url: str
    nats_seed: str = ""  # the node's NATS identity (nkey seed, nats.nk); "" = connect without
    nats_ca: Path | None = None  # the county CA that signs nats-server's certificate
    progress_url: str = ""  # the county's public progress page for citizens (from enrolment); "" = this node's own

    def nats_options(self) -> dict[str, Any]:
        """nats.connect options: this node's nkey, its private reply inbox, TLS trusting only
        the county CA received at enrolment."""
        options: dict[str, Any] = {"inbox_prefix": inbox_prefix(self.node_id)}
        if self.nats_seed:
            options["nkeys_seed_str"] = self.nats_seed
        if self.nats_ca is not None:
            options["tls"] = ssl.create_default_context(cafile=str(self.nats_ca))
        return options

    @classmethod
    def load(cls, settings: Settings) -> NodeIdentity:
        config_path, key_path = settings.data_dir / "node.json", settings.data_dir / "node.key"
        if not config_path.exists() or not key_path.exists():
            raise NotEnrolled(settings.data_dir)
        config = json.loads(config_path.read_text(encoding="utf-8"))
        return cls(
            node_id=config["node_id"],
            name=config["name"],
            kind=config["kind"],
            key=signing_key_from_text(key_path.read_text()),
            hub_key=verify_key_from_text(config["hub_public_key"]),
            nats_url=settings.nats_url or config["nats_url"],
            nats_seed=(settings.data_dir / "nats.nk").read_text().strip() if (settings.data_dir / "nats.nk").exists() else "",
            nats_ca=settings.data_dir / "nats-ca.pem" if (settings.data_dir / "nats-ca.pem").exists() else None,
            # nodes enrolled before the hub named it: the hub's address they enrolled with
            progress_url=config.get("progress_url") or (config["hub_url"].rstrip("/") + "/progress" if config.get("hub_url") else ""),
        )
