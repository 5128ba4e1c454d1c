"""JSON API of the node (what the UI does, for scripts and tests): one controller per area on
the /api router, which takes bearer tokens only (weblayer.auth) and answers errors as problems."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from weblayer.auth import PUBLIC, LoginIn, api_log_in
from weblayer.display import mask_id
from weblayer.errors import InvalidInput, Unavailable
from weblayer.site import SiteDep

from .. import cases, catalog, documents, fees, materials, people, reconcile, reviews, rotation
from ..intake import validate_credit_code, validate_resident_id
from . import appointments as appointment_web
from . import consultations as consultation_web
from . import staff as staff_web
from .context import Ctx, NodeContext, NodeRequest, sync_status
from .schemas import (
    ApplicationIn,
    ApplicationOut,
    CatalogItemOut,
    CloseIn,
    CloseOut,
    ComplaintIn,
    ComplaintOut,
    CountyRecordOut,
    DispatchIn,
    DocumentOut,
    EvaluationIn,
    EvaluationOut,
    FeeDayOut,
    HealthOut,
    LicenceCheckOut,
    LicenceIn,
    LoginOut,
    MaterialOut,
    OnTheSpotIn,
    PickupIn,
    ReadyOut,
    ReceiptOut,
    ReconcileOut,
    RemittanceIn,
    RemittanceOut,
    ReviewDecisionIn,
    ReviewOut,
    RotationOut,
    SecondPersonIn,
    StatusOut,
    application_out,
    review_out,
    shaped,
)

MAX_UPLOAD = 21 * 1024 * 1024  # 20 MB of file plus the form around it; the domain enforces 20 MB


class SessionApi(Controller):
    """Open to anybody: logging in, liveness, the link's state."""

    opt = {PUBLIC: True}

    @post("/login", sync_to_thread=True, status_code=200)
    def log_in(self, request: NodeRequest, site: SiteDep, data: JSONBody[LoginIn]) -> LoginOut:
        user, token = api_log_in(request, site, data)
        return shaped(LoginOut, {"token": token} | user)

    @get("/health", sync_to_thread=False)
    def health(self, ctx: Ctx) -> HealthOut:
        """Liveness for a monitor: answers without touching the database (and is the trivial route
        bench/intake.py measures the intake API against)."""
        return HealthOut(status="ok", nats_connected=ctx.sync.online)

    @get("/ready", sync_to_thread=True)
    def ready(self, ctx: Ctx) -> ReadyOut:
        """Readiness for a service manager or monitor: the node's database answers. NATS is
        reported, not required: a point works offline."""
        try:
            ctx.store.one("SELECT 1")
        except sqlite3.Error as exc:
            raise Unavailable(f"本点数据库无法读取（{type(exc).__name__}）：检查磁盘和数据目录") from None
        return ReadyOut(status="ready", database="ok", nats="connected" if ctx.sync.online else "offline")

    @get("/status", sync_to_thread=True)
    def status(self, ctx: Ctx) -> StatusOut:
        return shaped(StatusOut, sync_status(ctx))

    @post("/licences/verify", sync_to_thread=True, status_code=200)
    def verify_licence(self, ctx: Ctx, data: JSONBody[LicenceIn]) -> LicenceCheckOut:
        """Offline: check an e-licence against the hub key this node pinned at enrolment."""
        doc = cases.verify_licence(data.text, ctx.identity.hub_key)
        return LicenceCheckOut(valid=True, licence=doc | {"holder_id": mask_id(doc["holder_id"])})


class CatalogApi(Controller):
    path = "/catalog"

    @get("/", sync_to_thread=True)
    def items(self, ctx: Ctx) -> list[CatalogItemOut]:
        return [shaped(CatalogItemOut, item) for item in catalog.list_items(ctx.store)]


