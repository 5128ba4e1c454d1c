"""Text forms of keys, so they can live in config files, HTTP bodies and the hub database."""

from __future__ import annotations

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
