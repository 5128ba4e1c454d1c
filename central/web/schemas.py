"""What the hub's API takes and gives: request structs (decoded strictly, every string and list
bounded: weblayer.decoding) and response structs, whose fields are the allow-list of what leaves
the hub through its API. A case's resident ID is masked; the deciding clerk asks for the full
number on its own route, and that view is logged (approval.reveal_id_number)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import msgspec

from weblayer.decoding import Body, Items, Line, Text
from weblayer.display import mask_id

from ..models import Application


class DecisionIn(Body):
    decision: Literal["approve", "deny"]
    reason: Text = ""


class SupplementIn(Body):
    missing: Items


class EnrolmentCodeIn(Body):
    node_id: Line
    name: Line
    kind: Literal["village", "township"]
    parent: Line | None = None


class RevokeIn(Body):
    reason: Text


class LinkModeIn(Body):
    metered: bool
    hours: Line = ""  # "HH-HH", Beijing time: when files may go while metered ("" = only on request)


class EnrolmentIn(Body):
    code: Line
    public_key: Line
    nats_public_key: Line


class CalendarIn(Body):
    year: int
    holidays: Items
    workdays: Items = []


class NotAcceptIn(Body):
    reason: Text


class IntegrationIn(Body):
    integration: Line
    nats_public_key: Line | None = None


class RatingIn(Body):
    receipt_no: Line
    id_last4: Line
    level: int  # 1 非常不满意 … 5 非常满意: chosen by the citizen, nothing preset
    comment: Text = ""


class SmsReportIn(msgspec.Struct):
    id: Line  # our key (the Idempotency-Key we sent) or the gateway's id for the message
    status: Literal["delivered", "failed"]
    error: Line = ""
    at: Line = ""


class SmsReportsIn(Body):
    """The SMS gateway's delivery reports (docs/integration.md)."""

    reports: Annotated[list[SmsReportIn], msgspec.Meta(max_length=500)]


class SmsReportsOut(msgspec.Struct):
    recorded: int


class AnswerIn(Body):
    answer: Text


class FollowUpIn(Body):
    follow_up: Text


class PostCheckIn(Body):
    outcome: Line  # verified | false (承诺不实: the decision is revoked)
    reason: Text = ""


# ---- responses ---------------------------------------------------------------------------------


class LoginOut(msgspec.Struct):
    token: str  # send as Authorization: Bearer <token>
    username: str
    display_name: str
    role: str  # operator, clerk
    department: str | None


class HealthOut(msgspec.Struct):
    status: str
    nats_connected: bool


class ReadyOut(msgspec.Struct):
    status: str  # ready
    database: str  # ok
    nats: str  # connected | offline (a point works offline: it is ready all the same)


class ApplicationOut(msgspec.Struct):
    """A case as the API shows it: these fields and no others, the resident ID masked."""

    id: str
    node_id: str
    receipt_no: str
    item_code: str
    item_name: str
    department: str
    applicant_name: str
    applicant_id_number: str  # masked: GET .../id-number for the deciding clerk, logged
    applicant_phone: str
    proxy_agent: str
    materials_checked: list[str]
    supplement: list[str]  # what the clerk asked for, while status is supplement_requested
    status: str
    submitted_at: str
    received_at: str
    accepted_at: str | None
    accepted_by: str | None
    decided_at: str | None
    decided_by: str | None
    decision_reason: str
    outcome: str
    decided_locally: bool
    delivered_at: str | None
    supplement_rounds: int
    handover: str
    handed_to_applicant: bool
    deemed_accepted: bool  # 视为受理: the pre-review ran out (行政许可法 第三十二条); accepted_at is the materials' arrival


def application_out(app: Application) -> ApplicationOut:
    row = app.model_dump()
    return msgspec.convert(
        row
        | {
            "applicant_id_number": mask_id(app.applicant_id_number),
            "materials_checked": json.loads(app.materials_checked or "[]"),
            "supplement": json.loads(app.supplement_json or "[]"),
        },
        ApplicationOut,
    )


