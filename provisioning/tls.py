"""The county's own certificate authority: made once by `yiwang hub init`.

The CA certificate is public: nodes receive it at enrolment, check it against the fingerprint on
the enrolment slip, and trust only it (not the system's trust store) for NATS and the hub's HTTPS.
Its private key stays in the hub directory (0600) and signs the server certificates: nats-server's
(``server.pem``), the hub's web server's (``web.pem``) and any township node's (`yiwang hub
issue-cert`), for the names clients use to reach them.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .keys import write_private

CA_YEARS = 10
SERVER_YEARS = 2


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "yiwang"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def create_ca(directory: Path, county: str) -> None:
    """``ca.pem`` and ``ca.key`` (0600) in ``directory``; an existing CA is kept."""
    if (directory / "ca.pem").exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"yiwang {county} CA"))
        .issuer_name(_name(f"yiwang {county} CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_private(directory / "ca.key", _key_pem(key).strip())
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def issue_server_cert(ca_dir: Path, names: list[str], out_dir: Path | None = None, stem: str = "server", client_auth: bool = False) -> None:
    """``<stem>.pem`` / ``<stem>.key`` (0600) in ``out_dir`` (default ``ca_dir``) for these DNS
    names and IP addresses, signed by the CA in ``ca_dir``. Run again to add a name (the old pair
    is replaced). ``client_auth``: also valid as a client certificate (NATS cluster routes
    verify each other both ways with one certificate)."""
    directory = out_dir or ca_dir
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SERVER_YEARS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [])), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    for stale in (f"{stem}.key", f"{stem}.pem"):
        (directory / stale).unlink(missing_ok=True)
    write_private(directory / f"{stem}.key", _key_pem(key).strip())
    (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
