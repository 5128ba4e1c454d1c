"""Ed25519 over the exact bytes sent.

Wire format of a batch: ``signature (64 bytes) || body`` — PyNaCl's signed-message layout, where
the body is the canonical JSON or its compressed form (``_compress.py``). The receiver verifies
these bytes with the key it already trusts for the sender and only then inflates and decodes;
nothing is ever re-encoded to be verified.
"""

from __future__ import annotations

import hashlib

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ._compress import compress_body, inflate_body
from ._envelope import MAX_BATCH_BYTES, Batch, decode_body, encode_body
from ._errors import BadSignature, TooLarge

SIGNATURE_BYTES = 64


def sign_batch(batch: Batch, key: SigningKey, compress: bool = False) -> bytes:
    """Return the wire bytes of ``batch`` signed by ``key``; ``compress`` only for a receiver
    that inflates (it said so in its status)."""
    body = encode_body(batch)
    wire = bytes(key.sign(compress_body(body) if compress else body))
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
    """Verify, then inflate (bounded), then decode."""
    return decode_body(inflate_body(verify_wire(raw, key)))


def batch_hash(raw: bytes) -> str:
    """The chain hash of a batch: SHA-256 of its wire bytes, lower-case hex."""
    return hashlib.sha256(raw).hexdigest()