class DeadlineOut(msgspec.Struct):
    due: str  # a date
    estimated: bool  # the year's official holiday arrangement is not known: statutory holidays estimated
    remaining_working_days: int
    card: str  # "", yellow, red
    suspended: bool = False  # the clock stands still today (补正, 听证 …): no card


def deadline_out(d: Any) -> DeadlineOut | None:
    if d is None:
        return None
    return DeadlineOut(due=d.due.isoformat(), estimated=d.estimated, remaining_working_days=d.remaining, card=d.card, suspended=d.suspended)


class TaskOut(msgspec.Struct):
    application_id: str
    department: str
    status: str
    decided_at: str | None
    decided_by: str | None
    reason: str
    department_name: str | None = None
    stage: int = 0  # which of the case's stages (central/stages.py) the task belongs to
    stage_name: str | None = None


class QueueEntryOut(ApplicationOut):
    deadline: DeadlineOut | None
    pre_review_deadline: DeadlineOut | None
    task: TaskOut
    statutory_deadline: DeadlineOut | None = None
    stage_deadline: DeadlineOut | None = None
    limit_days: int = 0  # promised working days (frozen at 受理)
    statutory_days: int = 0
    suspended: str = ""  # what the case waits for while its clock stands still


class MaterialOut(msgspec.Struct):
    material: str
    sha256: str
    size: int
    media_type: str
    filename: str
    arrived: bool
    received_bytes: int


class LicenceUsedOut(msgspec.Struct):
    material: str
    licence_no: str
    verified: bool
    application_id: str | None


class FormFieldOut(msgspec.Struct):
    name: str
    label: str
    type: str  # sync_protocol FIELD_TYPES; money is fen, people's rows carry an age and a masked id_number
    value: Any  # "" when left empty


class FormHintOut(msgspec.Struct):
    label: str
    met: bool | None  # None: cannot be computed from what the form holds
    detail: str


class FormOut(msgspec.Struct):
    """The item's application form as the point filled it in; hints for the clerk, not decisions."""

    fields: list[FormFieldOut]
    hints: list[FormHintOut]
    problem: str  # why the form fails the catalog version the point ran, or ""


class SharedMaterialOut(msgspec.Struct):
    """A shared material as the data-sharing service answered (central/sharing.py)."""

    material: str
    state: str  # found | none (the service holds no record) | unavailable (not reachable: asked again next time)
    source: str
    reference: str
    fields: dict[str, str]
    fetched_at: str


class PostCheckOut(msgspec.Struct):
    """事后核查 of a case decided on the applicant's commitment (告知承诺制, central/commitments.py)."""

    application_id: str
    receipt_no: str
    item_name: str
    replaced: list[str]
    due_at: str
    overdue: bool
    state: str  # pending | verified | false
    checked_by: str | None = None
    checked_at: str | None = None
    reason: str = ""


class CommitmentOut(msgspec.Struct):
    """承诺公示: a commitment as published (the applicant's name partly hidden; no ID)."""

    receipt_no: str
    item_name: str
    applicant: str
    committed_on: str
    commitment: str
    replaces: list[str]
    post_check: str


class ClocksOut(msgspec.Struct):
    """A case's time limits (central/clocks.py; docs/operations.md, "Time limits")."""

    limit_days: int  # promised (承诺) working days, frozen at 受理 (before it: the catalog's now)
    statutory_days: int  # the statutory (法定) limit
    expected: str  # the promised completion date; before 受理 the latest it can be
    pre_review: DeadlineOut | None  # 2 working days for 受理, from the latest arrival of the materials
    decision: DeadlineOut | None  # the promised limit from 受理, suspended days not counted; null before 受理
    statutory: DeadlineOut | None
    stage: DeadlineOut | None  # the current stage's own limit, where it has one
    suspended: str  # what the case waits for now ("" when its clock runs)