class ApplicationsApi(Controller):
    """Intake, the case, materials and supplements, handing the result over, the citizen's rating."""

    path = "/applications"

    @post("/", sync_to_thread=True, status_code=201)
    def submit(self, request: NodeRequest, ctx: Ctx, data: JSONBody[ApplicationIn]) -> ApplicationOut:
        form = msgspec.structs.asdict(data)
        payment = (data.payment_method, data.payment_reference) if data.payment_method else None
        uploads = cases.authorisation_uploads("data:image/png;base64," + data.authorisation_png_base64, None) if data.authorisation_png_base64 else []
        if data.commitment_png_base64:
            uploads.append((cases.COMMITMENT, "commitment.png", cases.png_from_base64(data.commitment_png_base64, "commitment")))
        licences = []
        if data.licences:
            item = catalog.get_item(ctx.store, data.item_code.strip())
            licences = cases.licences_in_place(ctx.store, ctx.identity.hub_key, item, data.applicant_id_number.strip().upper(), data.licences)
        app = cases.submit_application(
            ctx.store,
            form,
            request.user,
            ctx.blobs_dir,
            uploads,
            checked=data.materials_checked,
            payment=payment,
            licences=licences,
            point_kind=ctx.identity.kind,
        )
        ctx.sync.wake_uplink()
        return application_out(app)

    @get("/", sync_to_thread=True)
    def index(self, ctx: Ctx) -> list[ApplicationOut]:
        return [application_out(r) for r in ctx.store.query("SELECT * FROM applications ORDER BY created_at DESC")]

    @get("/{application_id:str}", sync_to_thread=True)
    def one(self, ctx: Ctx, application_id: FromPath[str]) -> ApplicationOut:
        return application_out(cases.get_application(ctx.store, application_id))

    @get("/{application_id:str}/documents", sync_to_thread=True)
    def documents(self, ctx: Ctx, application_id: FromPath[str]) -> list[DocumentOut]:
        """The county's documents of record on the case (受理通知书, 决定书, 送达回证 …), oldest first."""
        cases.get_application(ctx.store, application_id)  # 404 for no such case
        return [msgspec.convert(d, DocumentOut, strict=False) for d in documents.documents_of(ctx.store, application_id, ctx.identity.hub_key)]

    @post("/{application_id:str}/pickup", sync_to_thread=True, status_code=200, opt={"actions": ("pick_up", "hand_over_notice")})
    def pickup(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[PickupIn]) -> ApplicationOut:
        """统一窗口出件 with its 送达回证: the collector's on-screen signature (PNG, base64) is required;
        someone other than the applicant or the case's 代办人 brings the applicant's signed
        授权委托书 (``authorisation_base64``, a photo)."""
        letter = (
            ("领取授权委托书", "authorisation.jpg", cases.png_from_base64(data.authorisation_base64, "authorisation"))
            if data.authorisation_base64
            else None
        )
        row = cases.record_pickup(
            ctx.store,
            ctx.blobs_dir,
            application_id,
            data.collector_name,
            request.user,
            data.collector_id_number,
            cases.png_from_base64(data.signature_png_base64, "signature"),
            letter,
        )
        ctx.sync.wake_uplink()
        return application_out(row)

    @post("/{application_id:str}/decide-on-the-spot", sync_to_thread=True, status_code=200, opt={"actions": ("approve", "deny")})
    def decide_on_the_spot(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[OnTheSpotIn]) -> ApplicationOut:
        row = cases.decide_on_the_spot(
            ctx.store, application_id, data.decision, data.reason, request.user, ctx.identity.kind, rotation.signing_keys(ctx.sync.data_dir)
        )
        ctx.sync.wake_uplink()
        return application_out(row)

    @post("/{application_id:str}/dispatch", sync_to_thread=True, status_code=200, opt={"actions": ("dispatch",)})
    def dispatch(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[DispatchIn]) -> ApplicationOut:
        row = cases.record_dispatch(ctx.store, application_id, data.courier, data.tracking_no, request.user)
        ctx.sync.wake_uplink()
        return application_out(row)

    @post("/{application_id:str}/evaluation", sync_to_thread=True, status_code=201, opt={"actions": ()})
    def evaluate(self, ctx: Ctx, application_id: FromPath[str], data: JSONBody[EvaluationIn]) -> EvaluationOut:
        out = cases.record_evaluation(ctx.store, application_id, data.level, data.comment)
        ctx.sync.wake_uplink()
        return shaped(EvaluationOut, out)

    @post("/{application_id:str}/materials", sync_to_thread=True, status_code=201, request_max_body_size=MAX_UPLOAD, opt={"actions": ()})
    def attach(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: MultipartBody[dict[str, Any]]) -> MaterialOut:
        """multipart/form-data: ``material`` (its name, e.g. 居民身份证) and ``file`` (JPG, PNG or PDF)."""
        upload, material = data.get("file"), data.get("material", "")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("请选择要上传的文件", field="file")
        if not isinstance(material, str):
            raise InvalidInput("材料名称应为文字，不是文件", field="material")
        row = materials.attach_material(ctx.store, ctx.blobs_dir, application_id, material, upload.filename or "", upload.file.read(), request.user)
        ctx.sync.wake_uplink()
        return shaped(MaterialOut, row)

    @get("/{application_id:str}/materials", sync_to_thread=True)
    def materials_of(self, ctx: Ctx, application_id: FromPath[str]) -> list[MaterialOut]:
        return [shaped(MaterialOut, m) for m in materials.list_materials(ctx.store, ctx.blobs_dir, application_id)]

    @post(
        "/{application_id:str}/supplement",
        sync_to_thread=True,
        status_code=200,
        request_max_body_size=8 * MAX_UPLOAD,
        opt={"actions": ("provide_supplement",)},
    )
    def supplement(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: MultipartBody[dict[str, Any]]) -> ApplicationOut:
        """multipart: for item i of the hub's list, ``have_<i>`` (original seen) and/or ``file_<i>``."""
        return application_out(supplement_from_form(ctx, application_id, data, request.user))


