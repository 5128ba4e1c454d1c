"""Server-rendered Chinese UI of the node: login, case list, intake, receipt slip, pickup."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, MultipartBody, URLEncodedBody
from litestar.response import File, Redirect, Response, Template

from sync_protocol import RELATIONS
from weblayer.display import qr_svg
from weblayer.errors import InvalidInput, NotFound, ServiceError
from weblayer.numbers import level as as_level

from .. import appointments, cases, catalog, documents, fees, forms, guidance, materials, people, reconcile, reviews, rotation
from ..intake import validate_credit_code, validate_resident_id
from . import appointments as appointment_web
from . import consultations as consultation_web
from . import staff as staff_web
from .api import pickup_from_form, supplement_from_form
from .context import Ctx, NodeContext, NodeRequest, page

MAX_INTAKE_BODY = 8 * 21 * 1024 * 1024  # several 20 MB photos; each is checked on its own


def _intake_page(
    ctx: NodeContext,
    user: dict[str, str],
    item: dict[str, Any],
    form: dict[str, Any],
    error: ServiceError | None = None,
    known: dict[str, Any] | None = None,
) -> Template:
    by_licence = {m["name"]: m["licence_item"] for m in item.get("materials", []) if isinstance(m, dict) and m.get("licence_item")}
    return page(
        ctx,
        "intake.html",
        status_code=error.status if error else 200,
        user=user,
        item=item,
        required=catalog.required_materials(item),
        form=form,
        error=error,
        known=known,
        by_licence=by_licence,
        relations=RELATIONS,
        refusal=cases.intake_refusal(item, ctx.identity.kind, False),
        people_rows=forms.people_rows(form),
    )


def _fees_page(
    ctx: NodeContext,
    user: dict[str, str],
    status_code: int = 200,
    error: str | None = None,
    message: str | None = None,
    report: dict[str, Any] | None = None,
) -> Template:
    store = ctx.store
    day = fees.business_date(fees.utcnow())
    return page(
        ctx,
        "fees.html",
        status_code=status_code,
        user=user,
        day=day,
        error=error,
        message=message,
        report=report,
        receipts=store.query(
            "SELECT * FROM fee_receipts WHERE agent_username = ? AND business_date = ? ORDER BY receipt_no DESC", (user["username"], day)
        ),
        unclosed=fees.day_totals(store, user["username"], day, unclosed_only=True),
        closes=store.query("SELECT * FROM daily_closes WHERE agent_username = ? ORDER BY closed_at DESC LIMIT 30", (user["username"],)),
        refunds_due=fees.refunds_due(store),
        methods=fees.METHODS,
        yuan=fees.yuan,
    )


def _fee_action(ctx: NodeContext, user: dict[str, str], action: Any) -> Template:
    try:
        message = action(user)
    except ServiceError as exc:
        return _fees_page(ctx, user, status_code=exc.status, error=exc.message)
    ctx.sync.wake_uplink()
    return _fees_page(ctx, user, message=message)


def _handover(ctx: NodeContext, user: dict[str, str], application_id: str, action: Any, typed: dict[str, str] | None = None) -> Response:
    """One action from the case page: back to the case, or the case with the reason why not (and,
    for the pickup, what was typed in its form: ``typed``)."""
    try:
        action(user)
    except ServiceError as exc:
        return page(ctx, "case.html", status_code=exc.status, user=user, error=exc.message, pickup=typed, **_case_context(ctx, application_id))
    ctx.sync.wake_uplink()
    return Redirect(f"/applications/{application_id}")


def _case_context(ctx: Any, application_id: str) -> dict[str, Any]:
    return {
        "app": cases.get_application(ctx.store, application_id),
        "evaluation": ctx.store.one("SELECT * FROM evaluations WHERE application_id = ?", (application_id,)),
        "complaints": ctx.store.query("SELECT * FROM complaints WHERE application_id = ? ORDER BY created_at", (application_id,)),
        "levels": cases.EVALUATION_LEVELS,
        "licence": ctx.store.one("SELECT * FROM licences WHERE application_id = ?", (application_id,)),
        # a township stage of this case still to decide here (乡镇审核; the 即办件 card when it is the only one)
        "review": ctx.store.one("SELECT * FROM reviews WHERE application_id = ? AND status = 'pending' ORDER BY stage LIMIT 1", (application_id,)),
        "materials": materials.list_materials(ctx.store, ctx.blobs_dir, application_id),
        "pauses": ctx.store.query("SELECT * FROM clock_pauses WHERE application_id = ? ORDER BY started_at", (application_id,)),
        "documents": documents.documents_of(ctx.store, application_id, ctx.identity.hub_key),
        "refunds_due": [r for r in fees.refunds_due(ctx.store) if r["application_id"] == application_id],
        "keep_until": lambda received_at: materials.keep_until(received_at, ctx.material_retention_days),
    }


class HomePages(Controller):
    @get("/", sync_to_thread=True)
    def home(self, request: NodeRequest, ctx: Ctx) -> Response:
        rows = ctx.store.query("SELECT * FROM applications ORDER BY created_at DESC LIMIT 200")
        return page(
            ctx,
            "home.html",
            user=request.user,
            apps=rows,
            key=rotation.status(ctx.store, ctx.sync.data_dir),
            key_notice=request.query_params.get("key", ""),
            announcements=guidance.announcements(ctx.store, 3),
            booked_today=appointments.counts_today(ctx.store),
        )

    @post("/node/rotate-key", sync_to_thread=True)
    def rotate_key(self, request: NodeRequest, ctx: Ctx) -> Response:
        """The same rotation as POST /api/node/rotate-key, from the home page's button."""
        user = request.user
        try:
            rotation.start(ctx.store, ctx.sync.data_dir, user["username"])
        except ServiceError:
            return Redirect("/?key=busy")  # one is already waiting for the hub
        ctx.sync.wake_uplink()
        return Redirect("/?key=started")


