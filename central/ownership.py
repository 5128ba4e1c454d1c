"""Which point a record may touch: its own objects only.

A point holds a valid key, and a stolen laptop or a dishonest agent holds one too. So the hub
never takes a record's word for whose object it names:
- An id a point creates is namespaced by that point: ``<node>-`` and then exactly what that
  point's node software makes (``NAMESPACED``). Node ids are lower case, every suffix here starts
  with a digit or an upper-case letter and has no ``-`` where a node id could continue, so no
  point can write an id inside another point's namespace (``qing`` cannot make
  ``qing-shan-F000001``).
- A record that names an existing object (``REFERENCES``) is applied only if that object belongs
  to the sender.
- An id the hub already holds, from the same point with different content, is a conflict (a
  replacement device that restarted its counters, or a forgery): never skipped in silence.
Each breach raises ``Violation``: ingest quarantines the whole batch with an alert against its
sender, and nothing of anyone else's changes (docs/security.md).
"""

from __future__ import annotations

import re
from typing import Any, cast

from sqlmodel import Session

from sync_protocol import (
    APPLICATION_DISPATCHED,
    APPLICATION_PICKED_UP,
    APPLICATION_RECEIVED,
    APPLICATION_WITHDRAWN,
    APPOINTMENT_MADE,
    APPOINTMENT_UPDATED,
    COMPLAINT_FILED,
    CONSULTATION_RECORDED,
    DAILY_CLOSED,
    DECISION_DELEGATED,
    EVALUATION_GIVEN,
    FEE_COLLECTED,
    FEE_REFUNDED,
    FEE_REMITTED,
    FEE_VOIDED,
    MATERIALS_ATTACHED,
    NOTICE_GIVEN,
    SUPPLEMENT_PROVIDED,
    Record,
)

from .models import Application, Appointment, Complaint, DailyClose, FeeReceipt, OneTimeNotice, Remittance, WindowConsultation

Owned = Application | Appointment | Complaint | DailyClose | FeeReceipt | OneTimeNotice | Remittance | WindowConsultation  # the objects a point owns