def pickup_from_form(ctx: NodeContext, application_id: str, data: dict[str, Any], user: dict[str, str]) -> Any:
    """The page's pickup: the signature drawn on screen (a data: URL) and the letter's photo, if any."""
    photo = data.get("authorisation_photo")
    letter = (cases.PICKUP_AUTHORISATION, photo.filename or "", photo.file.read()) if isinstance(photo, UploadFile) and photo.filename else None
    return cases.record_pickup(
        ctx.store,
        ctx.blobs_dir,
        application_id,
        str(data.get("collector_name", "")),
        user,
        str(data.get("collector_id_number", "")),
        cases.drawn_signature(str(data.get("signature") or "")),
        letter,
    )


def supplement_from_form(ctx: NodeContext, application_id: str, data: dict[str, Any], user: dict[str, str]) -> Any:
    wanted = json.loads(cases.get_application(ctx.store, application_id)["supplement_json"])
    uploads = [
        (name, u.filename or "", u.file.read()) for i, name in enumerate(wanted) if isinstance(u := data.get(f"file_{i}"), UploadFile) and u.filename
    ]
    checked = [name for i, name in enumerate(wanted) if str(data.get(f"have_{i}", "")).lower() in ("1", "on", "true", "yes")]
    row = cases.provide_supplement(ctx.store, ctx.blobs_dir, application_id, uploads, checked, user, str(data.get("note", "")))
    ctx.sync.wake_uplink()
    return row


class PeopleApi(Controller):
    path = "/people"

    @get("/{id_number:str}/county", sync_to_thread=True)
    def county(self, ctx: Ctx, id_number: FromPath[str]) -> CountyRecordOut:
        """一号申请 across the county: the person's cases at every point and e-licences (the texts stay
        on the node for 电子证照代替; ask the wizard), from the hub while online, else as last asked."""
        wanted = id_number.strip().upper()
        wanted = (
            validate_credit_code(wanted) if len(wanted) == 18 and not wanted[:17].isdigit() else validate_resident_id(wanted, region_confirmed=True)
        )
        county = people.county_view(ctx.store, ctx.sync.lookup, wanted)
        if county is None:
            return CountyRecordOut(found=False)
        return msgspec.convert({k: v for k, v in county.items() if k in CountyRecordOut.__struct_fields__} | {"found": True}, CountyRecordOut)


class ReviewsApi(Controller):
    """Township stages this township decides (a township approver), offline."""

    path = "/reviews"

    @get("/", sync_to_thread=True)
    def pending(self, ctx: Ctx) -> list[ReviewOut]:
        return [review_out(r) for r in reviews.pending(ctx.store)]

    @get("/{application_id:str}/{stage:int}", sync_to_thread=True)
    def one(self, ctx: Ctx, application_id: FromPath[str], stage: FromPath[int]) -> ReviewOut:
        return review_out(reviews.get_review(ctx.store, application_id, stage))

    @post(
        "/{application_id:str}/{stage:int}/decision",
        sync_to_thread=True,
        status_code=200,
        opt={"actions": ("accept", "pass_part", "approve", "deny")},
    )
    def decide(
        self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], stage: FromPath[int], data: JSONBody[ReviewDecisionIn]
    ) -> ReviewOut:
        row = reviews.decide(ctx.store, application_id, stage, data.decision, data.reason, request.user, rotation.signing_keys(ctx.sync.data_dir))
        ctx.sync.wake_uplink()
        return review_out(row)


class ComplaintsApi(Controller):
    path = "/complaints"

    @post("/", sync_to_thread=True, status_code=201)
    def file(self, request: NodeRequest, ctx: Ctx, data: JSONBody[ComplaintIn]) -> ComplaintOut:
        out = cases.file_complaint(ctx.store, data.text, request.user, data.application_id, data.contact)
        ctx.sync.wake_uplink()
        return shaped(ComplaintOut, out)


