"""E-licences (电子证照): result documents signed by the hub key, verifiable offline by anyone who
holds that public key — a node pins it at enrolment.

Wire form: ``signature (64 bytes) || canonical JSON body``, like a batch; as text (a file, a QR
code): ``YWL1.`` + URL-safe base64 of those bytes, without padding.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from ._canonical import canonical_bytes
from ._errors import BadSignature, Malformed
from ._signing import verify_wire

LICENCE_PREFIX = "YWL1."
LICENCE_FIELDS = ("licence_no", "kind", "item_code", "item_name", "holder_name", "holder_id", "application_id", "issued_at", "issuer")


def seal_licence(doc: dict[str, Any], key: SigningKey) -> str:
    """Sign ``doc`` (which must carry every LICENCE_FIELDS entry) and return its text form."""
    missing = [f for f in LICENCE_FIELDS if f not in doc]
    if missing:
        raise ValueError(f"licence lacks {missing}")
    raw = bytes(key.sign(canonical_bytes(doc)))
    return LICENCE_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def open_licence(text: str, key: VerifyKey) -> dict[str, Any]:
    """Verify a licence's text form against ``key`` and return its document; BadSignature if it was
    changed or signed by anyone else, Malformed if it is not a licence at all."""
    text = "".join(text.split())
    if not text.startswith(LICENCE_PREFIX):
        raise Malformed("not a yiwang e-licence (it should start with YWL1.)")
    body64 = text[len(LICENCE_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body64 + "=" * (-len(body64) % 4))
    except ValueError:
        raise Malformed("the licence text is damaged") from None
    body = verify_wire(raw, key)
    try:
        doc = json.loads(body)
    except ValueError:
        raise Malformed("signed, but not a licence document") from None
    if not isinstance(doc, dict) or any(f not in doc for f in LICENCE_FIELDS):
        raise Malformed("signed, but not a licence document")
    return doc


__all__ = ["LICENCE_FIELDS", "LICENCE_PREFIX", "BadSignature", "open_licence", "seal_licence"]
