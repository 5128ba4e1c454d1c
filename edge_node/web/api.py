"""JSON API of the node (what the UI does, for scripts and tests): one controller per area on
the /api router, which takes bearer tokens only (weblayer.auth) and answers errors as problems."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from weblayer.auth import PUBLIC, LoginIn, api_log_in
from weblayer.display import mask_id
from weblayer.errors import InvalidInput
from weblayer.site import SiteDep

from .. import cases, catalog, fees, materials, reconcile, rotation
from .context import Ctx, NodeContext, NodeRequest, sync_status

MAX_UPLOAD = 21 * 1024 * 1024  # 20 MB of file plus the form around it; the domain enforces 20 MB


class ApplicationIn(msgspec.Struct):
    item_code: str
    applicant_name: str
    applicant_id_number: str
    applicant_phone: str = ""
    id_region_confirmed: bool = False  # the agent checked the card: a region code no table lists is then accepted
    by_proxy: bool = False
    materials_checked: list[str] = []
    authorisation_png_base64: str = ""  # required when by_proxy: the applicant's signature
    payment_method: str | None = None  # required when the catalog item has a fee
    payment_reference: str = ""
    licences: dict[str, str] = {}  # material -> e-licence number this point holds, or a licence's full text


class SecondPersonIn(msgspec.Struct):
    reason: str
    approver: str
    approver_password: str
    amount_fen: int | None = None  # refunds only


class CloseIn(msgspec.Struct):
    cash_counted_fen: int
    note: str = ""


class RemittanceIn(msgspec.Struct):
    close_ids: list[str]
    amount_fen: int
    bank_reference: str


class PickupIn(msgspec.Struct):
    collector_name: str
    collector_id_number: str = ""


class OnTheSpotIn(msgspec.Struct):
    decision: str
    reason: str = ""


class LicenceIn(msgspec.Struct):
    text: str


class DispatchIn(msgspec.Struct):
    courier: str
    tracking_no: str


class EvaluationIn(msgspec.Struct):
    level: int
    comment: str = ""


class ComplaintIn(msgspec.Struct):
    text: str
    application_id: str = ""
    contact: str = ""


def application_out(row: Any) -> dict[str, Any]:
    """A case for the API: every resident ID in it masked (the applicant's, the collector's)."""
    out = dict(row)
    for field in [k for k in out if k.endswith("id_number")]:
        out[field] = mask_id(out[field]) if out[field] else out[field]
    out["status_text"] = cases.STATUS_TEXT.get(out["status"], out["status"])
    return out


class SessionApi(Controller):
    """Open to anybody: logging in, liveness, the link's state."""

    opt = {PUBLIC: True}

    @post("/login", sync_to_thread=True, status_code=200)
    def log_in(self, request: NodeRequest, site: SiteDep, data: JSONBody[LoginIn]) -> dict[str, Any]:
        user, token = api_log_in(request, site, data)
        return {"token": token} | user

    @get("/health", sync_to_thread=False)
    def health(self, ctx: Ctx) -> dict[str, Any]:
        """Liveness for a monitor: answers without touching the database (and is the trivial route
        bench/intake.py measures the intake API against)."""
        return {"status": "ok", "nats_connected": ctx.sync.online}

    @get("/status", sync_to_thread=True)
    def status(self, ctx: Ctx) -> dict[str, Any]:
        return sync_status(ctx)

    @post("/licences/verify", sync_to_thread=True, status_code=200)
    def verify_licence(self, ctx: Ctx, data: JSONBody[LicenceIn]) -> dict[str, Any]:
        """Offline: check an e-licence against the hub key this node pinned at enrolment."""
        doc = cases.verify_licence(data.text, ctx.identity.hub_key)
        return {"valid": True, "licence": doc | {"holder_id": mask_id(doc["holder_id"])}}


class CatalogApi(Controller):
    path = "/catalog"

    @get("/", sync_to_thread=True)
    def items(self, ctx: Ctx) -> list[dict[str, Any]]:
        return catalog.list_items(ctx.store)


