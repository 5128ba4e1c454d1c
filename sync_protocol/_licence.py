"""E-licences (电子证照): result documents signed by the hub key, verifiable offline by anyone who
holds that public key — a node pins it at enrolment.

Wire form: ``signature (64 bytes) || canonical JSON body``, like a batch; as text (a file, a QR
code): ``YWL1.`` + URL-safe base64 of those bytes, without padding.

A 即办件 approved at a township (issue 19 item 5) gets its result on the spot, signed by the
township node's own key under a **delegation** the hub signed: ``YWD1.`` + the same encoding of a
document naming the township, its public key, the items delegated and the validity. The delegated
licence is ``YWL2.`` + the delegation's bytes + ``.`` + the licence's bytes (signed by the
township key), so it verifies offline with the hub key alone: the delegation with the hub key, the
licence with the key the delegation names, and the licence must be of a delegated item, by that
township, issued while the delegation held.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from ._canonical import canonical_bytes
from ._errors import BadSignature, Malformed
from ._keys import verify_key_from_text
from ._signing import verify_wire

LICENCE_PREFIX = "YWL1."
DELEGATED_LICENCE_PREFIX = "YWL2."
DELEGATION_PREFIX = "YWD1."
LICENCE_FIELDS = ("licence_no", "kind", "item_code", "item_name", "holder_name", "holder_id", "application_id", "issued_at", "issuer")
DELEGATION_FIELDS = ("kind", "node_id", "node_name", "public_key", "items", "valid_from", "valid_until", "issuer")


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except ValueError:
        raise Malformed("the licence text is damaged") from None


def _document(raw: bytes, key: VerifyKey, fields: tuple[str, ...], what: str) -> dict[str, Any]:
    body = verify_wire(raw, key)
    try:
        doc = json.loads(body)
    except ValueError:
        raise Malformed(f"signed, but not a {what}") from None
    if not isinstance(doc, dict) or any(f not in doc for f in fields):
        raise Malformed(f"signed, but not a {what}")
    # every field is text, but a delegation's items: a list of item codes
    if any(not (isinstance(doc[f], list) and all(isinstance(i, str) for i in doc[f]) if f == "items" else isinstance(doc[f], str)) for f in fields):
        raise Malformed(f"signed, but not a {what}: a field of the wrong type")
    return doc


def _signed(doc: dict[str, Any], key: SigningKey, fields: tuple[str, ...], what: str) -> bytes:
    missing = [f for f in fields if f not in doc]
    if missing:
        raise ValueError(f"{what} lacks {missing}")
    return bytes(key.sign(canonical_bytes(doc)))


def seal_licence(doc: dict[str, Any], key: SigningKey) -> str:
    """Sign ``doc`` (which must carry every LICENCE_FIELDS entry) and return its text form."""
    return LICENCE_PREFIX + _encode(_signed(doc, key, LICENCE_FIELDS, "licence"))


def seal_delegation(doc: dict[str, Any], hub_key: SigningKey) -> str:
    """The hub's delegation of on-the-spot results to a township key (DELEGATION_FIELDS)."""
    return DELEGATION_PREFIX + _encode(_signed(doc, hub_key, DELEGATION_FIELDS, "delegation"))


def open_delegation(text: str, hub_key: VerifyKey) -> dict[str, Any]:
    text = "".join(text.split())
    if not text.startswith(DELEGATION_PREFIX):
        raise Malformed("not a yiwang delegation (it should start with YWD1.)")
    return _document(_decode(text[len(DELEGATION_PREFIX) :]), hub_key, DELEGATION_FIELDS, "delegation")


def seal_delegated_licence(doc: dict[str, Any], key: SigningKey, delegation: str) -> str:
    """A township's on-the-spot result: ``doc`` (LICENCE_FIELDS and ``issuer_node``) signed by the
    township ``key`` that ``delegation`` (its YWD1 text) names."""
    inner = _signed(doc, key, (*LICENCE_FIELDS, "issuer_node"), "licence")
    return DELEGATED_LICENCE_PREFIX + "".join(delegation.split())[len(DELEGATION_PREFIX) :] + "." + _encode(inner)


def _delegated_parts(text: str) -> tuple[str, str]:
    """A YWL2 text's two parts (the delegation's and the licence's base64), or Malformed."""
    text = "".join(text.split())
    if not text.startswith(DELEGATED_LICENCE_PREFIX) or text.count(".") != 2:
        raise Malformed("not a yiwang e-licence (it should start with YWL1. or YWL2.)")
    delegation_part, licence_part = text[len(DELEGATED_LICENCE_PREFIX) :].split(".")
    return delegation_part, licence_part


def delegation_in(text: str) -> str:
    """The delegation (its YWD1 text) a township's result carries, not verified here: the hub
    looks it up among those it issued, and so knows the key to verify the result with."""
    return DELEGATION_PREFIX + _delegated_parts(text)[0]


def open_township_licence(text: str, township_key: VerifyKey) -> dict[str, Any]:
    """A township's result's document, verified with ``township_key`` (the key its delegation names)."""
    return _document(_decode(_delegated_parts(text)[1]), township_key, (*LICENCE_FIELDS, "issuer_node"), "licence document")


def open_licence(text: str, key: VerifyKey) -> dict[str, Any]:
    """Verify a licence's text form against the hub ``key`` and return its document; BadSignature
    if it was changed or signed by anyone else (or a township beyond its delegation), Malformed if
    it is not a licence at all. A delegated licence's document says who issued it (``issuer_node``)."""
    text = "".join(text.split())
    if text.startswith(LICENCE_PREFIX):
        return _document(_decode(text[len(LICENCE_PREFIX) :]), key, LICENCE_FIELDS, "licence document")
    delegation_part, licence_part = _delegated_parts(text)
    delegation = _document(_decode(delegation_part), key, DELEGATION_FIELDS, "delegation")
    try:
        township_key = verify_key_from_text(str(delegation["public_key"]))
    except ValueError:
        raise Malformed("the delegation names no valid key") from None
    doc = _document(_decode(licence_part), township_key, (*LICENCE_FIELDS, "issuer_node"), "licence document")
    if doc["issuer_node"] != delegation["node_id"] or doc["item_code"] not in delegation["items"]:
        raise BadSignature("the township issued a result its delegation does not cover")
    if not delegation["valid_from"] <= doc["issued_at"] <= delegation["valid_until"]:
        raise BadSignature("the result was issued outside the township's delegation")
    return doc


__all__ = [
    "DELEGATED_LICENCE_PREFIX",
    "DELEGATION_PREFIX",
    "LICENCE_FIELDS",
    "LICENCE_PREFIX",
    "BadSignature",
    "delegation_in",
    "open_delegation",
    "open_licence",
    "open_township_licence",
    "seal_delegated_licence",
    "seal_delegation",
    "seal_licence",
]
