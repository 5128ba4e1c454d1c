"""Record kinds, their data fields, and the NATS subjects: the names both ends must agree on.

A record's ``data`` must carry every *required* field of its kind with the listed type; optional
fields may be absent; fields not listed are allowed (and ignored by receivers that do not know
them). A kind not listed here, or a record in the wrong direction, makes the batch invalid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._canonical import canonical_bytes
from ._envelope import MAX_BATCH_BYTES, Direction, Record

# uplink (node -> hub)
APPLICATION_RECEIVED = "application.received"
MATERIALS_ATTACHED = "materials.attached"
FEE_COLLECTED = "fee.collected"
FEE_REFUNDED = "fee.refunded"
FEE_VOIDED = "fee.voided"
DAILY_CLOSED = "fee.daily_closed"
FEE_REMITTED = "fee.remitted"
SUPPLEMENT_PROVIDED = "supplement.provided"
APPLICATION_WITHDRAWN = "application.withdrawn"
APPLICATION_PICKED_UP = "application.picked_up"
APPLICATION_DISPATCHED = "application.dispatched"
DECISION_DELEGATED = "decision.delegated"  # an older township's 即办件 decision; newer ones send stage.decided
STAGE_DECIDED = "stage.decided"  # a township stage of a case, decided at the township node (central/stages.py)
EVALUATION_GIVEN = "evaluation.given"
COMPLAINT_FILED = "complaint.filed"
NODE_HEARTBEAT = "node.heartbeat"
NODE_KEY_ROTATED = "node.key_rotated"  # ends the last batch the old key signs; the next batch uses the new one
# downlink (hub -> node)
APPLICATION_ACCEPTED = "application.accepted"
APPLICATION_NOT_ACCEPTED = "application.not_accepted"
SUPPLEMENT_REQUESTED = "supplement.requested"
DECISION_MADE = "decision.made"
RESULT_ISSUED = "result.issued"
CATALOG_VERSION = "catalog.version"
NODE_REVOKED = "node.revoked"
NODE_KEY_ACCEPTED = "node.key_accepted"  # the hub lets the new NATS identity in: switch to it
MATERIAL_RECEIVED = "material.received"  # the hub holds the verified file: the node may purge its copy
RESEND_REQUEST = "resend.request"
COMMITMENT_MATERIAL = "告知承诺书（申请人签字）"  # 告知承诺制: the signed commitment, a material of its case
DECISION_REVOKED = "decision.revoked"  # 告知承诺制: the commitment was found false; the approval no longer stands
DELEGATION_GRANTED = "delegation.granted"  # the hub delegates on-the-spot results (即办件) to a township's key (_licence.py)
STAGE_ASSIGNED = "stage.assigned"  # a case from a village below it reached a township stage: the township decides it
DOCUMENT_ISSUED = "document.issued"  # a document of record on the case, signed by the hub key (YWC1, _document.py)
COMPLAINT_ANSWERED = "complaint.answered"  # the county's first or final answer to a complaint filed at the point
EVALUATION_RECORDED = "evaluation.recorded"  # the citizen rated the case on their own phone: the county's rating stands
GUIDANCE_CHANGED = "guidance.changed"  # an announcement or FAQ entry the county published, changed or withdrew (central/guidance.py)
APPOINTMENTS_OFFERED = "appointments.offered"  # the point's windows and their slots, for booking (central/appointments.py)
APPOINTMENT_MADE = "appointment.made"  # an appointment the point's agent booked (offline too), from the windows' own share
APPOINTMENT_UPDATED = "appointment.updated"  # the point cancelled one, marked a no-show, or served it (the case it led to)
APPOINTMENT_BOOKED = "appointment.booked"  # a citizen booked on the portal, from the online share of a slot
APPOINTMENT_CANCELLED = "appointment.cancelled"  # the citizen cancelled a portal booking
CONSULTATION_RECORDED = "consultation.recorded"  # 咨询导办 at the window: the question, the answer given, whether a case followed
NOTICE_GIVEN = "notice.given"  # 一次性告知 at the window: what the applicant was told to bring, kept at the county too
CLOCK_SUSPENDED = "clock.suspended"  # a special procedure (听证 …) stops the case's time limit: tell the applicant (行政许可法 第四十五条)
CLOCK_RESUMED = "clock.resumed"  # the special procedure is over: the time limit runs again

UPLINK_STREAM = "YIWANG_UP"
DOWNLINK_STREAM = "YIWANG_DOWN"
BLOB_STREAM = "YIWANG_BLOB"
DEPARTMENT_STREAM = "YIWANG_DEPT"  # hub -> a department's own approval system (docs/integration.md)

# attachments travel outside the batches, in chunks, named by the SHA-256 the signed
# materials.attached record carries; the receiver verifies the assembled bytes against it
MAX_BLOB_BYTES = 20 * 1024 * 1024
# the most any amount of money in a record may be, in fen (10 million yuan): far above any window's
# day, and within PostgreSQL's INTEGER, the hub's columns. Every ``*_fen`` field is checked.
MAX_FEN = 1_000_000_000
BLOB_OFFSET_HEADER = "Yiwang-Offset"
SENT_AT_HEADER = "Yiwang-Sent-At"  # uplink: the node's clock when it published (telemetry, not signed)
# a node's downlink consumer's ack_wait: long enough for a batch to cross a 64 kbit/s link (the hub
# sizes downlink batches for the link the node reports); after a node crash a batch returns this soon
DOWNLINK_ACK_WAIT_S = 60.0
SEQ_HEADER = "Yiwang-Seq"  # uplink: the batch's seq, so the hub can tell a node what its stream holds (not signed)
BLOB_SIZE_HEADER = "Yiwang-Size"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")

NODE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


# the most a sender writes for one record (its data, canonically encoded): checked when the event
# is written, so a committed event always fits a batch (MAX_BATCH_BYTES) and the sealer cannot
# fail on it. Receivers do not refuse a larger record inside a batch that fits: older senders
# had no bound.
MAX_RECORD_BYTES = 16 * 1024
MAX_APPLICATION_BYTES = 64 * 1024  # an application carries its checked materials and e-licences


@dataclass(frozen=True)
class RecordSpec:
    direction: Direction
    required: dict[str, type]
    optional: dict[str, type]
    max_bytes: int = MAX_RECORD_BYTES


def _spec(direction: Direction, required: dict[str, type], optional: dict[str, type] | None = None, max_bytes: int = MAX_RECORD_BYTES) -> RecordSpec:
    return RecordSpec(direction, required, optional or {}, max_bytes)


RECORD_SPECS: dict[str, RecordSpec] = {
    APPLICATION_RECEIVED: _spec(
        "up",
        {
            "application_id": str,
            "receipt_no": str,
            "item_code": str,
            "applicant_name": str,
            "applicant_id_number": str,
            "agent": str,
        },
        {
            "item_name": str,
            "applicant_phone": str,
            "proxy_agent": str,
            "materials_checked": list,
            "licences": list,
            "form": dict,  # the item's application form as filled in (_forms.check_form)
            "catalog_version": int,  # the catalog the node ran: the hub checks the form against that version's
            "accepted_by": str,  # a township window accepted it at intake (the item's accepts: township)
            "commitment": bool,  # 告知承诺制: the applicant's signed commitment replaced the materials the catalog names
            "sms_consent": bool,  # the applicant agreed to be told of each step by SMS at applicant_phone (the hub sends them)
            "home_visit": str,  # 上门办理: taken in at the citizen's home, there (the agent: ``agent``); items the catalog marks home_visit
        },
        max_bytes=MAX_APPLICATION_BYTES,
    ),
    MATERIALS_ATTACHED: _spec("up", {"application_id": str, "material": str, "sha256": str, "size": int, "media_type": str}, {"filename": str}),
    FEE_COLLECTED: _spec("up", {"fee_receipt_no": str, "amount_fen": int, "method": str, "agent": str}, {"application_id": str, "reference": str}),
    FEE_REFUNDED: _spec("up", {"fee_receipt_no": str, "amount_fen": int, "reason": str, "approved_by": str, "agent": str}),
    FEE_VOIDED: _spec("up", {"fee_receipt_no": str, "reason": str, "approved_by": str, "agent": str}),
    DAILY_CLOSED: _spec(
        "up",
        {
            "close_id": str,
            "business_date": str,
            "agent": str,
            "totals_fen": dict,
            "cash_expected_fen": int,
            "cash_counted_fen": int,
            "discrepancy_fen": int,
        },
        {"note": str},
    ),
    FEE_REMITTED: _spec("up", {"remittance_id": str, "amount_fen": int, "close_ids": list, "bank_reference": str, "agent": str}),
    SUPPLEMENT_PROVIDED: _spec("up", {"application_id": str, "materials": list, "agent": str}, {"note": str}),
    APPLICATION_WITHDRAWN: _spec("up", {"application_id": str, "reason": str, "agent": str}),
    APPLICATION_PICKED_UP: _spec(
        "up",
        {"application_id": str, "collector_name": str, "agent": str},
        # signature: the SHA-256 of the collector's on-screen signature (a material of the case);
        # authorisation: "applicant", "proxy" (the intake's 委托代办) or the SHA-256 of the 授权委托书 photographed
        {"collector_id_number": str, "collector_is_applicant": bool, "signature": str, "authorisation": str},
    ),
    DECISION_DELEGATED: _spec("up", {"application_id": str, "decision": str, "decided_by": str, "decided_at": str}, {"reason": str}),
    STAGE_DECIDED: _spec(
        "up",
        {"application_id": str, "stage": int, "decision": str, "decided_by": str, "decided_at": str},
        {"reason": str, "licence": str},  # licence: the result issued on the spot under the hub's delegation (YWL2)
    ),
    APPLICATION_DISPATCHED: _spec("up", {"application_id": str, "courier": str, "tracking_no": str, "agent": str}),
    EVALUATION_GIVEN: _spec("up", {"application_id": str, "level": int}, {"comment": str}),
    COMPLAINT_FILED: _spec("up", {"complaint_id": str, "text": str}, {"application_id": str, "contact": str}),
    NODE_HEARTBEAT: _spec("up", {"app_version": str, "catalog_version": int, "outbox_depth": int, "clock": str}),
    APPLICATION_ACCEPTED: _spec("down", {"application_id": str, "by": str, "at": str}),
    APPLICATION_NOT_ACCEPTED: _spec("down", {"application_id": str, "reason": str, "by": str, "at": str}),
    SUPPLEMENT_REQUESTED: _spec("down", {"application_id": str, "missing": list, "by": str, "at": str}),
    DECISION_MADE: _spec("down", {"application_id": str, "decision": str, "decided_by": str, "decided_at": str}, {"reason": str}),
    RESULT_ISSUED: _spec("down", {"application_id": str, "licence_no": str, "licence": str}),
    CATALOG_VERSION: _spec("down", {"version": int, "items": list}, max_bytes=MAX_BATCH_BYTES // 2),  # the whole catalog
    NODE_REVOKED: _spec("down", {"node_id": str, "at": str, "reason": str}),
    NODE_KEY_ROTATED: _spec("up", {"public_key": str, "nats_public_key": str}),
    NODE_KEY_ACCEPTED: _spec("down", {"public_key": str, "nats_public_key": str, "from_seq": int, "old_key_until": str}),
    MATERIAL_RECEIVED: _spec("down", {"sha256": str, "size": int, "received_at": str}),
    RESEND_REQUEST: _spec("down", {"from_seq": int}),
    DELEGATION_GRANTED: _spec("down", {"certificate": str}),
    DECISION_REVOKED: _spec("down", {"application_id": str, "reason": str, "by": str, "at": str}),
    DOCUMENT_ISSUED: _spec("down", {"application_id": str, "kind": str, "number": str, "text": str}),
    COMPLAINT_ANSWERED: _spec("down", {"complaint_id": str, "stage": str, "answer": str, "by": str, "at": str}),
    EVALUATION_RECORDED: _spec("down", {"application_id": str, "level": int, "comment": str, "source": str, "at": str}),
    CONSULTATION_RECORDED: _spec(
        "up", {"consultation_id": str, "question": str, "answer": str, "case_followed": bool, "agent": str}, {"item_code": str, "application_id": str}
    ),
    APPOINTMENTS_OFFERED: _spec("up", {"windows": list, "days_ahead": int}),
    APPOINTMENT_MADE: _spec(
        "up", {"appointment_id": str, "window": str, "day": str, "time": str, "name": str, "phone": str, "agent": str}, {"item_code": str}
    ),
    APPOINTMENT_UPDATED: _spec("up", {"appointment_id": str, "status": str, "agent": str}, {"application_id": str}),
    APPOINTMENT_BOOKED: _spec(
        "down", {"appointment_id": str, "window": str, "day": str, "time": str, "name": str, "phone": str, "at": str}, {"item_code": str}
    ),
    APPOINTMENT_CANCELLED: _spec("down", {"appointment_id": str, "at": str}),
    GUIDANCE_CHANGED: _spec("down", {"kind": str, "id": int, "title": str, "body": str, "at": str, "withdrawn": bool}, {"item_code": str}),
    NOTICE_GIVEN: _spec(
        "up", {"notice_no": str, "item_code": str, "item_name": str, "applicant_name": str, "applicant_id_number": str, "missing": list, "agent": str}
    ),
    CLOCK_SUSPENDED: _spec("down", {"application_id": str, "kind": str, "name": str, "reason": str, "at": str, "by": str}),
    CLOCK_RESUMED: _spec("down", {"application_id": str, "kind": str, "name": str, "at": str}),
    STAGE_ASSIGNED: _spec(
        "down",
        {
            "application_id": str,
            "receipt_no": str,
            "item_code": str,
            "item_name": str,
            "stage": int,
            "stage_name": str,
            "final": bool,
            "applicant_name": str,
            "applicant_id_number": str,
            "submitted_at": str,
        },
        {"applicant_phone": str, "proxy_agent": str, "materials_checked": list, "materials": list, "form": dict, "from_node": str},
        max_bytes=MAX_APPLICATION_BYTES + MAX_RECORD_BYTES,  # an application as received, and what the stage adds
    ),
}


def record_problem(record: Record, direction: Direction) -> str | None:
    """Why ``record`` breaks the contract for ``direction``, or None if it is well-formed."""
    spec = RECORD_SPECS.get(record.kind)
    if spec is None:
        return f"unknown record kind {record.kind!r}"
    if spec.direction != direction:
        return f"{record.kind} is a {spec.direction}link record, not {direction}link"
    for fields, required in ((spec.required, True), (spec.optional, False)):
        for name, kind in fields.items():
            value: Any = record.data.get(name)
            if value is None:
                if required:
                    return f"{record.kind} record {record.id} lacks {name!r}"
                continue
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):  # bool is an int in Python, not in JSON
                return f"{record.kind} record {record.id}: {name!r} must be {kind.__name__}"
            if name.endswith("_fen") and not all(
                isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_FEN for v in (value.values() if isinstance(value, dict) else [value])
            ):
                return f"{record.kind} record {record.id}: {name!r} must be whole fen of at most {MAX_FEN}"
    return None


def record_size(kind: str, data: dict[str, Any]) -> tuple[int, int]:
    """(bytes, the most its kind may have) of a record's data, canonically encoded; raises
    UnencodableValue for what no batch can carry (a float, a non-JSON type)."""
    spec = RECORD_SPECS.get(kind)
    return len(canonical_bytes(data)), spec.max_bytes if spec else MAX_RECORD_BYTES


def batch_message_id(batch_hash: str, resends: int) -> str:
    """A batch's Nats-Msg-Id: its hash; a resend gets ``<hash>.<n>`` so JetStream's duplicate
    window does not drop it as a copy of a message the stream has lost (the receiver's cursor
    drops any copy that does arrive twice). Uplink and downlink alike."""
    return batch_hash if not resends else f"{batch_hash}.{resends}"


def is_valid_node_id(node_id: str) -> bool:
    """Node ids are used as NATS subject tokens: lower-case ASCII, digits and '-' only."""
    return bool(NODE_ID_PATTERN.match(node_id))


def uplink_subject(node_id: str) -> str:
    return f"yiwang.up.{node_id}"


def downlink_subject(node_id: str) -> str:
    return f"yiwang.down.{node_id}"


def department_subject(department: str) -> str:
    return f"yiwang.dept.{department}.cases"


def blob_subject(node_id: str, sha256: str) -> str:
    return f"yiwang.blob.{node_id}.{sha256}"


def blob_from_subject(subject: str) -> tuple[str, str] | None:
    """(node id, sha256) of a chunk's subject, or None if it is not one of ours."""
    parts = subject.split(".")
    if len(parts) == 4 and parts[:2] == ["yiwang", "blob"] and is_valid_node_id(parts[2]) and SHA256_PATTERN.match(parts[3]):
        return parts[2], parts[3]
    return None


def node_from_subject(subject: str) -> str | None:
    """The node id a message's subject names, or None if it is not one of ours."""
    parts = subject.split(".")
    if len(parts) == 3 and parts[0] == "yiwang" and parts[1] in ("up", "down") and is_valid_node_id(parts[2]):
        return parts[2]
    return None