class SuspensionOut(msgspec.Struct):
    """A time limit suspended: 补正 (kind supplement) or a special procedure (行政许可法 第四十五条)."""

    kind: str  # supplement, hearing, testing, expert, inspection, publicity
    name: str  # the kind in Chinese
    reason: str
    started_at: str
    started_by: str
    ended_at: str | None
    ended_by: str | None


class SuspensionIn(Body):
    kind: Literal["hearing", "testing", "expert", "inspection", "publicity"]
    reason: Text


def clocks_out(clocks: Any) -> ClocksOut:
    return ClocksOut(
        limit_days=clocks.limit_days,
        statutory_days=clocks.statutory_days,
        expected=clocks.expected.isoformat(),
        pre_review=deadline_out(clocks.pre_review),
        decision=deadline_out(clocks.decision),
        statutory=deadline_out(clocks.statutory),
        stage=deadline_out(clocks.stage),
        suspended=clocks.suspended,
    )


def suspension_out(pause: Any, names: dict[str, str]) -> SuspensionOut:
    return msgspec.convert(pause.model_dump() | {"name": names.get(pause.kind, pause.kind)}, SuspensionOut)


class CardOut(msgspec.Struct):
    """A yellow or red card issued on the case (电子监察, central/cards.py)."""

    department: str  # the responsible one (a county department, or "township")
    clock: str  # pre_review, stage, decision
    stage: int
    colour: str  # yellow, red
    due: str
    rule: str  # the rule that issued it, in words
    issued_at: str


class DocumentOut(msgspec.Struct):
    """A document of record on the case (central/documents.py): ``text`` is it as signed (YWC1),
    verifiable offline with the hub key; the rest says which it is."""

    id: int
    kind: str  # receipt, supplement, acceptance, non_acceptance, decision, service
    number: str
    title: str
    issued_at: str
    text: str


class NotificationOut(msgspec.Struct):
    """An SMS the case's applicant was (or is to be) sent (central/sms.py); the number masked."""

    step: str  # collected, supplement, accepted, not_accepted, decided, ready, dispatched, complaint_answered
    step_label: str
    phone: str
    status: str  # held, queued, sending, sent, delivered, failed, dropped
    status_label: str
    text: str
    attempts: int
    created_at: str
    sent_at: str | None
    delivered_at: str | None
    error: str


class CaseOut(ApplicationOut):
    stage: int  # the stage the case is in (its tasks' ``stage``); the number of stages once decided
    form: FormOut
    materials: list[MaterialOut]
    materials_complete: bool
    tasks: list[TaskOut]
    licences_used: list[LicenceUsedOut]
    shared_materials: list[SharedMaterialOut]
    clocks: ClocksOut | None = None
    suspensions: list[SuspensionOut] = []
    cards: list[CardOut] = []
    documents: list[DocumentOut] = []
    notifications: list[NotificationOut] = []


class IdNumberOut(msgspec.Struct):
    applicant_id_number: str


class OriginalRequestOut(msgspec.Struct):
    sha256: str
    node_id: str
    application_id: str
    material: str
    requested_by: str
    requested_at: str
    state: str  # pending, queued, gone
    answered_at: str | None


class StepOut(msgspec.Struct):
    step: str
    at: str


class ProgressComplaintOut(msgspec.Struct):
    filed_at: str
    first_answer: str  # 初步答复
    answer: str  # 办结答复
    answered_at: str | None


class ProgressOut(msgspec.Struct):
    """What a citizen sees of a case: no name, no ID, no phone."""

    receipt_no: str
    item_name: str
    status: str
    department: str
    service_point: str
    due: str  # the promised completion date; before 受理 the latest it can be
    due_estimated: bool  # counted without the year's official holiday arrangement
    outcome: str
    reason: str  # the reason the law requires for a refusal (行政许可法 第三十八条、第三十二条)
    steps: list[StepOut]
    suspended: str = ""  # what the case waits for while its clock stands still (补正材料, 听证 …)
    complaints: list[ProgressComplaintOut] = []  # the applicant's complaints about the case and the county's answers