class CatalogPages(Controller):
    @get("/catalog", sync_to_thread=True)
    def catalog_page(self, request: NodeRequest, ctx: Ctx, q: FromQuery[str] = "") -> Template:
        user = request.user
        return page(ctx, "catalog.html", user=user, items=catalog.list_items(ctx.store, q), q=q)

    @get("/catalog/{code:str}", sync_to_thread=True)
    def guide(self, request: NodeRequest, ctx: Ctx, code: FromPath[str]) -> Template:
        """办事指南: the printable service guide of one catalog item."""
        user = request.user
        return page(ctx, "guide.html", user=user, item=catalog.get_item(ctx.store, code), faq=guidance.faq(ctx.store, item_code=code))

    @get("/faq", sync_to_thread=True)
    def faq_page(self, request: NodeRequest, ctx: Ctx, q: FromQuery[str] = "") -> Template:
        """The county's 通知公告 and 常见问题, as last received: there offline too."""
        return page(ctx, "faq.html", user=request.user, announcements=guidance.announcements(ctx.store), entries=guidance.faq(ctx.store, q), q=q)

    @get("/catalog/{code:str}/commitment", sync_to_thread=True)
    def commitment_paper(self, request: NodeRequest, ctx: Ctx, code: FromPath[str]) -> Template:
        """告知承诺书, printable, for the applicant's signature (items the catalog marks for it)."""
        item = catalog.get_item(ctx.store, code)
        if not item.get("commitment"):
            raise NotFound("这个事项不实行告知承诺制")
        return page(ctx, "commitment.html", user=request.user, item=item)


