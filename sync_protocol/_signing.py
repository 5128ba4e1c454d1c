"""Ed25519 over the exact bytes sent.

Wire format of a batch: ``signature (64 bytes) || body`` — PyNaCl's signed-message layout.
The receiver verifies these bytes with the key it already trusts for the sender and only then
decodes; nothing is ever re-encoded to be verified.
"""

from __future__ import annotations

import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ._envelope import MAX_BATCH_BYTES, Batch, decode_body, encode_body
from ._errors import BadSignature, TooLarge

SIGNATURE_BYTES = 64


def sign_batch(batch: Batch, key: SigningKey) -> bytes:
    """Return the wire bytes of ``batch`` signed by ``key``."""
    wire = bytes(key.sign(encode_body(batch)))
    if len(wire) > MAX_BATCH_BYTES:
        raise TooLarge(len(wire), MAX_BATCH_BYTES)
    return wire


def verify_wire(raw: bytes, key: VerifyKey) -> bytes:
    """Return the body of ``raw`` if ``key`` signed it, else raise BadSignature / TooLarge."""
    if len(raw) > MAX_BATCH_BYTES:
        raise TooLarge(len(raw), MAX_BATCH_BYTES)
    if len(raw) <= SIGNATURE_BYTES:
        raise BadSignature("too short to carry a signature")
    try:
        return key.verify(raw)
    except BadSignatureError:
        raise BadSignature("signature does not verify with the sender's key") from None


def open_batch(raw: bytes, key: VerifyKey) -> Batch:
    """Verify, then decode."""
    return decode_body(verify_wire(raw, key))


def batch_hash(raw: bytes) -> str:
    """The chain hash of a batch: SHA-256 of its wire bytes, lower-case hex."""
    return hashlib.sha256(raw).hexdigest()
