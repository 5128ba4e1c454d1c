"""What the node's API takes and gives: request structs (decoded strictly, every string and list
bounded: weblayer.decoding) and response structs, whose fields are the allow-list of what leaves
the node through its API. Every resident ID in a response is masked."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import msgspec

from weblayer.decoding import MAX_ITEMS, Body, Items, Line, Text
from weblayer.display import mask_id

from .. import cases

LICENCE_TEXT = 20_000  # an e-licence's full signed text
Licence = Annotated[str, msgspec.Meta(max_length=LICENCE_TEXT)]
SIGNATURE_B64 = 4 * 1024 * 1024  # a signature drawn on the screen, as base64 PNG


class ApplicationIn(Body):
    item_code: Line
    applicant_name: Line
    applicant_id_number: Line
    applicant_phone: Line = ""
    id_region_confirmed: bool = False  # the agent checked the card: a region code no table lists is then accepted
    by_proxy: bool = False
    sms_consent: bool = False  # the applicant agreed to SMS of each step at applicant_phone (required then)
    appointment_id: Line = ""  # the booked appointment this intake serves (it is marked served with the case)
    home_visit: bool = False  # 上门办理 (items the catalog marks home_visit): taken in at the citizen's home …
    home_visit_place: Line = ""  # … there (required then)
    materials_checked: Items = []
    authorisation_png_base64: Annotated[str, msgspec.Meta(max_length=SIGNATURE_B64)] = ""  # required when by_proxy: the applicant's signature
    payment_method: Line | None = None  # required when the catalog item has a fee
    payment_reference: Line = ""
    # material -> e-licence number this point holds, or a licence's full text
    licences: Annotated[dict[Line, Licence], msgspec.Meta(max_length=MAX_ITEMS)] = {}
    # the item's application form (申请表), field name -> value as the catalog's form defines it
    # (sync_protocol check_form: money in fen, a list of people as objects); checked at once
    form: Annotated[dict[Line, Any], msgspec.Meta(max_length=MAX_ITEMS)] = {}
    # 告知承诺制 (items the catalog marks): the signed commitment replaces the materials it names;
    # its image (a photo of the signed paper, or the signature drawn on screen) is required then
    commitment: bool = False
    commitment_png_base64: Annotated[str, msgspec.Meta(max_length=SIGNATURE_B64)] = ""


class SecondPersonIn(Body):
    reason: Text
    approver: Line
    approver_password: Line
    amount_fen: int | None = None  # refunds only


class CloseIn(Body):
    cash_counted_fen: int
    note: Text = ""


class RemittanceIn(Body):
    close_ids: Items
    amount_fen: int
    bank_reference: Line


class PickupIn(Body):
    collector_name: Line
    collector_id_number: Line = ""
    # 送达回证: the collector's signature drawn on screen, as base64 PNG (required)
    signature_png_base64: Annotated[str, msgspec.Meta(max_length=SIGNATURE_B64)] = ""
    # someone other than the applicant or the case's 代办人: the applicant's signed 授权委托书, a photo as base64
    authorisation_base64: Annotated[str, msgspec.Meta(max_length=SIGNATURE_B64)] = ""


class OnTheSpotIn(Body):
    decision: Line
    reason: Text = ""


class ReviewDecisionIn(Body):
    decision: Line  # approved | denied
    reason: Text = ""


class ReviewOut(msgspec.Struct):
    """A township stage on this township's review list (edge_node/reviews.py). The resident ID is
    shown in full: the township approver decides the case."""

    application_id: str
    stage: int
    stage_name: str
    final: bool
    receipt_no: str
    item_code: str
    item_name: str
    from_node: str
    applicant_name: str
    applicant_id_number: str  # masked
    status: str
    form: dict[str, Any]  # household members' IDs masked
    materials_checked: list[str]
    submitted_at: str
    assigned_at: str
    applicant_phone: str | None = None
    proxy_agent: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None


RESIDENT_ID = re.compile(r"^\d{17}[\dXx]$")


def masked_ids(value: Any) -> Any:
    """``value`` (a filled-in form) with every resident ID in it masked, however deep."""
    if isinstance(value, dict):
        return {k: masked_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_ids(v) for v in value]
    return mask_id(value) if isinstance(value, str) and RESIDENT_ID.match(value) else value


def review_out(row: Any) -> ReviewOut:
    """The API masks every resident ID, the applicant's and the household's, like every node answer;
    the township approver reads them in full on the review page, where it decides."""
    form = masked_ids(json.loads(row["form_json"]))
    return shaped(
        ReviewOut,
        dict(row)
        | {
            "final": bool(row["final"]),
            "form": form,
            "materials_checked": json.loads(row["materials_json"]),
            "applicant_id_number": mask_id(row["applicant_id_number"]),
        },
    )


class CountyCaseOut(msgspec.Struct):
    receipt_no: str
    item_code: str
    item_name: str
    status: str
    status_text: str
    submitted_at: str
    point: str
    decided_at: str = ""


class CountyLicenceOut(msgspec.Struct):
    licence_no: str
    item_code: str
    item_name: str
    issued_at: str


class CountyRecordOut(msgspec.Struct):
    """一号申请 across the county (edge_node/people.py): what the county holds of one person, asked
    now (``live``) or, offline, as last asked (``fetched_at``); ``found`` false: offline and never asked."""

    found: bool
    live: bool = False
    fetched_at: str | None = None
    applicant_name: str = ""
    cases: list[CountyCaseOut] = []
    licences: list[CountyLicenceOut] = []


class LicenceIn(Body):
    text: Licence


class DispatchIn(Body):
    courier: Line
    tracking_no: Line


class EvaluationIn(Body):
    level: int
    comment: Text = ""


class ComplaintIn(Body):
    text: Text
    application_id: Line = ""
    contact: Line = ""


# ---- responses ---------------------------------------------------------------------------------


class DocumentOut(msgspec.Struct):
    """A document of record the county issued on the case, as signed (YWC1; verifiable offline)."""

    id: int
    kind: str
    number: str
    title: str
    issued_at: str
    text: str


class ApplicationOut(msgspec.Struct):
    """A case as the API shows it: these fields and no others, every resident ID masked (the
    applicant's, the collector's; the full numbers stay at the window and go to the county)."""

    id: str
    receipt_no: str
    item_code: str
    item_name: str
    applicant_name: str
    applicant_id_number: str  # masked
    status: str
    status_text: str
    created_at: str
    supplement: list[str]  # what the county asked for, while status is supplement_requested
    materials_checked: list[str]
    department_name: str | None = None
    applicant_phone: str | None = None  # the agent phones the citizen when the result is back
    proxy_agent: str | None = None
    agent_username: str | None = None
    accepted_at: str | None = None
    decision: str | None = None
    decision_reason: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    picked_up_at: str | None = None
    picked_up_by: str | None = None
    collector_id_number: str | None = None  # masked
    courier: str | None = None
    tracking_no: str | None = None
    dispatched_at: str | None = None
    fee_receipt: ReceiptOut | None = None  # the fee taken at intake (POST only)


def application_out(row: Any) -> ApplicationOut:
    out = dict(row)
    return msgspec.convert(
        out
        | {
            "applicant_id_number": mask_id(out["applicant_id_number"]),
            "collector_id_number": mask_id(out["collector_id_number"]) if out.get("collector_id_number") else None,
            "status_text": cases.STATUS_TEXT.get(out["status"], out["status"]),
            "supplement": json.loads(out.get("supplement_json") or "[]"),
            "materials_checked": json.loads(out.get("materials_checked") or "[]"),
        },
        ApplicationOut,
    )


class LoginOut(msgspec.Struct):
    token: str  # send as Authorization: Bearer <token>
    username: str
    display_name: str
    role: str
    role_name: str


class HealthOut(msgspec.Struct):
    status: str
    nats_connected: bool


class ReadyOut(msgspec.Struct):
    status: str  # ready
    database: str  # ok
    nats: str  # connected | offline (a point works offline: it is ready all the same)


class LinkOut(msgspec.Struct):
    kbit_per_s: float | None
    rtt_ms: int | None
    bytes_up_today: int
    bytes_down_today: int
    metered: bool
    metered_hours: str
    files_paused: bool
    statuses_answered: int
    hub_answered_at: str | None


class StatusOut(msgspec.Struct):
    """The point's link and what waits to go up (the banner on every page shows the same)."""

    node_id: str
    online: bool
    offline_since: str | None
    credentials_refused: bool
    waiting_events: int
    set_aside_events: int
    needs_upgrade: bool
    waiting_files: int
    waiting_file_bytes: int
    link: LinkOut
    delegated_until: str | None = None  # a township: until when the hub's delegation lets it sign instant results itself