class ApplicationsApi(Controller):
    """Intake, the case, materials and supplements, handing the result over, the citizen's rating."""

    path = "/applications"

    @post("/", sync_to_thread=True, status_code=201)
    def submit(self, request: NodeRequest, ctx: Ctx, data: JSONBody[ApplicationIn]) -> dict[str, Any]:
        form = msgspec.structs.asdict(data)
        payment = (data.payment_method, data.payment_reference) if data.payment_method else None
        uploads = cases.authorisation_uploads("data:image/png;base64," + data.authorisation_png_base64, None) if data.authorisation_png_base64 else []
        licences = []
        if data.licences:
            item = catalog.get_item(ctx.store, data.item_code.strip())
            licences = cases.licences_in_place(ctx.store, ctx.identity.hub_key, item, data.applicant_id_number.strip().upper(), data.licences)
        app = cases.submit_application(
            ctx.store, form, request.user, ctx.blobs_dir, uploads, checked=data.materials_checked, payment=payment, licences=licences
        )
        ctx.sync.wake_uplink()
        return application_out(app)

    @get("/", sync_to_thread=True)
    def index(self, ctx: Ctx) -> list[dict[str, Any]]:
        return [application_out(r) for r in ctx.store.query("SELECT * FROM applications ORDER BY created_at DESC")]

    @get("/{application_id:str}", sync_to_thread=True)
    def one(self, ctx: Ctx, application_id: FromPath[str]) -> dict[str, Any]:
        return application_out(cases.get_application(ctx.store, application_id))

    @post("/{application_id:str}/pickup", sync_to_thread=True, status_code=200)
    def pickup(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[PickupIn]) -> dict[str, Any]:
        row = cases.record_pickup(ctx.store, application_id, data.collector_name, request.user, data.collector_id_number)
        ctx.sync.wake_uplink()
        return application_out(row)

    @post("/{application_id:str}/decide-on-the-spot", sync_to_thread=True, status_code=200)
    def decide_on_the_spot(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[OnTheSpotIn]) -> dict[str, Any]:
        row = cases.decide_on_the_spot(ctx.store, application_id, data.decision, data.reason, request.user, ctx.identity.kind)
        ctx.sync.wake_uplink()
        return application_out(row)

    @post("/{application_id:str}/dispatch", sync_to_thread=True, status_code=200)
    def dispatch(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: JSONBody[DispatchIn]) -> dict[str, Any]:
        row = cases.record_dispatch(ctx.store, application_id, data.courier, data.tracking_no, request.user)
        ctx.sync.wake_uplink()
        return application_out(row)

    @post("/{application_id:str}/evaluation", sync_to_thread=True, status_code=201)
    def evaluate(self, ctx: Ctx, application_id: FromPath[str], data: JSONBody[EvaluationIn]) -> dict[str, Any]:
        out = cases.record_evaluation(ctx.store, application_id, data.level, data.comment)
        ctx.sync.wake_uplink()
        return out

    @post("/{application_id:str}/materials", sync_to_thread=True, status_code=201, request_max_body_size=MAX_UPLOAD)
    def attach(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: MultipartBody[dict[str, Any]]) -> dict[str, Any]:
        """multipart/form-data: ``material`` (its name, e.g. 居民身份证) and ``file`` (JPG, PNG or PDF)."""
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("请选择要上传的文件", field="file")
        row = materials.attach_material(
            ctx.store, ctx.blobs_dir, application_id, str(data.get("material", "")), upload.filename or "", upload.file.read(), request.user
        )
        ctx.sync.wake_uplink()
        return row

    @get("/{application_id:str}/materials", sync_to_thread=True)
    def materials_of(self, ctx: Ctx, application_id: FromPath[str]) -> list[dict[str, Any]]:
        return materials.list_materials(ctx.store, ctx.blobs_dir, application_id)

    @post("/{application_id:str}/supplement", sync_to_thread=True, status_code=200, request_max_body_size=8 * MAX_UPLOAD)
    def supplement(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: MultipartBody[dict[str, Any]]) -> dict[str, Any]:
        """multipart: for item i of the hub's list, ``have_<i>`` (original seen) and/or ``file_<i>``."""
        return application_out(supplement_from_form(ctx, application_id, data, request.user))


def supplement_from_form(ctx: NodeContext, application_id: str, data: dict[str, Any], user: dict[str, str]) -> Any:
    wanted = json.loads(cases.get_application(ctx.store, application_id)["supplement_json"])
    uploads = [
        (name, u.filename or "", u.file.read()) for i, name in enumerate(wanted) if isinstance(u := data.get(f"file_{i}"), UploadFile) and u.filename
    ]
    checked = [name for i, name in enumerate(wanted) if str(data.get(f"have_{i}", "")).lower() in ("1", "on", "true", "yes")]
    row = cases.provide_supplement(ctx.store, ctx.blobs_dir, application_id, uploads, checked, user, str(data.get("note", "")))
    ctx.sync.wake_uplink()
    return row