class ApplicationPages(Controller):
    @get("/applications/new", sync_to_thread=True)
    def intake_form(
        self, request: NodeRequest, ctx: Ctx, item: FromQuery[str] = "", lookup: FromQuery[str] = "", appointment: FromQuery[str] = ""
    ) -> Response:
        user = request.user
        if not item:
            return Redirect("/catalog")
        store = ctx.store
        chosen = catalog.get_item(store, item)
        booked = appointments.for_intake(store, appointment) if appointment else {}  # the citizen who booked: their name and number
        if not lookup:
            return _intake_page(ctx, user, chosen, booked)
        try:  # 一号申请: an ID (or credit code) already known brings back the applicant and their earlier results
            id_number = (
                validate_credit_code(lookup) if chosen.get("service_object") == "legal" else validate_resident_id(lookup, region_confirmed=True)
            )
        except ServiceError as exc:
            return _intake_page(ctx, user, chosen, {"applicant_id_number": lookup}, exc)
        known = cases.known_applicant(store, id_number)
        county = people.county_view(store, ctx.sync.lookup, id_number)  # the whole county's, online; the last answer, offline
        form = (
            booked
            | {"applicant_id_number": id_number}
            | (
                {"applicant_name": known["applicant_name"], "applicant_phone": known["applicant_phone"]}
                if known
                else ({"applicant_name": county["applicant_name"]} if county and county.get("applicant_name") else {})
            )
        )
        return _intake_page(
            ctx, user, chosen, form, known=(known or {"history": []}) | {"licences": cases.holder_licences(store, id_number), "county": county}
        )

    @post("/applications", sync_to_thread=True, request_max_body_size=MAX_INTAKE_BODY)
    def intake_submit(self, request: NodeRequest, ctx: Ctx, data: MultipartBody[dict[str, Any]]) -> Response:
        user = request.user
        form = {k: v for k, v in data.items() if not isinstance(v, UploadFile)}
        try:
            item = catalog.get_item(ctx.store, str(form.get("item_code", "")))
        except ServiceError:
            return Redirect("/catalog")
        required = catalog.required_materials(item)
        uploads = [
            (name, upload.filename or "", upload.file.read())
            for i, name in enumerate(required)
            if isinstance(upload := data.get(f"file_{i}"), UploadFile) and upload.filename
        ]
        photo = data.get("authorisation_photo")
        try:
            by_proxy = str(form.get("by_proxy", "")).lower() in ("1", "on", "true", "yes")
            if refusal := cases.intake_refusal(item, ctx.identity.kind, by_proxy):  # before anything is checked or noticed
                raise refusal
            if by_proxy:
                uploads += cases.authorisation_uploads(
                    str(form.get("signature") or ""),
                    (cases.AUTHORISATION, photo.filename or "", photo.file.read()) if isinstance(photo, UploadFile) and photo.filename else None,
                )
            pledge = data.get("commitment_photo")  # 告知承诺制: the signed commitment, photographed
            if isinstance(pledge, UploadFile) and pledge.filename:
                uploads.append((cases.COMMITMENT, pledge.filename, pledge.file.read()))
            chosen = {name: str(form.get(f"licence_{i}") or "") for i, name in enumerate(required) if form.get(f"licence_{i}")}
            licences = (
                cases.licences_in_place(ctx.store, ctx.identity.hub_key, item, str(form.get("applicant_id_number", "")).strip().upper(), chosen)
                if chosen
                else []
            )
            missing = cases.missing_materials(item, form, uploads, licences)
            if missing:
                notice = cases.issue_notice(ctx.store, form, item, missing, user)
                return page(ctx, "notice.html", user=user, notice=notice, item=item)
            # after the notice: a citizen told what to bring need not have the whole form filled in first
            form["form"] = forms.check(item, forms.values_from_post(item, form))
            payment = (str(form.get("payment_method") or ""), str(form.get("payment_reference") or "")) if item["fee_fen"] else None
            app = cases.submit_application(
                ctx.store, form, user, ctx.blobs_dir, uploads, cases.checked_materials(item, form), payment, licences, ctx.identity.kind
            )
        except ServiceError as exc:
            return _intake_page(ctx, user, item, form, exc)
        ctx.sync.wake_uplink()
        return Redirect(f"/applications/{app['id']}/receipt")

    @get("/applications/{application_id:str}/authorisation", sync_to_thread=True)
    def authorisation(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str]) -> Template:
        """委托代办授权书, printable: who authorised whom, for what, when, with the signature."""
        user = request.user
        app = cases.get_application(ctx.store, application_id)
        signed = [
            m for m in materials.list_materials(ctx.store, ctx.blobs_dir, application_id) if m["material"] in (cases.SIGNATURE, cases.AUTHORISATION)
        ]
        return page(ctx, "authorisation.html", user=user, app=app, signed=signed, signature=cases.SIGNATURE)

    @get("/applications/{application_id:str}/documents/{document_id:int}", sync_to_thread=True)
    def document(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], document_id: FromPath[int]) -> Template:
        """A document of record the county issued on the case, printed from its signed text (offline too)."""
        doc = documents.get_document(ctx.store, application_id, document_id, ctx.identity.hub_key)
        return page(ctx, "document.html", user=request.user, doc=doc, text=doc["text"], back=f"/applications/{application_id}")

    @get("/notices", sync_to_thread=True)
    def notices(self, request: NodeRequest, ctx: Ctx) -> Template:
        """一次性告知单 given at this point, newest first, to print again."""
        rows = ctx.store.query("SELECT * FROM notices ORDER BY created_at DESC LIMIT 200")
        return page(ctx, "notices.html", user=request.user, notices=rows)

    @get("/complaints", sync_to_thread=True)
    def complaints(self, request: NodeRequest, ctx: Ctx) -> Template:
        """Complaints filed here, newest first, with the county's first and final answers."""
        return _complaints_page(ctx, request.user)

    @get("/notices/{notice_no:str}", sync_to_thread=True)
    def notice(self, request: NodeRequest, ctx: Ctx, notice_no: FromPath[str]) -> Template:
        notice = cases.get_notice(ctx.store, notice_no)
        row = ctx.store.one("SELECT * FROM catalog_items WHERE code = ?", (notice["item_code"],))
        item = catalog.item_from_row(row) if row else {"code": notice["item_code"], "legal_basis": ""}
        return page(ctx, "notice.html", user=request.user, notice=notice, item=item)

    @get("/applications/{application_id:str}/form", sync_to_thread=True)
    def application_form(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str]) -> Template:
        """申请表, printable on A4 for the applicant's signature: the item's form as filled in at the window."""
        app = cases.get_application(ctx.store, application_id)
        fields = _filled_form(ctx, app["item_code"], app["form_json"])
        return page(ctx, "application_form.html", user=request.user, app=app, fields=fields, checked=json.loads(app["materials_checked"]))

    @get("/applications/{application_id:str}/materials/{sha256:str}", sync_to_thread=True, media_type="application/octet-stream")
    def material_file(self, ctx: Ctx, application_id: FromPath[str], sha256: FromPath[str]) -> File:
        found = next((m for m in materials.list_materials(ctx.store, ctx.blobs_dir, application_id) if m["sha256"] == sha256), None)
        if found is None:
            raise NotFound("这个办件没有这份材料")
        if not found["stored_here"]:
            if found["received_at"]:
                raise NotFound(f"这份材料已送达县中枢，本机不再保存（本机只保存 {ctx.material_retention_days:g} 天）。需要查看请联系县中枢")
            raise NotFound("本服务点没有这份材料的文件（设备更换前上传的材料只保存在县中枢）")
        return File(
            path=materials.blob_path(ctx.blobs_dir, sha256),
            media_type=found["media_type"],
            content_disposition_type="inline",
            filename=found["filename"] or sha256[:12],
        )

    @get("/applications/{application_id:str}/receipt", sync_to_thread=True)
    def receipt(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str]) -> Template:
        user = request.user
        app = cases.get_application(ctx.store, application_id)
        # the county's public page, which a citizen's phone reaches from home; this point's own page
        # answers too, offline, at the window
        query = f"?receipt_no={quote(app['receipt_no'])}"
        url = (ctx.identity.progress_url or f"{ctx.base_url}/progress") + query
        row = ctx.store.one("SELECT detail_json FROM catalog_items WHERE code = ?", (app["item_code"],))
        item = json.loads(row["detail_json"]) if row else {}
        accepts = item.get("accepts", "county")
        return page(
            ctx,
            "receipt.html",
            user=user,
            app=app,
            accepter="乡镇便民服务中心" if accepts == "township" else f"县级部门（{app['department_name']}）",
            # accepted here at intake (a township window, for what the county delegates); a village only collects (收件)
            accepted_here=(here := accepts == "township" and ctx.identity.kind == "township" and bool(app["accepted_at"])),
            slip="受理回执" if here else "收件回执",
            progress_url=url,
            local_progress_url=f"{ctx.base_url}/progress{query}",
            qr_svg=qr_svg(url),
            materials=materials.list_materials(ctx.store, ctx.blobs_dir, application_id),
            checked=json.loads(app["materials_checked"]),
            fee=ctx.store.one("SELECT * FROM fee_receipts WHERE application_id = ?", (application_id,)),
            item=item,
        )

    @get("/applications/{application_id:str}", sync_to_thread=True)
    def detail(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str]) -> Template:
        user = request.user
        return page(ctx, "case.html", user=user, error=None, **_case_context(ctx, application_id))

    @post(
        "/applications/{application_id:str}/pickup",
        sync_to_thread=True,
        request_max_body_size=MAX_INTAKE_BODY,
        opt={"actions": ("pick_up", "hand_over_notice")},
    )
    def pickup(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: MultipartBody[dict[str, Any]]) -> Response:
        typed = {k: str(data.get(k, "")) for k in ("collector_name", "collector_id_number")}  # the signature is drawn again
        return _handover(ctx, request.user, application_id, lambda user: pickup_from_form(ctx, application_id, data, user), typed)

    @post(
        "/applications/{application_id:str}/supplement",
        sync_to_thread=True,
        request_max_body_size=MAX_INTAKE_BODY,
        opt={"actions": ("provide_supplement",)},
    )
    def supplement(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: MultipartBody[dict[str, Any]]) -> Response:
        return _handover(ctx, request.user, application_id, lambda user: supplement_from_form(ctx, application_id, data, user))

    @post("/applications/{application_id:str}/decide-on-the-spot", sync_to_thread=True, opt={"actions": ("approve", "deny")})
    def on_the_spot(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _handover(
            ctx,
            request.user,
            application_id,
            lambda user: cases.decide_on_the_spot(
                ctx.store,
                application_id,
                data.get("decision", ""),
                data.get("reason", ""),
                user,
                ctx.identity.kind,
                rotation.signing_keys(ctx.sync.data_dir),
            ),
        )

    @post("/applications/{application_id:str}/dispatch", sync_to_thread=True, opt={"actions": ("dispatch",)})
    def dispatch(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        return _handover(
            ctx,
            request.user,
            application_id,
            lambda user: cases.record_dispatch(ctx.store, application_id, data.get("courier", ""), data.get("tracking_no", ""), user),
        )

    @get("/applications/{application_id:str}/rate", sync_to_thread=True)
    def rate(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str]) -> Template:
        """好差评 on a screen of its own, turned to the citizen (nothing chosen in advance), with the
        QR code of the county's rating page for the citizen's own phone: the pickup slip."""
        return _rate_page(ctx, request.user, application_id)

    @post("/applications/{application_id:str}/evaluation", sync_to_thread=True, opt={"actions": ()})
    def evaluate(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
        level = data.get("level", "")
        try:
            cases.record_evaluation(ctx.store, application_id, as_level(level), data.get("comment", ""))
        except ServiceError as exc:
            return _rate_page(ctx, request.user, application_id, status_code=exc.status, error=exc.message)
        ctx.sync.wake_uplink()
        return _rate_page(ctx, request.user, application_id)


def _complaints_page(ctx: NodeContext, user: dict[str, str], status_code: int = 200, error: str | None = None, form: Any = None) -> Template:
    rows = ctx.store.query("SELECT * FROM complaints ORDER BY created_at DESC LIMIT 200")
    return page(ctx, "complaints.html", status_code=status_code, user=user, complaints=rows, error=error, form=form or {})


def _rate_page(ctx: NodeContext, user: dict[str, str], application_id: str, status_code: int = 200, error: str | None = None) -> Template:
    app = cases.get_application(ctx.store, application_id)
    url = (ctx.identity.progress_url or f"{ctx.base_url}/progress").rsplit("/progress", 1)[0] + f"/rate?receipt_no={quote(app['receipt_no'])}"
    return page(
        ctx,
        "rate.html",
        status_code=status_code,
        user=user,
        app=app,
        error=error,
        evaluation=ctx.store.one("SELECT * FROM evaluations WHERE application_id = ?", (application_id,)),
        levels=cases.EVALUATION_LEVELS,
        rate_url=url,
        qr_svg=qr_svg(url),
    )


def _filled_form(ctx: NodeContext, item_code: str, form_json: str) -> list[dict[str, Any]]:
    """A case's form as filled in, by the item's form in this node's catalog (the review page, the printed 申请表)."""
    row = ctx.store.one("SELECT * FROM catalog_items WHERE code = ?", (item_code,))
    return forms.filled(catalog.item_from_row(row) if row is not None else {}, json.loads(form_json))


def _review_page(
    ctx: NodeContext, user: dict[str, str], application_id: str, stage: int, status_code: int = 200, error: str | None = None
) -> Template:
    row = reviews.get_review(ctx.store, application_id, stage)
    return page(
        ctx,
        "review.html",
        status_code=status_code,
        user=user,
        review=row,
        fields=_filled_form(ctx, row["item_code"], row["form_json"]),
        materials_checked=json.loads(row["materials_json"]),
        decisions=reviews.DECISIONS,
        may_refuse_acceptance=reviews.may_refuse_acceptance(ctx.store, row),
        error=error,
    )


class ReviewPages(Controller):
    """乡镇审核: the township stages this township decides, offline."""

    @get("/reviews", sync_to_thread=True)
    def list_page(self, request: NodeRequest, ctx: Ctx) -> Template:
        return page(
            ctx,
            "reviews.html",
            user=request.user,
            pending=reviews.pending(ctx.store),
            decided=reviews.decided(ctx.store),
            decisions=reviews.DECISIONS,
        )

    @get("/reviews/{application_id:str}/{stage:int}", sync_to_thread=True)
    def review_page(self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], stage: FromPath[int]) -> Template:
        return _review_page(ctx, request.user, application_id, stage)

    @post(
        "/reviews/{application_id:str}/{stage:int}/decision",
        sync_to_thread=True,
        opt={"actions": ("accept", "pass_part", "approve", "deny", "not_accept")},
    )
    def decide(
        self, request: NodeRequest, ctx: Ctx, application_id: FromPath[str], stage: FromPath[int], data: URLEncodedBody[dict[str, str]]
    ) -> Response:
        try:
            reviews.decide(
                ctx.store,
                application_id,
                stage,
                data.get("decision", ""),
                data.get("reason", ""),
                request.user,
                rotation.signing_keys(ctx.sync.data_dir),
            )
        except ServiceError as exc:
            return _review_page(ctx, request.user, application_id, stage, status_code=exc.status, error=exc.message)
        ctx.sync.wake_uplink()
        return Redirect(f"/reviews/{application_id}/{stage}")


class ComplaintPages(Controller):
    @post("/complaints", sync_to_thread=True)
    def complaint(self, request: NodeRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        user = request.user
        application_id = data.get("application_id", "")
        try:
            done = cases.file_complaint(ctx.store, data.get("text", ""), user, application_id, data.get("contact", ""))
        except ServiceError as exc:
            if application_id:
                return page(ctx, "case.html", status_code=exc.status, user=user, error=exc.message, **_case_context(ctx, application_id))
            return _complaints_page(ctx, user, status_code=exc.status, error=exc.message, form=data)
        ctx.sync.wake_uplink()
        return Redirect(f"/applications/{application_id}?complaint={done['complaint_id']}" if application_id else "/complaints")


class FeePages(Controller):
    @get("/fees", sync_to_thread=True)
    def fees_page(self, request: NodeRequest, ctx: Ctx) -> Template:
        return _fees_page(ctx, request.user)

    @get("/fees/{receipt_no:str}", sync_to_thread=True)
    def fee_receipt(self, request: NodeRequest, ctx: Ctx, receipt_no: FromPath[str]) -> Template:
        """收费收据, printable."""
        user = request.user
        return page(ctx, "fee_receipt.html", user=user, r=fees.get_receipt(ctx.store, receipt_no), methods=fees.METHODS, yuan=fees.yuan)

    @post("/fees/{receipt_no:str}/void", sync_to_thread=True)
    def fee_void(self, request: NodeRequest, ctx: Ctx, receipt_no: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
        def act(user: dict[str, str]) -> str:
            fees.void_receipt(ctx.store, receipt_no, data.get("reason", ""), user, data.get("approver", ""), data.get("approver_password", ""))
            return f"收据 {receipt_no} 已作废"

        return _fee_action(ctx, request.user, act)

    @post("/fees/{receipt_no:str}/refund", sync_to_thread=True)
    def fee_refund(self, request: NodeRequest, ctx: Ctx, receipt_no: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
        def act(user: dict[str, str]) -> str:
            amount = fees.parse_fen(data.get("amount", ""), "amount")
            fees.refund(ctx.store, receipt_no, amount, data.get("reason", ""), user, data.get("approver", ""), data.get("approver_password", ""))
            return f"收据 {receipt_no} 已退费 {fees.yuan(amount)} 元"

        return _fee_action(ctx, request.user, act)

    @post("/fees/close", sync_to_thread=True)
    def fee_close(self, request: NodeRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Template:
        def act(user: dict[str, str]) -> str:
            closed = fees.close_day(ctx.store, user, fees.parse_fen(data.get("cash_counted", ""), "cash_counted"), data.get("note", ""))
            diff = closed["discrepancy_fen"]
            return f"日结完成（{closed['close_id']}）" + (
                f"：现金{'多出' if diff > 0 else '短少'} {fees.yuan(abs(diff))} 元，已记录" if diff else "：现金相符"
            )

        return _fee_action(ctx, request.user, act)

    @post("/fees/remit", sync_to_thread=True)
    def fee_remit(self, request: NodeRequest, ctx: Ctx, data: URLEncodedBody[dict[str, Any]]) -> Template:
        def act(user: dict[str, str]) -> str:
            ids = data.get("close_ids", [])
            ids = [ids] if isinstance(ids, str) else list(ids)
            done = fees.record_remittance(ctx.store, user, ids, fees.parse_fen(data.get("amount", ""), "amount"), str(data.get("bank_reference", "")))
            return f"解缴已登记（{done['remittance_id']}）"

        return _fee_action(ctx, request.user, act)

    @post("/fees/reconcile", sync_to_thread=True)
    def fee_reconcile(self, request: NodeRequest, ctx: Ctx, data: MultipartBody[dict[str, Any]]) -> Template:
        user = request.user
        upload = data.get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("请选择要导入的对账单（CSV 文件）", field="file")
            text = reconcile.statement_text(upload.file.read())
            day = fees.business_date(fees.utcnow())
            report = reconcile.reconcile(
                ctx.store, str(data.get("method", "")), text, str(data.get("date_from") or day), str(data.get("date_to") or day)
            )
        except ServiceError as exc:
            return _fees_page(ctx, user, status_code=exc.status, error=exc.message)
        return _fees_page(ctx, user, report=report)


CONTROLLERS = [
    HomePages,
    CatalogPages,
    ApplicationPages,
    ReviewPages,
    ComplaintPages,
    FeePages,
    *appointment_web.PAGES,
    *consultation_web.PAGES,
    *staff_web.PAGES,
]