class LicenceCheckOut(msgspec.Struct):
    valid: bool
    licence: dict[str, Any]  # the licence as signed, its holder's ID masked


class CatalogMaterialOut(msgspec.Struct):
    name: str
    shared: bool = False
    licence_item: str | None = None


class CatalogItemOut(msgspec.Struct):
    """An item of the county's catalog as published (issue 19 grows it into a full service guide)."""

    code: str
    name: str
    department: str
    department_name: str
    time_limit_days: int
    fee_fen: int
    materials: list[CatalogMaterialOut] = []
    departments: list[str] = []
    level: str | None = None  # village, township, county
    instant: bool = False  # 即办件
    service_object: str | None = None  # natural, legal
    legal_basis: str = ""
    conditions: str = ""
    keywords: list[str] = []
    illustrative: bool = False


class MaterialOut(msgspec.Struct):
    application_id: str
    material: str
    sha256: str
    size: int
    media_type: str
    filename: str | None
    created_at: str
    original_sha256: str | None = None
    original_size: int | None = None
    sent_bytes: int | None = None  # upload progress (the list only)
    completed_at: str | None = None
    received_at: str | None = None  # the hub confirmed it
    purged_at: str | None = None
    stored_here: bool | None = None


class EvaluationOut(msgspec.Struct):
    application_id: str
    level: int
    level_text: str
    comment: str


