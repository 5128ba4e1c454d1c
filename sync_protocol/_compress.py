"""Compressed batch bodies (``YWZ1``): a compatible extension of protocol version 1.

Rules of this file:
- A body is either the canonical JSON itself (it starts with ``{``) or ``YWZ1`` followed by a
  zlib stream of that JSON, deflated with the preset dictionary ``ZDICT`` below. The signature and
  the chain hash cover the bytes *sent* — the compressed ones; nothing is recompressed to verify.
- Inflating is bounded: more than ``MAX_BODY_BYTES`` of JSON, trailing bytes, or a stream that
  does not end is Malformed, so a signed bomb costs the receiver at most that much memory.
- ``ZDICT`` never changes: a different dictionary is a different marker (``YWZ2``), and the golden
  vectors pin its bytes. It holds the field names and kinds most batches repeat, so a batch of one
  record (a heartbeat-sized decision, one application) compresses too, not only a day's backlog.
- A sender compresses only for a receiver that said it inflates (``COMPRESSION`` in its status):
  an older receiver keeps getting plain bodies, so either end can be upgraded first.
"""

from __future__ import annotations

import zlib

from ._errors import Malformed

COMPRESSION = "YWZ1"
MAGIC = COMPRESSION.encode()
MAX_BODY_BYTES = 8 * 1024 * 1024  # inflated; the wire itself stays under MAX_BATCH_BYTES
LEVEL = 9

# The preset dictionary: what the canonical JSON of typical batches repeats. zlib looks back at
# it as if it preceded the body; the likeliest strings stand last (nearest the start of the body).
ZDICT = (
    '"kind":"fee.refunded""kind":"fee.voided""kind":"fee.daily_closed""kind":"fee.remitted""kind":"complaint.filed"'
    '"kind":"evaluation.given""kind":"application.dispatched""kind":"application.withdrawn""kind":"decision.delegated"'
    '"kind":"node.key_rotated""kind":"node.key_accepted""kind":"node.revoked""kind":"catalog.version""kind":"resend.request"'
    '"kind":"result.issued""kind":"supplement.requested""kind":"supplement.provided""kind":"application.not_accepted"'
    '"kind":"application.accepted""kind":"material.received""kind":"decision.made""kind":"application.picked_up"'
    '"collector_id_number":"","collector_is_applicant":true,"collector_name":"","courier":"","tracking_no":"",'
    '"decided_at":"2026-","decided_by":"","decision":"approved","decision":"denied","reason":"","missing":["'
    '"licence":"YWL1.","licence_no":"","received_at":"2026-","by":"","from_seq":'
    '"amount_fen":,"method":"cash","method":"wechat","method":"alipay","reference":"","fee_receipt_no":"'
    '"kind":"fee.collected"},"id":"'
    '"size":,"media_type":"image/jpeg","media_type":"application/pdf","material":"","sha256":"'
    '"kind":"materials.attached"},"id":"'
    '"居民身份证","户口簿","申请书","委托代办授权书"'
    '{"at":"2026-12-01T00:00:00.000000Z","data":{"agent":"agent","applicant_id_number":"","applicant_name":"",'
    '"applicant_phone":"","application_id":"","item_code":"","item_name":"","materials_checked":["'
    '"],"proxy_agent":"","receipt_no":"'
    '"},"id":"00000000-0000-4000-8000-000000000000","kind":"application.received"},'
    '{"created":"2026-12-01T00:00:00.000000Z","dir":"up","node":"","prev":"0000000000000000","records":['
).encode()


def compress_body(body: bytes) -> bytes:
    """``YWZ1`` + the body deflated with ``ZDICT`` (deterministic for a given zlib build and level)."""
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY, ZDICT)
    return MAGIC + packer.compress(body) + packer.flush()


def inflate_body(body: bytes) -> bytes:
    """The canonical JSON of a verified body: as it is, or inflated (bounded) from ``YWZ1``."""
    if not body.startswith(MAGIC):
        return body
    unpacker = zlib.decompressobj(zlib.MAX_WBITS, ZDICT)
    try:
        plain = unpacker.decompress(body[len(MAGIC) :], MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise Malformed(f"compressed body does not inflate: {exc}") from None
    if len(plain) > MAX_BODY_BYTES or unpacker.unconsumed_tail:
        raise Malformed(f"compressed body inflates past {MAX_BODY_BYTES} bytes")
    if not unpacker.eof or unpacker.unused_data:
        raise Malformed("compressed body is truncated or has trailing bytes")
    return plain