class ComplaintsApi(Controller):
    path = "/complaints"

    @post("/", sync_to_thread=True, status_code=201)
    def file(self, request: NodeRequest, ctx: Ctx, data: JSONBody[ComplaintIn]) -> dict[str, Any]:
        out = cases.file_complaint(ctx.store, data.text, request.user, data.application_id, data.contact)
        ctx.sync.wake_uplink()
        return out


class FeesApi(Controller):
    """代收费: the agent's day, voids and refunds (with a second person), closing, remitting, reconciling."""

    path = "/fees"

    @get("/", sync_to_thread=True)
    def day(self, request: NodeRequest, ctx: Ctx, date: FromQuery[str] = "") -> dict[str, Any]:
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
        return {
            "business_date": day,
            "receipts": receipts,
            "totals": fees.day_totals(store, username, day),
            "unclosed": fees.day_totals(store, username, day, unclosed_only=True),
            "closes": closes,
        }

    @post("/{receipt_no:str}/void", sync_to_thread=True, status_code=200)
    def void(self, request: NodeRequest, ctx: Ctx, receipt_no: FromPath[str], data: JSONBody[SecondPersonIn]) -> dict[str, Any]:
        row = fees.void_receipt(ctx.store, receipt_no, data.reason, request.user, data.approver, data.approver_password)
        ctx.sync.wake_uplink()
        return dict(row)

    @post("/{receipt_no:str}/refund", sync_to_thread=True, status_code=200)
    def refund(self, request: NodeRequest, ctx: Ctx, receipt_no: FromPath[str], data: JSONBody[SecondPersonIn]) -> dict[str, Any]:
        if data.amount_fen is None:
            raise InvalidInput("请填写退费金额（分）", field="amount_fen")
        row = fees.refund(ctx.store, receipt_no, data.amount_fen, data.reason, request.user, data.approver, data.approver_password)
        ctx.sync.wake_uplink()
        return dict(row)

    @post("/close", sync_to_thread=True, status_code=201)
    def close(self, request: NodeRequest, ctx: Ctx, data: JSONBody[CloseIn]) -> dict[str, Any]:
        closed = fees.close_day(ctx.store, request.user, data.cash_counted_fen, data.note)
        ctx.sync.wake_uplink()
        return closed

    @post("/remittances", sync_to_thread=True, status_code=201)
    def remit(self, request: NodeRequest, ctx: Ctx, data: JSONBody[RemittanceIn]) -> dict[str, Any]:
        done = fees.record_remittance(ctx.store, request.user, data.close_ids, data.amount_fen, data.bank_reference)
        ctx.sync.wake_uplink()
        return done

    @post("/reconcile", sync_to_thread=True, status_code=200)
    def reconcile_statement(self, ctx: Ctx, data: MultipartBody[dict[str, Any]]) -> dict[str, Any]:
        """multipart: ``method`` (wechat / alipay / unionpay), ``date_from``, ``date_to`` and the
        provider's statement CSV as ``file``."""
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("请上传对账单（CSV）", field="file")
        try:
            text = upload.file.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("对账单应为 UTF-8 编码的 CSV（导出时选择 UTF-8）", field="file") from None
        today = fees.business_date(fees.utcnow())
        return reconcile.reconcile(
            ctx.store, str(data.get("method", "")), text, str(data.get("date_from") or today), str(data.get("date_to") or today)
        )


class NodeApi(Controller):
    path = "/node"

    @post("/rotate-key", sync_to_thread=True, status_code=202)
    def rotate_key(self, request: NodeRequest, ctx: Ctx) -> dict[str, Any]:
        """Rotate this point's keys (docs/security.md): new batch-signing key and NATS identity, made
        here; the change reaches the hub in the outbox, so it works offline too and loses nothing."""
        answer = rotation.start(ctx.store, ctx.sync.data_dir, request.user["username"])
        ctx.sync.wake_uplink()
        return answer | {"status": "pending"}


CONTROLLERS = [SessionApi, CatalogApi, ApplicationsApi, ComplaintsApi, FeesApi, NodeApi]
