"""Documents of record (文书: 受理通知书, 决定书, 送达回证 …) signed by the hub key — the e-seal's
stand-in — and verifiable offline by anyone who holds that public key, as e-licences are.

Wire form: ``signature (64 bytes) || canonical JSON body``; as text: ``YWC1.`` + URL-safe base64
of those bytes, without padding. The body carries everything the printed document shows, so a
point prints it from the signed text alone: its number, kind and title, the case, the addressee,
the paragraphs, the facts as label/value pairs, the issuer and the time.
"""

from __future__ import annotations

import json
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from ._canonical import canonical_bytes
from ._errors import Malformed
from ._licence import _decode, _encode
from ._signing import verify_wire

DOCUMENT_PREFIX = "YWC1."
DOCUMENT_FIELDS = ("number", "kind", "title", "application_id", "receipt_no", "addressee", "issuer", "issued_at")


def _well_formed(doc: object) -> bool:
    if not isinstance(doc, dict) or any(not isinstance(doc.get(f), str) for f in DOCUMENT_FIELDS):
        return False
    paragraphs, facts = doc.get("paragraphs"), doc.get("facts")
    return (
        isinstance(paragraphs, list)
        and all(isinstance(p, str) for p in paragraphs)
        and isinstance(facts, list)
        and all(isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f) for f in facts)
    )


def seal_document(doc: dict[str, Any], key: SigningKey) -> str:
    """Sign ``doc`` (DOCUMENT_FIELDS as text, ``paragraphs`` a list of text, ``facts`` a list of
    [label, value]) and return its text form."""
    if not _well_formed(doc):
        raise ValueError(f"a document needs {DOCUMENT_FIELDS} as text, paragraphs and facts")
    return DOCUMENT_PREFIX + _encode(bytes(key.sign(canonical_bytes(doc))))


def open_document(text: str, key: VerifyKey) -> dict[str, Any]:
    """Verify a document's text form against the hub ``key``; BadSignature if it was changed or
    signed by anyone else, Malformed if it is not a document."""
    text = "".join(text.split())
    if not text.startswith(DOCUMENT_PREFIX):
        raise Malformed("not a yiwang document (it should start with YWC1.)")
    body = verify_wire(_decode(text[len(DOCUMENT_PREFIX) :]), key)
    try:
        doc = json.loads(body)
    except ValueError:
        raise Malformed("signed, but not a document") from None
    if not _well_formed(doc):
        raise Malformed("signed, but not a document")
    return dict(doc)
