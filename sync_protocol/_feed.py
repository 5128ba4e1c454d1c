"""The department feed's signature (docs/integration.md): every case event the hub publishes on
``yiwang.dept.<code>.cases`` carries an Ed25519 signature by the hub's key, so a department's
system can tell the hub's events from any other bytes that reach its stream.

The signature is over ``subject LF Nats-Msg-Id LF body``: an event cannot be moved to another
department's subject, nor replayed under another event's id. Headers, not the body, carry it:
a department system that does not verify yet reads the same JSON as before.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ._errors import BadSignature
from ._keys import verify_key_to_text

FEED_SIGNATURE_HEADER = "Yiwang-Signature"  # base64 of the 64-byte Ed25519 signature
FEED_KEY_HEADER = "Yiwang-Key"  # the signing hub key, hex (as `yiwang hub init` prints it)
MSG_ID_HEADER = "Nats-Msg-Id"


def _signed_bytes(subject: str, msg_id: str, body: bytes) -> bytes:
    return subject.encode() + b"\n" + msg_id.encode() + b"\n" + body


def sign_feed(subject: str, msg_id: str, body: bytes, key: SigningKey) -> dict[str, str]:
    """The headers of one department event: its id, the hub's signature and key."""
    signature = key.sign(_signed_bytes(subject, msg_id, body)).signature
    return {MSG_ID_HEADER: msg_id, FEED_SIGNATURE_HEADER: base64.b64encode(signature).decode(), FEED_KEY_HEADER: verify_key_to_text(key.verify_key)}


def verify_feed(subject: str, headers: Mapping[str, str] | None, body: bytes, key: VerifyKey) -> None:
    """Raise BadSignature unless ``body`` on ``subject`` is signed by ``key`` (the hub's, pinned
    by the department: never the key the message names)."""
    headers = headers or {}
    try:
        signature = base64.b64decode(headers.get(FEED_SIGNATURE_HEADER, ""), validate=True)
        key.verify(_signed_bytes(subject, headers.get(MSG_ID_HEADER, ""), body), signature)
    except (BadSignatureError, binascii.Error, ValueError):
        raise BadSignature("department event is not signed by the hub's key") from None