class Violation(ValueError):
    """A record that would touch another point's data, or contradict what the hub holds."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # "not_owner" or "conflict": the quarantine reason and alert kind


# kind -> (the field holding the id it creates, what follows "<node>-", the model keyed by it,
# the fields that must agree when the same id arrives again)
NAMESPACED: dict[str, tuple[str, re.Pattern[str], type[Owned], dict[str, str]]] = {
    APPLICATION_RECEIVED: ("receipt_no", re.compile(r"\d+"), Application, {}),  # keyed by application_id: see check_application
    FEE_COLLECTED: ("fee_receipt_no", re.compile(r"F\d+"), FeeReceipt, {"amount_fen": "amount_fen", "method": "method"}),
    DAILY_CLOSED: ("close_id", re.compile(r"C\d{8}-.+-\d+"), DailyClose, {"business_date": "business_date", "cash_counted_fen": "cash_counted_fen"}),
    FEE_REMITTED: ("remittance_id", re.compile(r"R\d+"), Remittance, {"amount_fen": "amount_fen", "bank_reference": "bank_reference"}),
    COMPLAINT_FILED: ("complaint_id", re.compile(r"T\d+"), Complaint, {"text": "text"}),
    NOTICE_GIVEN: ("notice_no", re.compile(r"N\d+"), OneTimeNotice, {"applicant_id_number": "applicant_id_number"}),
    APPOINTMENT_MADE: ("appointment_id", re.compile(r"A\d+"), Appointment, {"day": "day", "time": "time"}),
    CONSULTATION_RECORDED: ("consultation_id", re.compile(r"Q\d+"), WindowConsultation, {"question": "question"}),
}

# kind -> the fields naming objects another record created: (field, model); a list field names several
REFERENCES: dict[str, tuple[tuple[str, type[Owned]], ...]] = {
    MATERIALS_ATTACHED: (("application_id", Application),),
    SUPPLEMENT_PROVIDED: (("application_id", Application),),
    APPLICATION_WITHDRAWN: (("application_id", Application),),
    APPLICATION_PICKED_UP: (("application_id", Application),),
    APPLICATION_DISPATCHED: (("application_id", Application),),
    DECISION_DELEGATED: (("application_id", Application),),
    EVALUATION_GIVEN: (("application_id", Application),),
    COMPLAINT_FILED: (("application_id", Application),),
    FEE_COLLECTED: (("application_id", Application),),
    FEE_VOIDED: (("fee_receipt_no", FeeReceipt),),
    FEE_REFUNDED: (("fee_receipt_no", FeeReceipt),),
    FEE_REMITTED: (("close_ids", DailyClose),),
    APPOINTMENT_UPDATED: (("appointment_id", Appointment), ("application_id", Application)),
    CONSULTATION_RECORDED: (("application_id", Application),),
}


def in_namespace(node_id: str, value: str, suffix: re.Pattern[str]) -> bool:
    prefix = f"{node_id}-"
    return value.startswith(prefix) and suffix.fullmatch(value[len(prefix) :]) is not None


def check(session: Session, node_id: str, record: Record) -> bool:
    """Raise Violation if ``record`` reaches outside ``node_id``'s own data. Returns False when it
    creates an object the hub already holds with the same content (apply nothing: idempotent)."""
    data = record.data
    for field, model in REFERENCES.get(record.kind, ()):
        values = data.get(field)
        for value in values if isinstance(values, list) else [values]:
            if value is None:
                continue
            found = cast("Owned | None", session.get(model, value))  # mypy joins a union of models to SQLModel
            if found is not None and found.node_id != node_id:
                raise Violation("not_owner", f"{record.kind} {record.id}: {field} {value!r} belongs to another point")
    spec = NAMESPACED.get(record.kind)
    if spec is None or record.kind == APPLICATION_RECEIVED:
        return True
    field, suffix, model, same = spec
    value = data[field]
    if not in_namespace(node_id, value, suffix):
        raise Violation("not_owner", f"{record.kind} {record.id}: {field} {value!r} is not in this point's namespace ({node_id}-…)")
    existing = cast("Owned | None", session.get(model, value))
    if existing is None:
        return True
    _same_or_conflict(record, existing, same, node_id)
    return False


def check_application(node_id: str, record: Record, existing: dict[str, Any] | None) -> bool:
    """The same for an application.received, against the row the hub holds under its id (the
    batch's lookup of all its applications at once, ingest.py). False: already held, the same."""
    data = record.data
    if not in_namespace(node_id, data["receipt_no"], NAMESPACED[APPLICATION_RECEIVED][1]):
        raise Violation("not_owner", f"{record.kind} {record.id}: receipt {data['receipt_no']!r} is not in this point's namespace ({node_id}-…)")
    if existing is None:
        return True
    if existing["node_id"] != node_id:
        raise Violation("not_owner", f"{record.kind} {record.id}: application {data['application_id']!r} belongs to another point")
    for field in ("receipt_no", "applicant_id_number", "item_code"):
        if existing[field] != data[field]:
            raise Violation("conflict", f"{record.kind} {record.id}: application {data['application_id']!r} is held with another {field}")
    return False


def _same_or_conflict(record: Record, existing: Owned, same: dict[str, str], node_id: str) -> None:
    if existing.node_id != node_id:  # cannot happen inside a namespace; never let it through
        raise Violation("not_owner", f"{record.kind} {record.id}: held for another point")
    for field, column in same.items():
        if record.data.get(field) != getattr(existing, column):
            raise Violation(
                "conflict",
                f"{record.kind} {record.id}: {NAMESPACED[record.kind][0]} {record.data[NAMESPACED[record.kind][0]]!r} is held with another {field}",
            )