class PublicityOut(msgspec.Struct):
    item_code: str
    item_name: str
    department: str
    service_point: str
    result: str
    decided_on: str
    decided_locally: bool


class CatalogOut(msgspec.Struct):
    version: int
    items: list[dict[str, Any]]  # each item as the operator published it (catalog.validate_item)


class KeyOut(msgspec.Struct):
    from_seq: int
    public_key: str


class BatchOut(msgspec.Struct):
    seq: int
    raw: str  # base64


class HistoryOut(msgspec.Struct):
    node_id: str
    direction: str
    last_seq: int
    keys: list[KeyOut]
    batches: list[BatchOut]


class CaOut(msgspec.Struct):
    ca: str  # PEM
    fingerprint: str


class EnrolledOut(msgspec.Struct):
    restore_token: str | None  # a replacement device only: it downloads its history with it
    node_id: str
    name: str
    kind: str
    parent: str | None
    hub_public_key: str
    nats_url: str
    progress_url: str
    nats_ca: str
    catalog: CatalogOut


class LicenceOut(msgspec.Struct):
    licence_no: str
    holder_id: str  # the caller asked by it
    holder_name: str
    item_code: str
    application_id: str
    issued_at: str
    text: str


class DepartmentOut(msgspec.Struct):
    code: str
    name: str
    integration: str
    subject: str | None = None  # with NATS integration: where its cases go (docs/integration.md)
    consumer: str | None = None  # just configured: what its system needs to connect
    inbox_prefix: str | None = None
    nats_url: str | None = None
    hub_public_key: str | None = None


class CalendarOut(msgspec.Struct):
    this_year: int
    missing_years: list[int]
    loaded_years: list[int]
    warning: bool
    year: int | None = None  # just loaded
    days: int | None = None


class CatalogVersionOut(msgspec.Struct):
    version: int
    published_at: str
    published_by: str
    note: str
    items: int
    nodes_running: int


class PublishedOut(msgspec.Struct):
    version: int
    item: dict[str, Any]


class NodeOut(msgspec.Struct):
    id: str
    name: str
    kind: str
    parent: str | None
    public_key: str
    status: str
    enrolled_at: str
    revoked_at: str | None
    up_seq: int
    last_seen_at: str | None
    down_seq: int
    heartbeat_at: str | None
    app_version: str
    catalog_version: int
    outbox_depth: int
    clock_offset_s: int | None
    heartbeat_interval_s: int
    link_kbit_per_s: int
    link_rtt_ms: int
    bytes_up_today: int
    bytes_down_today: int
    files_waiting: int
    file_bytes_waiting: int
    set_aside: int
    needs_upgrade: str
    compression: str
    metered: bool = False
    metered_hours: str = ""


class SlipOut(msgspec.Struct):
    """The enrolment slip the operator hands to the point."""

    code: str
    node_id: str
    expires_at: str
    hub_url: str
    ca_fingerprint: str
    command: str
    replacement: bool = False


class FeeSummaryOut(msgspec.Struct):
    node_id: str
    receipts: int
    voided: int
    collected_fen: int
    refunded_fen: int
    closes: int
    cash_counted_fen: int
    discrepancy_fen: int
    remitted_fen: int
    unremitted_fen: int
    cash_collected_fen: int
    cash_refunded_fen: int
    epay_collected_fen: int
    cash_outstanding_fen: int  # what the point still holds (0 or more)
    cash_to_return_fen: int  # cash it refunded after remitting it: the county returns it, or the next remittance offsets it
    closes_with_discrepancy: int
    all_reached_county: bool