class ComplaintOut(msgspec.Struct):
    complaint_id: str
    application_id: str | None
    contact: str
    text: str
    created_at: str


class ReceiptOut(msgspec.Struct):
    receipt_no: str
    amount_fen: int
    method: str
    agent_username: str
    collected_at: str
    business_date: str
    status: str  # paid, voided, refunded
    application_id: str | None = None
    item_code: str | None = None
    payer_name: str | None = None
    reference: str | None = None
    refunded_fen: int = 0
    void_reason: str | None = None
    voided_at: str | None = None
    close_id: str | None = None


class TotalsOut(msgspec.Struct):
    collected: dict[str, int]  # per method, in fen
    refunded: dict[str, int]
    net: dict[str, int]
    receipts: int
    refunds: int
    cash_expected_fen: int


class CloseOut(msgspec.Struct):
    close_id: str
    business_date: str
    cash_counted_fen: int
    discrepancy_fen: int
    totals: TotalsOut | None = None  # when just closed
    cash_expected_fen: int | None = None  # when listed
    note: str | None = None
    closed_at: str | None = None
    remittance_id: str | None = None


class FeeDayOut(msgspec.Struct):
    business_date: str
    receipts: list[ReceiptOut]
    totals: TotalsOut
    unclosed: TotalsOut
    closes: list[CloseOut]


class RemittanceOut(msgspec.Struct):
    remittance_id: str
    amount_fen: int
    close_ids: list[str]


class MatchOut(msgspec.Struct):
    reference: str | None
    receipt_no: str | None = None
    amount_fen: int | None = None
    ours_fen: int | None = None
    statement_fen: int | None = None
    line: int | None = None
    time: str | None = None


class ReconcileOut(msgspec.Struct):
    matched: list[MatchOut]
    amount_differs: list[MatchOut]
    missing_from_statement: list[MatchOut]
    extra_in_statement: list[MatchOut]
    totals_fen: dict[str, int]


class RotationOut(msgspec.Struct):
    public_key: str
    nats_public_key: str
    status: str


def shaped(kind: type[Any], value: Any) -> Any:
    """``value`` (a row, a dict) as the response struct ``kind``: its fields only."""
    return msgspec.convert(dict(value), kind)
