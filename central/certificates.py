"""When the hub's certificates run out. `hub init` issues the NATS server's, the hub's HTTPS and a
cluster's route certificates for two years (provisioning/tls.py): the day the NATS server's
expires, every point's link fails at once. The dashboard warns 60 days ahead, `/metrics` has each
one's end (``yiwang_certificate_not_after_seconds``), and `hub serve` logs it when it starts.
Renewal: `yiwang hub init` again with the names and port it was given (docs/operations.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

# in the hub's nats/: what each is, and what stops the day it ends
FILES = {
    "server.pem": ("NATS 服务器证书", "各服务点无法同步"),
    "web.pem": ("中枢 HTTPS 证书", "浏览器和服务点登记无法打开中枢网页（使用 --https 时）"),
    "route.pem": ("NATS 集群路由证书", "集群成员之间无法复制数据"),
}
WARN = timedelta(days=60)


@dataclass(frozen=True)
class Expiry:
    file: str
    name: str
    effect: str  # what stops the day it ends
    not_after: datetime

    def days_left(self, now: datetime) -> int:
        return (self.not_after - now).days


def expiries(nats_dir: Path) -> list[Expiry]:
    """Each of the hub's certificates that is there, with its end."""
    found = []
    for file, (name, effect) in FILES.items():
        path = nats_dir / file
        if path.exists():
            found.append(Expiry(file, name, effect, x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc))
    return found


def expiring(nats_dir: Path, now: datetime | None = None) -> list[Expiry]:
    """Those that end within 60 days (or have ended)."""
    now = now or datetime.now(UTC)
    return [e for e in expiries(nats_dir) if e.not_after - now <= WARN]