class ComplaintOut(msgspec.Struct):
    complaint_id: str
    node_id: str
    application_id: str | None
    contact: str  # how to reach the complainant
    text: str
    filed_at: str  # at the window, by the point's clock
    answered_at: str | None  # the final answer (办结答复)
    answered_by: str | None
    answer: str
    received_at: str | None = None  # at the hub: the clocks run from here
    department: str | None = None  # whom it is routed to (null: the county's service office, the operators)
    first_answer: str = ""  # 初步答复, due within 24 hours of arrival
    first_answered_at: str | None = None
    first_answered_by: str | None = None
    escalations: int = 0


class EvaluationOut(msgspec.Struct):
    application_id: str
    node_id: str
    level: int
    comment: str
    given_at: str
    followed_up_at: str | None
    followed_up_by: str | None
    follow_up: str
    source: str = "window"  # window (the point's rating screen) or phone (the citizen's own)
    follow_up_due: str | None = None  # a poor one's 整改 deadline (a date)


class ActionOut(msgspec.Struct):
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: str


class AlertOut(msgspec.Struct):
    id: int
    kind: str
    node_id: str | None
    message: str
    created_at: str


class QuarantineOut(msgspec.Struct):
    """A batch or message refused and kept aside (its raw bytes stay in the database)."""

    id: int
    node_id: str | None
    subject: str
    reason: str
    detail: str
    received_at: str
    size: int  # of the raw bytes


class NodeHealthOut(NodeOut, kw_only=True):
    township: str
    silent: bool
    behind: bool
    reasons: list[str]  # why it counts as behind, in Chinese
    quarantined: int
    held: int
    alerts: int
    clock_skewed: bool


class AreaFeesOut(msgspec.Struct):
    cash_collected_fen: int
    cash_refunded_fen: int
    cash_remitted_fen: int
    cash_outstanding_fen: int  # summed per point: one point's refund never hides another's unremitted cash
    cash_to_return_fen: int
    epay_collected_fen: int


class AreaOut(msgspec.Struct):
    """A township's figures, or the county's (definitions: docs/operations.md)."""

    name: str
    cases: dict[str, int]  # by status
    total: int
    concluded: int
    on_time: int
    on_time_rate: float | None
    overdue_open: int
    yellow_open: int
    handed_over: int
    at_most_one_trip: int
    at_most_one_trip_rate: float | None
    zero_trips: int
    zero_trips_rate: float | None
    fees: AreaFeesOut


class LateCaseOut(msgspec.Struct):
    id: str
    receipt_no: str
    item_name: str
    department: str
    node_id: str
    status: str
    card: str  # yellow, red
    due: str
    remaining_working_days: int
    clock: str  # pre_review, decision


class NodeFeesOut(msgspec.Struct):
    node_id: str
    cash_collected_fen: int
    cash_refunded_fen: int
    epay_collected_fen: int
    cash_remitted_fen: int
    cash_outstanding_fen: int
    cash_to_return_fen: int
    closes_with_discrepancy: int
    all_reached_county: bool


class OpenComplaintOut(ComplaintOut):
    overdue: bool = False  # an answer is past its due time (late_stage: first, final)
    late_stage: str = ""
    first_due_at: str = ""  # 24 hours after its arrival at the hub
    final_due: str = ""  # 5 working days after its arrival (a date)


class PoorEvaluationOut(EvaluationOut):
    follow_up_overdue: bool = False


class DashboardOut(msgspec.Struct):
    """The operator's home in figures (definitions: docs/operations.md)."""

    nodes: list[NodeHealthOut]
    nodes_behind: list[str]
    county: AreaOut
    townships: list[AreaOut]
    late_cases: list[LateCaseOut]
    fees: list[NodeFeesOut]
    complaints_open: list[OpenComplaintOut]
    poor_evaluations_open: list[PoorEvaluationOut]
    catalog_version: int
    hub_nats_connected: bool
    complaints_answered: list[OpenComplaintOut] = []  # in the last 30 days: they stay visible


def shaped(kind: type[Any], value: Any) -> Any:
    """``value`` (a model, a dict) as the response struct ``kind``: its fields only."""
    return msgspec.convert(value.model_dump() if hasattr(value, "model_dump") else dict(value), kind)
