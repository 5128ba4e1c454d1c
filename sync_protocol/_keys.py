"""Text forms of keys, so they can live in config files, HTTP bodies and the hub database, and the
fingerprint of the county CA that an enrolment slip carries."""

from __future__ import annotations

import hashlib
import re
import ssl

from nacl.signing import SigningKey, VerifyKey


def verify_key_to_text(key: VerifyKey) -> str:
    return bytes(key).hex()


def verify_key_from_text(text: str) -> VerifyKey:
    raw = bytes.fromhex(text.strip())
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (64 hex characters)")
    return VerifyKey(raw)


def signing_key_to_text(key: SigningKey) -> str:
    return bytes(key).hex()


def signing_key_from_text(text: str) -> SigningKey:
    raw = bytes.fromhex(text.strip())
    if len(raw) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes (64 hex characters)")
    return SigningKey(raw)


FINGERPRINT_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


def ca_fingerprint(pem: str) -> str:
    """``sha256:<hex>`` of a certificate's DER bytes: printed on the enrolment slip, so a node can
    check that the CA the hub sends it is the county's before trusting it."""
    return "sha256:" + hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