class FeesApi(Controller):
    """代收费: the agent's day, voids and refunds (with a second person), closing, remitting, reconciling."""

    path = "/fees"

    @get("/", sync_to_thread=True)
    def day(self, request: NodeRequest, ctx: Ctx, date: FromQuery[str] = "") -> FeeDayOut:
        """The agent's receipts, totals and closes of a business day (default today, Beijing time)."""
        username, store = request.user["username"], ctx.store
        day = date or fees.business_date(fees.utcnow())
        receipts = [
            dict(r)
            for r in store.query("SELECT * FROM fee_receipts WHERE agent_username = ? AND business_date = ? ORDER BY receipt_no", (username, day))
        ]
        closes = [
            dict(r)
            for r in store.query("SELECT * FROM daily_closes WHERE agent_username = ? AND business_date = ? ORDER BY closed_at", (username, day))
        ]
        return shaped(
            FeeDayOut,
            {
                "business_date": day,
                "receipts": receipts,
                "totals": fees.day_totals(store, username, day),
                "unclosed": fees.day_totals(store, username, day, unclosed_only=True),
                "closes": closes,
            },
        )

    @post("/{receipt_no:str}/void", sync_to_thread=True, status_code=200)
    def void(self, request: NodeRequest, ctx: Ctx, receipt_no: FromPath[str], data: JSONBody[SecondPersonIn]) -> ReceiptOut:
        row = fees.void_receipt(ctx.store, receipt_no, data.reason, request.user, data.approver, data.approver_password)
        ctx.sync.wake_uplink()
        return shaped(ReceiptOut, row)

    @post("/{receipt_no:str}/refund", sync_to_thread=True, status_code=200)
    def refund(self, request: NodeRequest, ctx: Ctx, receipt_no: FromPath[str], data: JSONBody[SecondPersonIn]) -> ReceiptOut:
        if data.amount_fen is None:
            raise InvalidInput("请填写退费金额（分）", field="amount_fen")
        row = fees.refund(ctx.store, receipt_no, data.amount_fen, data.reason, request.user, data.approver, data.approver_password)
        ctx.sync.wake_uplink()
        return shaped(ReceiptOut, row)

    @post("/close", sync_to_thread=True, status_code=201)
    def close(self, request: NodeRequest, ctx: Ctx, data: JSONBody[CloseIn]) -> CloseOut:
        closed = fees.close_day(ctx.store, request.user, data.cash_counted_fen, data.note)
        ctx.sync.wake_uplink()
        return shaped(CloseOut, closed)

    @post("/remittances", sync_to_thread=True, status_code=201)
    def remit(self, request: NodeRequest, ctx: Ctx, data: JSONBody[RemittanceIn]) -> RemittanceOut:
        done = fees.record_remittance(ctx.store, request.user, data.close_ids, data.amount_fen, data.bank_reference)
        ctx.sync.wake_uplink()
        return shaped(RemittanceOut, done)

    @post("/reconcile", sync_to_thread=True, status_code=200)
    def reconcile_statement(self, ctx: Ctx, data: MultipartBody[dict[str, Any]]) -> ReconcileOut:
        """multipart: ``method`` (wechat / alipay / unionpay), ``date_from``, ``date_to`` and the
        provider's statement CSV as ``file``."""
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("请上传对账单（CSV）", field="file")
        text = reconcile.statement_text(upload.file.read())
        today = fees.business_date(fees.utcnow())
        date_from, date_to = str(data.get("date_from") or today), str(data.get("date_to") or today)
        return shaped(ReconcileOut, reconcile.reconcile(ctx.store, str(data.get("method", "")), text, date_from, date_to))


class NodeApi(Controller):
    path = "/node"

    @post("/rotate-key", sync_to_thread=True, status_code=202)
    def rotate_key(self, request: NodeRequest, ctx: Ctx) -> RotationOut:
        """Rotate this point's keys (docs/security.md): new batch-signing key and NATS identity, made
        here; the change reaches the hub in the outbox, so it works offline too and loses nothing."""
        answer = rotation.start(ctx.store, ctx.sync.data_dir, request.user["username"])
        ctx.sync.wake_uplink()
        return shaped(RotationOut, answer | {"status": "pending"})


CONTROLLERS = [
    SessionApi,
    CatalogApi,
    ApplicationsApi,
    PeopleApi,
    ReviewsApi,
    ComplaintsApi,
    FeesApi,
    NodeApi,
    *appointment_web.API,
    *consultation_web.API,
    *staff_web.API,
]
