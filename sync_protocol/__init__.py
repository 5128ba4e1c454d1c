"""yiwang's wire contract, sans-I/O: canonical encoding, signed and hash-chained batches, and the
receive-side cursor. No NATS, no database, no asyncio — bytes in, verdicts out.
See docs/protocol.md."""

from ._canonical import canonical_bytes
from ._compress import COMPRESSION, MAX_BODY_BYTES, compress_body, inflate_body
from ._chain import GENESIS, GENESIS_HEAD, ChainPos
from ._cursor import UNKNOWN_KIND, Accepted, Duplicate, Fork, Gap, IngestCursor, Rejected, Verdict
from ._envelope import (
    MAX_BATCH_BYTES,
    MAX_RECORDS_PER_BATCH,
    PROTOCOL_VERSION,
    Batch,
    Direction,
    Record,
    decode_body,
    encode_body,
)
from ._errors import (
    BadSignature,
    LocalProtocolError,
    Malformed,
    RemoteProtocolError,
    SyncError,
    TooLarge,
    UnencodableValue,
    UnsupportedVersion,
)
from ._licence import LICENCE_PREFIX, open_licence, seal_licence
from ._feed import FEED_KEY_HEADER, FEED_SIGNATURE_HEADER, sign_feed, verify_feed
from ._keys import FINGERPRINT_PATTERN, ca_fingerprint, signing_key_from_text, signing_key_to_text, verify_key_from_text, verify_key_to_text
from ._records import (
    APPLICATION_ACCEPTED,
    APPLICATION_DISPATCHED,
    APPLICATION_NOT_ACCEPTED,
    APPLICATION_PICKED_UP,
    APPLICATION_RECEIVED,
    APPLICATION_WITHDRAWN,
    BLOB_OFFSET_HEADER,
    SENT_AT_HEADER,
    SEQ_HEADER,
    BLOB_SIZE_HEADER,
    BLOB_STREAM,
    CATALOG_VERSION,
    COMPLAINT_FILED,
    DAILY_CLOSED,
    DECISION_DELEGATED,
    DECISION_MADE,
    DEPARTMENT_STREAM,
    DOWNLINK_ACK_WAIT_S,
    DOWNLINK_STREAM,
    department_subject,
    EVALUATION_GIVEN,
    FEE_COLLECTED,
    FEE_REFUNDED,
    FEE_REMITTED,
    FEE_VOIDED,
    MATERIALS_ATTACHED,
    MATERIAL_RECEIVED,
    MAX_BLOB_BYTES,
    MAX_FEN,
    NODE_HEARTBEAT,
    NODE_KEY_ACCEPTED,
    NODE_KEY_ROTATED,
    NODE_REVOKED,
    MAX_RECORD_BYTES,
    RECORD_SPECS,
    batch_message_id,
    record_size,
    RESEND_REQUEST,
    RESULT_ISSUED,
    SUPPLEMENT_PROVIDED,
    SUPPLEMENT_REQUESTED,
    UPLINK_STREAM,
    RecordSpec,
    blob_from_subject,
    blob_subject,
    downlink_subject,
    is_valid_node_id,
    node_from_subject,
    record_problem,
    uplink_subject,
)
from ._nats import ACCESS_BUCKET, ACCESS_KEY, ACCOUNT, RELOAD_GAP_S, RELOADS, NatsUser, consumer_request_subject, department_consumer, department_inbox_prefix, downlink_consumer, inbox_prefix, is_user_nkey, nats_servers, node_permissions, render_accounts, user_nkey_from_seed, user_seed_from_raw
from ._pacing import MAX_SEND_BYTES, LinkMeter
from ._status import HUB_REPLY_FIELDS, MAX_STATUS_BYTES, NODE_STATUS_FIELDS, open_status, seal_status, status_subject
from ._sender import seal_next, seal_within
from ._time import format_time, parse_time
from ._signing import batch_hash, open_batch, sign_batch, verify_wire

__all__ = [
    "COMPRESSION", "MAX_BODY_BYTES", "compress_body", "inflate_body", "LinkMeter", "MAX_SEND_BYTES", "seal_within",
    "HUB_REPLY_FIELDS", "MAX_STATUS_BYTES", "NODE_STATUS_FIELDS", "open_status", "seal_status", "status_subject",
    "FINGERPRINT_PATTERN", "ca_fingerprint",
    "APPLICATION_ACCEPTED", "APPLICATION_DISPATCHED", "APPLICATION_NOT_ACCEPTED", "APPLICATION_PICKED_UP",
    "APPLICATION_RECEIVED", "APPLICATION_WITHDRAWN", "CATALOG_VERSION", "COMPLAINT_FILED", "DECISION_MADE",
    "DEPARTMENT_STREAM", "DOWNLINK_ACK_WAIT_S", "DOWNLINK_STREAM", "department_subject", "EVALUATION_GIVEN", "FEE_COLLECTED", "FEE_REFUNDED", "MATERIALS_ATTACHED", "MATERIAL_RECEIVED", "NODE_HEARTBEAT",
    "NODE_KEY_ACCEPTED", "NODE_KEY_ROTATED", "NODE_REVOKED", "RECORD_SPECS", "MAX_RECORD_BYTES", "record_size", "batch_message_id", "RESEND_REQUEST", "RESULT_ISSUED", "SUPPLEMENT_PROVIDED", "SUPPLEMENT_REQUESTED",
    "UPLINK_STREAM", "RecordSpec", "record_problem", "BLOB_OFFSET_HEADER", "SENT_AT_HEADER", "SEQ_HEADER", "BLOB_SIZE_HEADER", "BLOB_STREAM",
    "MAX_BLOB_BYTES", "MAX_FEN", "blob_from_subject", "blob_subject", "LICENCE_PREFIX", "open_licence", "seal_licence", "DAILY_CLOSED", "FEE_REMITTED", "FEE_VOIDED", "DECISION_DELEGATED",
    "GENESIS", "GENESIS_HEAD", "MAX_BATCH_BYTES", "MAX_RECORDS_PER_BATCH", "PROTOCOL_VERSION",
    "Accepted", "BadSignature", "Batch", "ChainPos", "Direction", "Duplicate", "Fork", "Gap",
    "IngestCursor", "LocalProtocolError", "Malformed", "Record", "Rejected", "RemoteProtocolError",
    "SyncError", "TooLarge", "UNKNOWN_KIND", "UnencodableValue", "UnsupportedVersion", "Verdict",
    "batch_hash", "canonical_bytes", "format_time", "parse_time", "decode_body", "downlink_subject", "encode_body",
    "is_valid_node_id", "node_from_subject", "open_batch", "seal_next", "sign_batch",
    "signing_key_from_text", "signing_key_to_text", "uplink_subject",
    "verify_key_from_text", "verify_key_to_text", "verify_wire",
    "FEED_KEY_HEADER", "FEED_SIGNATURE_HEADER", "sign_feed", "verify_feed",
    "ACCESS_BUCKET", "ACCESS_KEY", "ACCOUNT", "RELOADS", "RELOAD_GAP_S", "NatsUser", "consumer_request_subject", "department_consumer", "department_inbox_prefix", "downlink_consumer", "inbox_prefix", "is_user_nkey", "nats_servers", "node_permissions", "render_accounts", "user_nkey_from_seed", "user_seed_from_raw",
]
