"""Link status: what a node says of itself and what the hub answers, outside the audit chain.

Rules of this file:
- A status is not an audit record: it is not chained, not stored as history, and it replaces
  the one before it (the hub keeps the latest per node). Heartbeats cost the hub a row updated in
  place, not a batch a minute forever.
- Both directions are signed (the node's key / the hub's key) over the exact bytes sent, like a
  batch: ``signature (64) || canonical JSON``, at most ``MAX_STATUS_BYTES``. NATS permissions
  already keep the subject to its node; the signature also keeps a status honest in a log.
- The node sends its status as a request on ``yiwang.status.<node_id>``; the hub's reply tells it
  how far its uplink and its current file have arrived (so after a timed-out send nothing that
  arrived is sent again), which body encodings the hub inflates, and the operator's link settings.
- Unknown fields are ignored, so either end may be newer; a missing required field is Malformed.
"""

from __future__ import annotations

from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ._canonical import canonical_bytes
from ._envelope import json_object, require
from ._errors import BadSignature, Malformed, TooLarge

STATUS_VERSION = 1
MAX_STATUS_BYTES = 4096
# field -> type, for what each side must send (more may come)
NODE_STATUS_FIELDS: dict[str, type] = {
    "v": int,
    "node": str,
    "at": str,
    "up_seq": int,
    "outbox_depth": int,
    "app_version": str,
    "catalog_version": int,
}
HUB_REPLY_FIELDS: dict[str, type] = {"v": int, "node": str, "at": str, "up_applied": int}


def status_subject(node_id: str) -> str:
    return f"yiwang.status.{node_id}"


# 一号申请 across the county (issue 19 item 6): a node asks on ``yiwang.lookup.<node_id>`` what the
# county holds of one person; the hub answers, signed, with that person's cases and e-licences
LOOKUP_REQUEST_FIELDS: dict[str, type] = {"v": int, "node": str, "at": str, "id_number": str}
LOOKUP_REPLY_FIELDS: dict[str, type] = {"v": int, "node": str, "at": str, "id_number": str, "cases": list, "licences": list}
MAX_LOOKUP_BYTES = 64 * 1024  # a reply carries e-licence texts (about 1 KiB each)


def lookup_subject(node_id: str) -> str:
    return f"yiwang.lookup.{node_id}"


def seal_status(fields: dict[str, Any], key: SigningKey, max_bytes: int = MAX_STATUS_BYTES) -> bytes:
    """Sign a status (or a reply, or a lookup): ``fields`` plus ``v``; refuse one over ``max_bytes``."""
    raw = bytes(key.sign(canonical_bytes({"v": STATUS_VERSION} | fields)))
    if len(raw) > max_bytes:
        raise TooLarge(len(raw), max_bytes)
    return raw


def open_status(raw: bytes, key: VerifyKey, required: dict[str, type], node: str, max_bytes: int = MAX_STATUS_BYTES) -> dict[str, Any]:
    """Verify, then decode a status or reply about ``node``; raise BadSignature / Malformed / TooLarge."""
    if len(raw) > max_bytes:
        raise TooLarge(len(raw), max_bytes)
    try:
        body = key.verify(raw)
    except (BadSignatureError, ValueError):
        raise BadSignature("status does not verify with the sender's key") from None
    obj = json_object(body, "status")
    for name, kind in required.items():
        require(obj, name, kind)
    if obj["node"] != node:
        raise Malformed(f"status is about {obj['node']!r}, not {node!r}")
    return obj
