"""The hub's tables. Request/response shapes live in web/, not here."""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from .clock import utcnow


class Department(SQLModel, table=True):
    code: str = Field(primary_key=True)
    name: str
    # "" = clerks decide in yiwang; "nats" = the department's own system receives its cases on
    # yiwang.dept.<code>.cases and posts decisions back through the API (docs/integration.md)
    integration: str = ""


class CatalogItem(SQLModel, table=True):
    code: str = Field(primary_key=True)
    name: str
    department: str = Field(foreign_key="department.code")
    time_limit_days: int
    fee_fen: int = 0
    detail_json: str = "{}"  # the full item as published to nodes


class User(SQLModel, table=True):
    username: str = Field(primary_key=True)
    display_name: str
    role: str  # "operator" | "clerk"
    department: str | None = Field(default=None, foreign_key="department.code")
    password_hash: str
    disabled_at: str | None = None  # 停用: cannot log in; kept for the action log's names (central/accounts.py)


class LoginSession(SQLModel, table=True):
    token_hash: str = Field(primary_key=True)
    username: str = Field(foreign_key="user.username")
    expires_at: str


class Node(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    kind: str  # "village" | "township"
    parent: str | None = None
    public_key: str
    status: str = "enrolled"  # "enrolled" | "revoked"
    enrolled_at: str
    revoked_at: str | None = None
    up_seq: int = 0
    up_head: str = "0" * 64
    last_seen_at: str | None = None
    down_seq: int = 0
    down_head: str = "0" * 64
    # after `yiwang hub restore`: the point may hold downlink batches this database lost, so none is
    # sealed for it until its status says where its chain stands (central/linkstatus.py, adopt_down_head)
    down_resync: bool = False
    # from the node's last node.heartbeat
    heartbeat_at: str | None = None
    app_version: str = ""
    catalog_version: int = 0
    outbox_depth: int = 0
    clock_offset_s: int | None = None  # node clock minus hub clock when the heartbeat arrived
    # from the node's last status (linkstatus.py): kept in place, not as history
    heartbeat_interval_s: int = 0  # 0: an older node that never said (silent after YIWANG_SILENT_MINUTES)
    link_kbit_per_s: int = 0  # throughput as the node measured it; 0 = not yet
    link_rtt_ms: int = 0
    bytes_up_today: int = 0  # what the node put on its link today (UTC), by its own count
    bytes_down_today: int = 0
    files_waiting: int = 0
    file_bytes_waiting: int = 0
    set_aside: int = 0  # events the node could not send and set aside (edge_node link.seal_pending)
    needs_upgrade: str = ""  # the downlink record the node is too old for, as it said; "" = none
    compression: str = ""  # the body encoding the node inflates ("YWZ1"), "" for plain only
    # the operator's settings for the point's link
    metered: bool = False  # files only in metered_hours (or on request); records always
    metered_hours: str = ""  # "HH-HH", Beijing time, e.g. "12-14"


class EnrolmentCode(SQLModel, table=True):
    code_hash: str = Field(primary_key=True)
    node_id: str
    name: str
    kind: str
    parent: str | None = None
    created_at: str
    expires_at: str
    used_at: str | None = None
    replacement: bool = False  # new hardware for an enrolled point: continue its chain


class UplinkBatch(SQLModel, table=True):
    """Every applied uplink batch, raw: the audit trail."""

    node_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    hash: str
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: str


class Quarantine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    node_id: str | None = None
    subject: str
    reason: str
    detail: str = ""
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: str


class Alert(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str
    node_id: str | None = None
    message: str
    created_at: str


class Application(SQLModel, table=True):
    id: str = Field(primary_key=True)  # UUID minted by the node
    node_id: str = Field(foreign_key="node.id", index=True)
    receipt_no: str = Field(index=True)
    item_code: str
    item_name: str
    department: str = Field(index=True)
    applicant_name: str
    applicant_id_number: str
    applicant_phone: str = ""
    proxy_agent: str = ""
    materials_checked: str = "[]"  # JSON list: originals the agent checked at the window
    supplement_json: str = "[]"  # the last complete list of what the clerk asked to be supplied
    licences_json: str = "[]"  # [{material, licence_no}]: e-licences the applicant used instead of paper
    # central/procedure.py; indexed: the hub asks every minute for cases awaiting 受理 (clocks.deem_overdue)
    status: str = Field(default="received", index=True)
    submitted_at: str
    received_at: str
    # when the case last changed (set by SQLAlchemy on every update): the BI feed's cursor (central/exports.py)
    updated_at: str = Field(default_factory=utcnow, index=True, sa_column_kwargs={"onupdate": utcnow})
    accepted_at: str | None = None
    accepted_by: str | None = None
    decided_at: str | None = None
    decided_by: str | None = None
    decision_reason: str = ""  # also the reason a case was not accepted (不予受理说明原因)
    outcome: str = ""  # "" | approved | denied | not_accepted — kept after the case is handed over
    decided_locally: bool = False  # 即办件 decided at a township node under delegation
    delivered_at: str | None = None
    # for 最多跑一次 / 零跑动: how the case went at the window
    supplement_rounds: int = 0
    handover: str = ""  # "" | "pickup" | "courier"
    handed_to_applicant: bool = False
    form_json: str = "{}"  # the item's application form as filled in at the point (sync_protocol check_form)
    form_version: int = 0  # the catalog version whose form it is (0: the point did not say)
    intake_problem: str = ""  # why the form fails the catalog version the point ran, if it does: the clerk decides
    stages_json: str = "[]"  # the item's procedure as it was when the case arrived ([] before staged procedures: one stage)
    stage: int = 0  # the stage the case is in (central/stages.py); len(stages) once decided
    # indexed: the hub's downlink loop asks every 2 s for commitment cases not yet decided (central/commitments.py)
    commitment: bool = Field(
        default=False, index=True
    )  # 告知承诺制: the applicant's signed commitment replaced named materials (central/commitments.py)
    # time limits (central/clocks.py): the pre-review runs from materials_at (the arrival of the
    # complete materials; None: received_at); the limits are frozen at 受理; a stage's own clock
    # runs from stage_started_at
    materials_at: str | None = None
    limit_days: int = 0  # promised working days, frozen at acceptance (0: not yet)
    statutory_days: int = 0
    deemed_accepted: bool = False  # 视为受理: the pre-review ran out (行政许可法 第三十二条)
    stage_started_at: str | None = None
    sms_consent: bool = False  # the applicant agreed at the window to SMS of each step at applicant_phone (central/sms.py)
    home_visit: str = ""  # 上门办理: where the point's agent took it in at the citizen's home ("" : at the window)


class ClockPause(SQLModel, table=True):
    """A case's time limit suspended (central/clocks.py): 补正, or a special procedure (听证 …)."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    kind: str  # clocks.PAUSES
    reason: str = ""
    started_at: str
    started_by: str
    ended_at: str | None = None
    ended_by: str | None = None


class Card(SQLModel, table=True):
    """A yellow or red card (电子监察, central/cards.py): issued once per case, clock, stage,
    responsible department and colour, with the time and the rule that issued it."""

    __table_args__ = (UniqueConstraint("application_id", "clock", "stage", "department", "colour"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    department: str = Field(index=True)  # the responsible one: a county department, or "township"
    clock: str  # pre_review | stage | decision
    stage: int
    colour: str  # yellow | red
    due: str  # the limit's last day (a date)
    rule: str  # why, in words: the limit and what is left or overdue
    issued_at: str = Field(index=True)


class SupervisionOrder(SQLModel, table=True):
    """督办单: a red card's order to the responsible department, which must reply by reply_due;
    an unanswered one escalates (central/cards.py ESCALATION)."""

    id: int | None = Field(default=None, primary_key=True)
    number: str  # 督办〔2026〕第 N 号
    card_id: int = Field(foreign_key="card.id", unique=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    department: str = Field(index=True)
    issued_at: str
    reply_due: str  # a date: 2 working days after issue; moved on at each escalation
    reply: str = ""
    replied_at: str | None = None
    replied_by: str | None = None
    escalations: int = 0  # how many times it went up unanswered
    escalated_at: str | None = None


class Document(SQLModel, table=True):
    """A document of record (central/documents.py): numbered per county, year and kind, signed
    with the hub key (``text``: YWC1, sync_protocol), kept, and sent to the case's point."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    kind: str
    number: str = Field(unique=True)
    title: str
    issued_at: str
    text: str
    code: str = Field(default="", index=True)  # the verification code printed on it (weblayer.display.seal_code)


class DocumentDue(SQLModel, table=True):
    """A document an action calls for, written in the action's transaction; the hub worker, which
    holds the key, makes and signs it (documents.issue_pending) and deletes this row."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(foreign_key="application.id", index=True)
    kind: str
    context_json: str = "{}"  # what the action knew that the case does not keep (the supplement list …)
    created_at: str


class SmsMessage(SQLModel, table=True):
    """An SMS to a citizen (central/sms.py), written in the transaction of the step it tells of;
    the hub worker sends it through the county's gateway (central/sms_gateways.py) and records
    what became of it. ``key`` is unique per step and is the gateway's idempotency key."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # doc:<the document's downlink event> | ready:<case> | dispatched:<case> | complaint:<id>:<first|final>
    application_id: str | None = Field(default=None, index=True)
    node_id: str | None = None
    step: str
    phone: str = Field(index=True)
    params_json: str = "{}"
    text: str
    # held (waits for after_event to reach the point) | queued | sending | sent | delivered | failed | dropped
    status: str = Field(default="queued", index=True)
    after_event: str | None = None  # held: the downlink event the point must have before this is true
    attempts: int = 0
    next_attempt_at: str
    attempted_at: str | None = None  # the last time it was handed to the gateway (the per-number limit counts these)
    provider_id: str = ""
    error: str = ""
    created_at: str
    sent_at: str | None = None
    delivered_at: str | None = None


class Announcement(SQLModel, table=True):
    """通知公告 an operator publishes (central/guidance.py): on the public portal and at every point."""

    id: int | None = Field(default=None, primary_key=True)
    title: str
    body: str
    published_at: str
    published_by: str
    withdrawn_at: str | None = None


class FaqEntry(SQLModel, table=True):
    """常见问题: a question and its answer an operator keeps (central/guidance.py), on the portal
    and at every point, beside its item's guide when it names one."""

    id: int | None = Field(default=None, primary_key=True)
    question: str
    answer: str
    item_code: str = ""  # the catalog item it is about ("" for none)
    updated_at: str
    updated_by: str
    withdrawn_at: str | None = None


class Consultation(SQLModel, table=True):
    """网上咨询 (central/consultations.py): a question asked on the portal, answered by the item's
    department (none: an operator) within ``ANSWER_DAYS`` working days; the asker reads the answer
    with ``token``."""

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(unique=True)
    item_code: str = ""
    department: str | None = Field(default=None, index=True)
    question: str
    phone: str = ""  # to be told by SMS that it was answered ("" : not told)
    asked_at: str
    due_on: str  # a date
    answer: str = ""
    answered_at: str | None = Field(default=None, index=True)
    answered_by: str | None = None
    late_alerted: bool = False


class WindowConsultation(SQLModel, table=True):
    """咨询导办 at a point's window (consultation.recorded): for the figures per point."""

    id: str = Field(primary_key=True)  # <node>-Q…
    node_id: str = Field(index=True)
    item_code: str = ""
    question: str
    answer: str = ""
    case_followed: bool = False
    at: str = Field(index=True)
    agent: str


class PointSchedule(SQLModel, table=True):
    """The appointment windows a point offers (appointments.offered; sync_protocol check_windows)."""

    node_id: str = Field(primary_key=True)
    windows_json: str = "[]"
    days_ahead: int = 14
    updated_at: str


class Appointment(SQLModel, table=True):
    """预约 (central/appointments.py): booked on the portal (``portal-…``, with the citizen's
    ``token``) or by the point (``<node>-A…``); the point serves it, marks a no-show, or it is
    cancelled. ``application_id``: the case it led to."""

    id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    window: str
    day: str = Field(index=True)  # YYYY-MM-DD, Beijing
    time: str  # HH:MM
    item_code: str = ""
    name: str
    phone: str
    source: str  # portal | window
    status: str = "booked"  # booked | cancelled | no_show | served
    token: str = Field(default="", index=True)  # the portal booking's key to its page ("" for the point's)
    # the place of the slot's online share a portal booking holds (None: the point's, or cancelled):
    # unique, so two citizens racing for the last place cannot both have it
    place: int | None = None
    application_id: str | None = None
    created_at: str
    updated_at: str

    __table_args__ = (UniqueConstraint("node_id", "window", "day", "time", "place"),)


class PhoneCode(SQLModel, table=True):
    """A one-time code sent by SMS, proving a citizen holds the number they book with."""

    phone: str = Field(primary_key=True)
    code_hash: str
    sent_at: str
    expires_at: str
    attempts: int = 0


class OneTimeNotice(SQLModel, table=True):
    """一次性告知 given at a point (notice.given): what the applicant was told to bring, kept."""

    notice_no: str = Field(primary_key=True)  # <node>-N000001
    node_id: str = Field(foreign_key="node.id", index=True)
    item_code: str
    item_name: str
    applicant_name: str
    applicant_id_number: str
    missing_json: str
    agent: str
    given_at: str


class Counter(SQLModel, table=True):
    """The last number given per kind and year (督办单, and the documents of record)."""

    kind: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


class ApprovalTask(SQLModel, table=True):
    """One department's part of a case. A case in parallel approval (并联审批) has one task per
    department named by its catalog item and is decided only when every task is."""

    application_id: str = Field(primary_key=True, foreign_key="application.id")
    department: str = Field(primary_key=True, index=True)  # or "township": a stage decided at the case's township node
    # which of the case's stages the task belongs to (a server default: an older migration, _m4, fills this table)
    stage: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    status: str = "pending"  # pending | approved | denied | closed (another department denied)
    decided_at: str | None = None
    decided_by: str | None = None
    reason: str = ""


class DownlinkEvent(SQLModel, table=True):
    """Hub-side outbox: written in the same transaction as the decision it announces."""

    id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    kind: str
    data_json: str
    created_at: str
    batch_seq: int | None = Field(default=None, index=True)


class DownlinkBatch(SQLModel, table=True):
    node_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    hash: str
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: str
    published_at: str | None = None
    resends: int = 0  # republished on the node's request (its Nats-Msg-Id then changes)


class DownlinkReturn(SQLModel, table=True):
    """After a restore: a downlink batch this hub signed and lost, asked back from the point that
    applied it (central/recovery.py). ``joins_at``: the restored database's last batch, where
    the returned chain must end."""

    node_id: str = Field(primary_key=True)
    sha256: str = Field(primary_key=True)
    seq: int
    joins_at: int
    requested_at: str
    returned_at: str | None = None
    head: bool = False  # the point's last batch: the downlink goes on after it once it verifies


class HeldBatch(SQLModel, table=True):
    """A verified batch that arrived ahead of its node's cursor (a gap): kept until the batches
    before it are applied, then applied in order in the same transaction."""

    node_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: str


class ResendRequest(SQLModel, table=True):
    """The last resend request sent to a node, so a burst of gap batches asks only once."""

    node_id: str = Field(primary_key=True)
    from_seq: int
    requested_at: str


class Material(SQLModel, table=True):
    """A material an application references by SHA-256 (from a signed materials.attached record)."""

    application_id: str = Field(primary_key=True)
    sha256: str = Field(primary_key=True)
    material: str = Field(primary_key=True)
    size: int
    media_type: str
    filename: str = ""


class OriginalRequest(SQLModel, table=True):
    """A clerk asked for the photo as taken behind a material (the node sent an optimised copy).
    It rides in the answer to the node's status until the node says it queued the original (it
    arrives as a material of its own, named "…（原图）") or no longer has it."""

    sha256: str = Field(primary_key=True)  # the copy that was sent
    node_id: str = Field(index=True)
    application_id: str
    material: str
    requested_by: str
    requested_at: str
    state: str = "pending"  # "pending" | "queued" | "gone"
    answered_at: str | None = None


class Blob(SQLModel, table=True):
    """A verified attachment file: a row exists once the assembled bytes hashed to sha256
    (``node_id``: the point whose upload completed it). Files on their way are BlobUploads."""

    sha256: str = Field(primary_key=True)
    node_id: str
    size: int
    received_bytes: int = 0
    complete_at: str | None = None


class BlobUpload(SQLModel, table=True):
    """One point's upload of a file the hub does not hold yet. Each point assembles its own copy
    (``parts/<node>/<sha256>``): no point's chunks can stand in for another's, so a point that
    knows a shared form's hash cannot spoil another point's upload of it."""

    sha256: str = Field(primary_key=True)
    node_id: str = Field(primary_key=True)
    size: int
    received_bytes: int = 0
    updated_at: str = ""  # its last chunk: an upload left unfinished this long is dropped (blobs.STALE_UPLOAD)


class BlobChunk(SQLModel, table=True):
    sha256: str = Field(primary_key=True)
    node_id: str = Field(primary_key=True)
    offset: int = Field(primary_key=True)
    length: int


class NatsCredential(SQLModel, table=True):
    """A NATS identity (public nkey) the hub lets into nats-server, and whose subjects it may
    use: a node's (scoped to that node) or a department system's (scoped to its case events).
    Written to the server's accounts file; ``valid_until`` ends a rotated key's overlap."""

    nkey: str = Field(primary_key=True)
    node_id: str | None = Field(default=None, index=True)
    department: str | None = None
    created_at: str
    valid_until: str | None = None


class NodeKey(SQLModel, table=True):
    """Which public key signs a node's uplink from which seq on (a replaced device gets a new key
    that takes over after the last batch of the old one). The audit uses it to re-verify."""

    node_id: str = Field(primary_key=True)
    from_seq: int = Field(primary_key=True)
    public_key: str
    enrolled_at: str


class RestoreToken(SQLModel, table=True):
    """Lets a replacement device download its point's history once, soon after enrolment."""

    token_hash: str = Field(primary_key=True)
    node_id: str
    expires_at: str


class SchemaVersion(SQLModel, table=True):
    id: int = Field(default=1, primary_key=True)
    version: int


class FeeReceipt(SQLModel, table=True):
    """A fee collected at a node, as its fee.* records told the hub (integer fen)."""

    receipt_no: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    application_id: str | None = None
    amount_fen: int
    method: str
    reference: str = ""
    agent: str
    collected_at: str
    status: str = "paid"  # paid | voided | refunded
    refunded_fen: int = 0


class DailyClose(SQLModel, table=True):
    close_id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    agent: str
    business_date: str
    totals_json: str
    cash_expected_fen: int
    cash_counted_fen: int
    discrepancy_fen: int
    note: str = ""
    remittance_id: str | None = None


class Remittance(SQLModel, table=True):
    remittance_id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    amount_fen: int
    close_ids_json: str
    bank_reference: str
    agent: str
    remitted_at: str


class Evaluation(SQLModel, table=True):
    """好差评 given by the citizen after delivery (1 = 非常不满意 … 5 = 非常满意): on the point's
    rating screen or on their own phone. A poor one (≤ 2) must be followed up (差评整改) by
    ``follow_up_due`` and the follow-up recorded (central/supervision.py)."""

    application_id: str = Field(primary_key=True)
    node_id: str = Field(index=True)
    level: int
    comment: str = ""
    given_at: str
    followed_up_at: str | None = None
    followed_up_by: str | None = None
    follow_up: str = ""
    source: str = "window"  # window (the point's rating screen) | phone (the public page)
    follow_up_due: str | None = None  # a date, for a poor one


class Complaint(SQLModel, table=True):
    """A complaint recorded at a node (central/supervision.py): routed to the department
    responsible for its case (none: the county's service office, an operator), first answered
    within 24 hours of its arrival at the hub, then answered in full; both go to the point."""

    complaint_id: str = Field(primary_key=True)  # <node>-T…, or portal:<token> from a citizen's phone
    node_id: str = Field(index=True)  # "": filed on the portal about no case (nothing goes down)
    application_id: str | None = None
    contact: str = ""
    text: str
    filed_at: str  # at the window (the point's clock)
    received_at: str | None = None  # at the hub: the clocks run from here (None: before hub migration 15, filed_at)
    department: str | None = Field(default=None, index=True)  # None: the county's service office (operators)
    first_answer: str = ""
    first_answered_at: str | None = None
    first_answered_by: str | None = None
    answered_at: str | None = None  # the final answer
    answered_by: str | None = None
    answer: str = ""
    escalations: int = 0
    escalated_at: str | None = None


class Licence(SQLModel, table=True):
    """电子证照 library: every result the hub signed, keyed by the holder's ID number / credit code."""

    id: int | None = Field(default=None, primary_key=True)
    licence_no: str = Field(default="", index=True)
    holder_id: str = Field(index=True)
    holder_name: str
    item_code: str
    application_id: str = Field(index=True)
    issued_at: str
    text: str = ""
    revoked_at: str | None = None  # the decision it records was revoked (a commitment found false)


class Delegation(SQLModel, table=True):
    """A delegation the hub signed: a township key may issue the results of its instant items on
    the spot (central/delegation.py). Every one is kept, so a result issued under an earlier one
    (before a key rotation) is still recognised."""

    sha256: str = Field(primary_key=True)  # of the certificate text
    node_id: str = Field(index=True)
    public_key: str
    items_json: str
    valid_from: str
    valid_until: str
    certificate: str
    issued_at: str


class SharedMaterial(SQLModel, table=True):
    """A shared material (数据共享) as the data-sharing service answered for one case (central/sharing.py)."""

    application_id: str = Field(primary_key=True)
    material: str = Field(primary_key=True)
    found: bool
    source: str = ""
    reference: str = ""
    fields_json: str = "{}"
    fetched_at: str


class PostCheck(SQLModel, table=True):
    """事后核查 of a case decided on the applicant's commitment (告知承诺制): due by ``due_at``."""

    application_id: str = Field(primary_key=True)
    department: str = Field(index=True)
    replaced_json: str  # the materials the commitment stood in for: what to check
    due_at: str
    state: str = "pending"  # pending | verified | false
    checked_by: str | None = None
    checked_at: str | None = None
    reason: str = ""


class CalendarDay(SQLModel, table=True):
    """A day an operator loaded for a year the holiday library does not know yet."""

    day: str = Field(primary_key=True)  # YYYY-MM-DD
    workday: bool
    note: str = ""


class NodeHeartbeat(SQLModel, table=True):
    """Recent heartbeats per node, for the backlog trend on the dashboard."""

    node_id: str = Field(primary_key=True)
    at: str = Field(primary_key=True)  # the hub's receive time
    outbox_depth: int
    clock_offset_s: int


class CatalogVersion(SQLModel, table=True):
    """Every published catalog: what nodes were sent, by whom, when."""

    version: int = Field(primary_key=True)
    items_json: str
    published_at: str
    published_by: str
    note: str = ""


class AuditEntry(SQLModel, table=True):
    """Who did what at the hub, and when: every operator action and every clerk decision."""

    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(index=True)
    actor: str
    action: str
    target: str = ""
    detail: str = ""
    actor_name: str = ""  # the person's name when it was done (a later rename does not rewrite the log)


class DepartmentEvent(SQLModel, table=True):
    """Outbox to departments with their own approval system: written in the transaction that
    routes or accepts a case, published to yiwang.dept.<code>.cases by the sync worker."""

    id: str = Field(primary_key=True)
    department: str = Field(index=True)
    event: str  # case.routed | case.accepted | case.concluded
    application_id: str
    payload_json: str
    created_at: str
    published_at: str | None = Field(default=None, index=True)
