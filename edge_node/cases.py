"""Cases at the window: intake, pickup, and decisions arriving from the hub.
Each change commits together with its outbox event."""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from sync_protocol import (
    APPLICATION_DISPATCHED,
    APPLICATION_PICKED_UP,
    APPLICATION_RECEIVED,
    COMMITMENT_MATERIAL,
    COMPLAINT_FILED,
    EVALUATION_GIVEN,
    LICENCE_PREFIX,
    NOTICE_GIVEN,
    SUPPLEMENT_PROVIDED,
    SyncError,
    open_licence,
    unprintable,
)
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import appointments, forms, people, reviews
from .catalog import item_from_row, required_materials
from .fees import check_payment, collect_fee, mark_refund_due, yuan
from .intake import intake_refusal, person_name, validate_intake, validate_resident_id
from .materials import prepare_upload, record_material, store_upload
from .reviews import first_stage_here
from .store import Store, add_outbox, get_meta, next_counter, utcnow

STATUS_TEXT = {
    "supplement_requested": "需补正：请通知申请人补交材料",
    "submitted": "已提交，等待受理（乡镇或县级部门）",
    "accepted": "已受理，等待审核审批",
    "not_accepted": "不予受理：请告知申请人原因并退还材料",
    "approved": "已批准，待领取",
    "denied": "不予批准",
    "picked_up": "已领取",
    "dispatched": "已寄递",
    "revoked": "已撤销：告知承诺不实，办理结果撤销，请告知申请人",
}
EVALUATION_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


Upload = tuple[str, str, bytes]  # (material name, file name, bytes)
AUTHORISATION = "委托代办授权书"
SIGNATURE = "委托代办授权书（手写签名）"
PICKUP_SIGNATURE = "送达回证（领取人手写签名）"  # the collector's signature at pickup: a material of the case
PICKUP_AUTHORISATION = "领取授权委托书"  # someone else collecting: the applicant's signed letter, photographed
COMMITMENT = COMMITMENT_MATERIAL  # 告知承诺制: the signed commitment, photographed or drawn on screen


# free text a person types at the window, in characters (sync_protocol.record_size bounds the
# whole record in bytes behind these)
TEXT_LIMITS = {"text": ("投诉内容", 2000), "contact": ("联系方式", 100), "comment": ("意见", 500)}
MAX_CHECKED = 50  # materials ticked as seen on one application
MAX_NAME_CHARS = 100  # one material's name


def bounded(value: str, field: str) -> str:
    """``value`` if it is within its field's limit, else a clear InvalidInput naming the field."""
    label, most = TEXT_LIMITS[field]
    if len(value) > most:
        raise InvalidInput(f"{label}最多 {most} 个字（现在 {len(value)} 个），请精简后再提交", field=field)
    if unprintable(value):
        raise InvalidInput(f"{label}中有无法打印的控制字符，请删除后重新输入", field=field)
    return value


def submit_application(
    store: Store,
    form: Mapping[str, Any],
    agent: Mapping[str, str],
    blobs_dir: Path | None = None,
    uploads: Sequence[Upload] = (),
    checked: Sequence[str] = (),
    payment: tuple[str, str] | None = None,
    licences: Sequence[Mapping[str, str]] = (),
    point_kind: str = "village",
) -> dict[str, Any]:
    """Validate everything first, then write the application, its materials and their outbox
    events in one transaction. (Files are stored content-addressed before it; an orphan file
    left by a crash is harmless.)"""
    items = {row["code"]: row for row in store.query("SELECT * FROM catalog_items")}
    claimed = items.get(str(form.get("item_code") or "").strip())
    intake = validate_intake(form, set(items), legal_person=claimed is not None and item_from_row(claimed).get("service_object") == "legal")
    detail = item_from_row(items[intake.item_code])  # the item as the catalog row holds it, parsed once
    if refusal := intake_refusal(detail, point_kind, intake.by_proxy):
        raise refusal  # before the fee: a point that may not take the item in may not charge for it
    if intake.home_visit and not detail.get("home_visit"):
        raise InvalidInput("本事项不提供上门办理（上门办理限社会救助、帮扶类事项）", field="home_visit")
    fee_fen = items[intake.item_code]["fee_fen"]
    if fee_fen:  # the fee comes from the catalog, never from the form
        if payment is None:
            raise InvalidInput(f"本事项收费 {yuan(fee_fen)} 元：请选择收费方式", field="payment_method")
        check_payment(fee_fen, *payment)
    item = items[intake.item_code]
    filled = forms.check(detail, form.get("form"))
    if len(checked) > MAX_CHECKED or any(len(name) > MAX_NAME_CHARS for name in checked):
        raise InvalidInput(f"核验材料清单无效：最多 {MAX_CHECKED} 项，每项最多 {MAX_NAME_CHARS} 个字", field="materials_checked")
    replaced = committed(detail, form)  # 告知承诺制: the applicant's signed commitment stands in for these
    if replaced and not any(name == COMMITMENT for name, _, _ in uploads):
        raise InvalidInput("选择告知承诺的，须上传申请人签字的告知承诺书（照片或在屏幕上签名）", field="commitment")
    seen = set(checked) | {name for name, _, _ in uploads} | {lic["material"] for lic in licences} | set(replaced)
    missing = [m for m in required_materials(detail) if m not in seen]
    if missing:
        # the window never forwards an incomplete case: tell the applicant everything at once (一次性告知)
        raise InvalidInput(f"缺少以下材料，不能受理，请打印一次性告知书交给申请人：{'、'.join(missing)}", field="materials")
    if intake.by_proxy and not any(name in (AUTHORISATION, SIGNATURE) for name, _, _ in uploads):
        # 委托代办: the applicant's consent, signed on screen or on paper, is part of the case
        raise InvalidInput("代办须有申请人的授权：请申请人在屏幕上签名，或上传其签字的委托书照片", field="signature")
    # the signature drawn on screen goes through photos.optimise too: a PNG, kept as one when smaller
    prepared = [(name, prepare_upload(name, filename, content, field=f"file_{i}")) for i, (name, filename, content) in enumerate(uploads)]
    if prepared and blobs_dir is None:
        raise ValueError("uploads need the node's blobs directory")
    stored = [(name, store_upload(blobs_dir, upload)) for name, upload in prepared]  # type: ignore[arg-type]
    accepted_here = accepts_here(detail, point_kind)
    with store.write() as conn:
        node_id = get_meta(conn, "node_id")
        receipt_no = f"{node_id}-{next_counter(conn, 'receipt'):06d}"
        now = utcnow()
        app = {
            "id": str(uuid.uuid4()),
            "receipt_no": receipt_no,
            "item_code": intake.item_code,
            "item_name": item["name"],
            "department_name": item["department_name"],
            "applicant_name": intake.applicant_name,
            "applicant_id_number": intake.applicant_id_number,
            "applicant_phone": intake.applicant_phone,
            "proxy_agent": agent["display_name"] if intake.by_proxy else "",
            "agent_username": agent["username"],
            "status": "accepted" if accepted_here else "submitted",
            "accepted_at": now if accepted_here else None,
            "created_at": now,
            "materials_checked": json.dumps(list(checked), ensure_ascii=False),
            "form_json": json.dumps(filled, ensure_ascii=False),
            "catalog_version": int(get_meta(conn, "catalog_version", "0")),
            "commitment": int(bool(replaced)),
            "sms_consent": int(intake.sms_consent),
            "home_visit": intake.home_visit,
        }
        conn.execute(f"INSERT INTO applications ({', '.join(app)}) VALUES ({', '.join('?' * len(app))})", tuple(app.values()))
        if appointment_id := str(form.get("appointment_id") or "").strip():
            appointments.serve_in(conn, appointment_id, app["id"], agent["username"])  # the booking this case came from
        add_outbox(
            conn,
            APPLICATION_RECEIVED,
            {k: app[k] for k in ("receipt_no", "item_code", "item_name", "applicant_name", "applicant_id_number", "applicant_phone", "proxy_agent")}
            | {"application_id": app["id"], "agent": agent["username"], "materials_checked": list(checked)}
            | ({"licences": [dict(lic) for lic in licences]} if licences else {})
            | ({"form": filled, "catalog_version": app["catalog_version"]} if filled else {})
            | ({"accepted_by": agent["display_name"]} if accepted_here else {})
            | ({"commitment": True} if replaced else {})
            | ({"sms_consent": True} if intake.sms_consent else {})
            | ({"home_visit": intake.home_visit} if intake.home_visit else {}),
            at=now,
        )
        for name, file in stored:
            record_material(conn, app["id"], name, file, agent)
        if point_kind == "township":
            first_stage_here(conn, app, detail)
        if fee_fen:
            app["fee_receipt"] = collect_fee(conn, fee_fen, payment[0], payment[1], intake.applicant_name, agent, app["id"], intake.item_code)  # type: ignore[index]
    return app


def committed(item: Mapping[str, Any], form: Mapping[str, Any]) -> list[str]:
    """告知承诺制: the materials the applicant's written commitment replaces, when the form chose it
    (``commitment``) for an item the catalog marks for it; InvalidInput for any other item."""
    if str(form.get("commitment", "")).lower() not in ("1", "on", "true", "yes"):
        return []
    commitment = item.get("commitment")
    if not isinstance(commitment, dict):
        raise InvalidInput(f"“{item['name']}”不实行告知承诺制，请提交全部材料", field="commitment")
    return list(commitment["replaces"])


def accepts_here(item: Mapping[str, Any], point_kind: str) -> bool:
    """Whether this window accepts (受理) the item when it takes it in: a township centre, for an
    item the county delegates the acceptance of to the township (``accepts: township``). A village
    point never does: it collects (收件), and the accepting side accepts later."""
    return point_kind == "township" and item.get("accepts") == "township"


def checked_materials(item: Mapping[str, Any], form: Mapping[str, Any]) -> list[str]:
    """Required materials whose originals the agent ticked as seen (``have_<i>``)."""
    return [name for i, name in enumerate(required_materials(dict(item))) if str(form.get(f"have_{i}", "")).lower() in ("1", "on", "true", "yes")]


def png_from_base64(text: str, field: str) -> bytes:
    """A signature or photo sent as base64 PNG bytes; InvalidInput naming ``field`` if it is not."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise InvalidInput("签名图片无效，请清除后重新签名", field=field) from None


def drawn_signature(data_url: str) -> bytes:
    """A signature drawn on a page's canvas, as the form sends it (a PNG data: URL); b"" for none."""
    if not data_url:
        return b""
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix) or len(data_url) > 3_000_000:
        raise InvalidInput("签名图片无效，请清除后重新签名", field="signature")
    return png_from_base64(data_url[len(prefix) :], "signature")


def authorisation_uploads(signature_data_url: str, photo: Upload | None) -> list[Upload]:
    """The proxy authorisation as uploads: a PNG drawn on screen (a data: URL) and/or a photo."""
    out: list[Upload] = []
    if signature_data_url:
        out.append((SIGNATURE, "signature.png", drawn_signature(signature_data_url)))
    if photo is not None:
        out.append((AUTHORISATION, photo[1], photo[2]))
    return out


def missing_materials(
    item: Mapping[str, Any], form: Mapping[str, Any], uploads: Sequence[Upload], licences: Sequence[Mapping[str, str]] = ()
) -> list[str]:
    """Required materials neither checked as seen, photographed at the window, nor replaced by an
    e-licence or the applicant's commitment."""
    seen = set(checked_materials(item, form)) | {name for name, _, _ in uploads} | {lic["material"] for lic in licences} | set(committed(item, form))
    return [name for name in required_materials(dict(item)) if name not in seen]


def issue_notice(store: Store, form: Mapping[str, Any], item: Mapping[str, Any], missing: Sequence[str], agent: Mapping[str, str]) -> dict[str, Any]:
    """一次性告知: record and return a numbered notice listing EVERY missing material at once."""
    intake = validate_intake(form, {item["code"]}, legal_person=item.get("service_object") == "legal")
    with store.write() as conn:
        node_id = get_meta(conn, "node_id")
        notice = {
            "notice_no": f"{node_id}-N{next_counter(conn, 'notice'):06d}",
            "item_code": item["code"],
            "item_name": item["name"],
            "applicant_name": intake.applicant_name,
            "applicant_id_number": intake.applicant_id_number,
            "missing_json": json.dumps(list(missing), ensure_ascii=False),
            "agent_username": agent["username"],
            "created_at": utcnow(),
        }
        conn.execute(f"INSERT INTO notices ({', '.join(notice)}) VALUES ({', '.join('?' * len(notice))})", tuple(notice.values()))
        given = {k: notice[k] for k in ("notice_no", "item_code", "item_name", "applicant_name", "applicant_id_number")}
        add_outbox(
            conn, NOTICE_GIVEN, given | {"missing": list(missing), "agent": agent["username"]}, at=notice["created_at"]
        )  # kept at the county too
    return notice | {"missing": list(missing)}


def get_notice(store: Store, notice_no: str) -> dict[str, Any]:
    """A one-time notice as given, to print again."""
    row = store.one("SELECT * FROM notices WHERE notice_no = ?", (notice_no,))
    if row is None:
        raise NotFound("没有这份一次性告知单")
    return dict(row) | {"missing": json.loads(row["missing_json"])}


def known_applicant(store: Store, id_number: str) -> dict[str, Any] | None:
    """一号申请: what this point already knows about the holder of ``id_number``."""
    rows = store.query("SELECT * FROM applications WHERE applicant_id_number = ? ORDER BY created_at DESC", (id_number,))
    if not rows:
        return None
    latest = rows[0]
    return {"applicant_name": latest["applicant_name"], "applicant_phone": latest["applicant_phone"], "history": [dict(r) for r in rows]}


def holder_licences(store: Store, id_number: str) -> list[dict[str, Any]]:
    """E-licences this point holds for ``id_number``: results it handed out, newest first, then
    those the county sent in its last answer about the person (people.py; offline too)."""
    rows = store.query(
        "SELECT l.licence_no, l.text, a.item_code, a.item_name FROM licences l JOIN applications a ON a.id = l.application_id "
        "WHERE a.applicant_id_number = ? AND l.revoked_at IS NULL ORDER BY l.received_at DESC",
        (id_number,),
    )
    own = [dict(r) for r in rows]
    seen = {lic["licence_no"] for lic in own}
    return own + [
        {k: lic.get(k, "") for k in ("licence_no", "text", "item_code", "item_name")}
        for lic in people.cached_licences(store, id_number)
        if lic.get("licence_no") not in seen
    ]


def licences_in_place(store: Store, hub_key: VerifyKey, item: Mapping[str, Any], id_number: str, chosen: Mapping[str, str]) -> list[dict[str, str]]:
    """Materials an e-licence stands in for (电子证照代替纸质材料): ``chosen`` maps a material to a
    licence number this point holds or to a licence's full text the applicant shows. Each is
    verified offline with the pinned hub key and must be the applicant's and of the item the
    catalog names for that material."""
    wanted = {m["name"]: m["licence_item"] for m in item.get("materials", []) if isinstance(m, dict) and m.get("licence_item")}
    held = {lic["licence_no"]: lic["text"] for lic in holder_licences(store, id_number)}
    used = []
    for material, given in chosen.items():
        given = given.strip()
        if not given:
            continue
        if material not in wanted:
            raise InvalidInput(f"“{material}”不能用电子证照代替", field="licences")
        if given not in held and not given.startswith(LICENCE_PREFIX):
            raise InvalidInput(
                f"本服务点没有电子证照 {given}：请申请人出示证照全文（结果通知上的证照文本），离线核验后即可代替“{material}”", field="licences"
            )
        doc = verify_licence(held.get(given, given), hub_key)
        if store.one("SELECT 1 FROM licences WHERE licence_no = ? AND revoked_at IS NOT NULL", (doc["licence_no"],)):
            raise InvalidInput(f"电子证照 {doc['licence_no']} 已撤销，不能代替“{material}”", field="licences")
        if doc.get("holder_id", "").upper() != id_number.upper() or doc.get("item_code") != wanted[material]:
            raise InvalidInput(f"电子证照 {doc.get('licence_no', '')} 不是申请人本人的“{material}”，不能代替", field="licences")
        used.append({"material": material, "licence_no": doc["licence_no"]})
    return used


def get_application(store: Store, application_id: str) -> sqlite3.Row:
    row = store.one("SELECT * FROM applications WHERE id = ?", (application_id,))
    if row is None:
        raise NotFound("没有找到这个办件")
    return row


HANDOVER = ("approved", "denied", "not_accepted")  # a result (or the notice why not) is waiting for the citizen


def _ready_for_handover(conn: sqlite3.Connection, application_id: str, action: str) -> sqlite3.Row:
    """The case, if its result has arrived and has not been handed over yet."""
    row = conn.execute("SELECT status, applicant_id_number FROM applications WHERE id = ?", (application_id,)).fetchone()
    if row is None:
        raise NotFound("没有找到这个办件")
    if row["status"] not in HANDOVER:
        raise Conflict(f"结果尚未送达本服务点，或已经领取 / 寄递，不能办理{action}")
    return row


def record_pickup(
    store: Store,
    blobs_dir: Path,
    application_id: str,
    collector_name: str,
    agent: Mapping[str, str],
    collector_id_number: str = "",
    signature: bytes = b"",
    authorisation: Upload | None = None,
) -> sqlite3.Row:
    """统一窗口出件 with its 送达回证: the result is handed over to a collector whose ID the agent
    checked and who signs on screen. Someone other than the applicant needs the applicant's
    authorisation: the case's own 代办人 has it from the intake; anyone else brings a signed
    授权委托书, photographed here. The signature and the letter are materials of the case."""
    collector_name = person_name(collector_name, "collector_name", "领取人姓名")
    # the collector's card is in the clerk's hand at the counter: an unlisted region code is no reason to withhold a result
    collector_id = validate_resident_id(collector_id_number, field="collector_id_number", who="领取人", region_confirmed=True)
    if not signature:
        raise InvalidInput("请领取人在屏幕上签名确认（送达回证）", field="signature")
    row = get_application(store, application_id)
    with store.write() as conn:  # refused before any file is written: a refusal leaves nothing behind
        _ready_for_handover(conn, application_id, "领取")
    if collector_id == row["applicant_id_number"]:
        authorised = "applicant"
    elif row["proxy_agent"] and collector_name == row["proxy_agent"].strip():
        authorised = "proxy"
    elif authorisation is None:
        proxy = f"“{row['proxy_agent']}”" if row["proxy_agent"] else ""
        raise InvalidInput(f"代领须出示申请人签字的授权委托书：请拍照上传（申请人本人或受理时登记的代办人{proxy}领取不需要）", field="authorisation")
    else:
        authorised = ""
    prepared = [(PICKUP_SIGNATURE, prepare_upload(PICKUP_SIGNATURE, "signature.png", signature, field="signature"))]
    if not prepared[0][1].media_type.startswith("image/"):
        raise InvalidInput("签名应为在屏幕上手写的图片，请清除后重新签名", field="signature")
    if authorised == "" and authorisation is not None:
        prepared.append((PICKUP_AUTHORISATION, prepare_upload(PICKUP_AUTHORISATION, authorisation[1], authorisation[2], field="authorisation")))
    stored = {name: store_upload(blobs_dir, upload) for name, upload in prepared}
    with store.write() as conn:
        _ready_for_handover(conn, application_id, "领取")
        now = utcnow()
        for name, file in stored.items():
            record_material(conn, application_id, name, file, agent)
        conn.execute(
            "UPDATE applications SET status = 'picked_up', picked_up_at = ?, picked_up_by = ?, collector_id_number = ? WHERE id = ?",
            (now, collector_name, collector_id, application_id),
        )
        add_outbox(
            conn,
            APPLICATION_PICKED_UP,
            {
                "application_id": application_id,
                "collector_name": collector_name,
                "agent": agent["username"],
                "collector_id_number": collector_id,
                "collector_is_applicant": authorised == "applicant",
                "signature": stored[PICKUP_SIGNATURE].sha256,
                "authorisation": authorised or stored[PICKUP_AUTHORISATION].sha256,
            },
            at=now,
        )
    return get_application(store, application_id)


def record_dispatch(store: Store, application_id: str, courier: str, tracking_no: str, agent: Mapping[str, str]) -> sqlite3.Row:
    """The result sent by courier (邮寄送达) instead of collected."""
    courier, tracking_no = courier.strip(), tracking_no.strip()
    if not courier:
        raise InvalidInput("请填写快递公司", field="courier")
    if not tracking_no:
        raise InvalidInput("请填写快递单号", field="tracking_no")
    with store.write() as conn:
        _ready_for_handover(conn, application_id, "寄递")
        now = utcnow()
        conn.execute(
            "UPDATE applications SET status = 'dispatched', courier = ?, tracking_no = ?, dispatched_at = ? WHERE id = ?",
            (courier, tracking_no, now, application_id),
        )
        add_outbox(
            conn,
            APPLICATION_DISPATCHED,
            {"application_id": application_id, "courier": courier, "tracking_no": tracking_no, "agent": agent["username"]},
            at=now,
        )
    return get_application(store, application_id)


def record_evaluation(store: Store, application_id: str, level: int, comment: str = "") -> dict[str, Any]:
    """好差评: once per case, after the result was handed over; 1 (非常不满意) to 5 (非常满意)."""
    if level not in EVALUATION_LEVELS:
        raise InvalidInput("请选择 1 到 5 星的评价", field="level")
    comment = bounded(comment, "comment")
    if level <= 2 and not comment.strip():
        raise InvalidInput("差评请写明不满意的原因，便于整改回访", field="comment")
    with store.write() as conn:
        row = conn.execute("SELECT status FROM applications WHERE id = ?", (application_id,)).fetchone()
        if row is None:
            raise NotFound("没有找到这个办件")
        if row["status"] not in ("picked_up", "dispatched"):
            raise Conflict("办结送达后才能评价")
        if conn.execute("SELECT 1 FROM evaluations WHERE application_id = ?", (application_id,)).fetchone():
            raise Conflict("这件事已经评价过了")
        now = utcnow()
        conn.execute(
            "INSERT INTO evaluations (application_id, level, comment, created_at) VALUES (?, ?, ?, ?)", (application_id, level, comment.strip(), now)
        )
        add_outbox(conn, EVALUATION_GIVEN, {"application_id": application_id, "level": level, "comment": comment.strip()}, at=now)
    return {"application_id": application_id, "level": level, "level_text": EVALUATION_LEVELS[level], "comment": comment.strip()}


def file_complaint(store: Store, text: str, agent: Mapping[str, str], application_id: str = "", contact: str = "") -> dict[str, Any]:
    """A complaint recorded at the window and sent up; the county must answer within 24 hours."""
    text, contact = bounded(text.strip(), "text"), bounded(contact.strip(), "contact")
    if len(text) < 5:
        raise InvalidInput("请把投诉的事情写清楚（至少 5 个字）", field="text")
    if application_id and store.one("SELECT 1 FROM applications WHERE id = ?", (application_id,)) is None:
        raise NotFound("没有找到这个办件")
    with store.write() as conn:
        complaint = {
            "complaint_id": f"{get_meta(conn, 'node_id')}-T{next_counter(conn, 'complaint'):06d}",
            "application_id": application_id or None,
            "contact": contact,
            "text": text,
            "agent_username": agent["username"],
            "created_at": utcnow(),
        }
        conn.execute(f"INSERT INTO complaints ({', '.join(complaint)}) VALUES ({', '.join('?' * len(complaint))})", tuple(complaint.values()))
        data = {"complaint_id": complaint["complaint_id"], "text": text} | {
            k: v for k, v in (("application_id", application_id), ("contact", complaint["contact"])) if v
        }
        add_outbox(conn, COMPLAINT_FILED, data, at=complaint["created_at"])
    return complaint


def decide_on_the_spot(
    store: Store, application_id: str, decision: str, reason: str, user: Mapping[str, str], node_kind: str, keys: Sequence[SigningKey] = ()
) -> sqlite3.Row:
    """即办件 (and any item the township decides alone): the township approver decides its own case
    at the window; the decision is the case's township stage (reviews.decide), sent up as
    stage.decided, and no county department has a part in it."""
    if user.get("role") != reviews.APPROVER:
        raise Forbidden("只有乡镇审批人可以当场办结即办件")
    if node_kind != "township":
        raise Forbidden("即办件只能在乡镇便民服务中心当场办结")
    row = store.one(
        "SELECT a.status, r.final FROM applications a LEFT JOIN reviews r ON r.application_id = a.id AND r.stage = 0 WHERE a.id = ?",
        (application_id,),
    )
    if row is None:
        raise NotFound("没有找到这个办件")
    if not row["final"]:
        raise Forbidden("这个事项不是授权乡镇当场办结的即办件，须由县级部门审批")
    if row["status"] not in ("submitted", "accepted"):
        raise Conflict("这个办件已经有结果了")
    reviews.decide(store, application_id, 0, decision, reason, user, keys)  # an approval's result is signed here (keys: this node's)
    return get_application(store, application_id)


def verify_licence(text: str, hub_key: VerifyKey) -> dict[str, Any]:
    """An e-licence's document, if the hub key this node pinned signed it; offline."""
    try:
        return open_licence(text, hub_key)
    except SyncError:
        raise InvalidInput("无效：这份电子证照不是县级中枢签发的，或内容已被改动", field="text") from None


def apply_supplement_request(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """The hub's complete list of missing materials (inside the downlink transaction)."""
    conn.execute(
        "UPDATE applications SET status = 'supplement_requested', supplement_json = ? WHERE id = ? AND status = 'submitted'",
        (json.dumps(list(data["missing"]), ensure_ascii=False), data["application_id"]),
    )


def provide_supplement(
    store: Store, blobs_dir: Path, application_id: str, uploads: Sequence[Upload], checked: Sequence[str], agent: Mapping[str, str], note: str = ""
) -> sqlite3.Row:
    """补正: every item on the hub's list must be checked as seen or photographed; the materials and
    the supplement.provided event go up in one transaction, and the case returns to the clerk."""
    row = get_application(store, application_id)
    if row["status"] != "supplement_requested":
        raise Conflict("这个办件没有待补正的材料")
    wanted = json.loads(row["supplement_json"])
    provided = set(checked) | {name for name, _, _ in uploads}
    still = [m for m in wanted if m not in provided]
    if still:
        raise InvalidInput(f"还缺：{'、'.join(still)}。县里的补正清单须一次补齐", field="supplement")
    prepared = [(name, prepare_upload(name, filename, content, field=f"file_{i}")) for i, (name, filename, content) in enumerate(uploads)]
    stored = [(name, store_upload(blobs_dir, upload)) for name, upload in prepared]
    with store.write() as conn:
        now = utcnow()
        for name, file in stored:
            record_material(conn, application_id, name, file, agent)
        conn.execute("UPDATE applications SET status = 'submitted', supplement_json = '[]' WHERE id = ?", (application_id,))
        add_outbox(
            conn,
            SUPPLEMENT_PROVIDED,
            {"application_id": application_id, "materials": wanted, "agent": agent["username"]} | ({"note": note.strip()} if note.strip() else {}),
            at=now,
        )
    return get_application(store, application_id)


def apply_acceptance(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """受理 at the county (inside the downlink transaction)."""
    conn.execute(
        "UPDATE applications SET status = 'accepted', accepted_at = ? WHERE id = ? AND status = 'submitted'", (data["at"], data["application_id"])
    )


def apply_non_acceptance(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """不予受理 with its reason: the window tells the citizen and returns the originals. Applied
    once, like a decision; a case already handed back (a restore applies the hub's notices after
    the point's own pickups) keeps that status but still carries the notice."""
    conn.execute(
        "UPDATE applications SET status = CASE WHEN status = 'submitted' THEN 'not_accepted' ELSE status END, decision = 'not_accepted', decision_reason = ?, decided_by = ?, decided_at = ? "
        "WHERE id = ? AND decided_at IS NULL",
        (data["reason"], data["by"], data["at"], data["application_id"]),
    )
    mark_refund_due(conn, data["application_id"], "不予受理")


def apply_suspension(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """A special procedure stops the case's time limit (inside the downlink transaction): the
    window tells the applicant what and why. Applied once."""
    conn.execute(
        "INSERT OR IGNORE INTO clock_pauses (application_id, kind, name, reason, started_at, started_by) VALUES (?, ?, ?, ?, ?, ?)",
        (data["application_id"], data["kind"], data["name"], data["reason"], data["at"], data["by"]),
    )


def apply_resumption(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    conn.execute("UPDATE clock_pauses SET ended_at = ? WHERE application_id = ? AND ended_at IS NULL", (data["at"], data["application_id"]))


def apply_complaint_answer(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """The county's first or final answer to a complaint filed here (inside the downlink
    transaction): the window tells the complainant. Once per stage."""
    if data["stage"] == "first":
        conn.execute(
            "UPDATE complaints SET first_answer = ?, first_answered_at = ? WHERE complaint_id = ? AND first_answered_at IS NULL",
            (data["answer"], data["at"], data["complaint_id"]),
        )
    else:
        conn.execute(
            "UPDATE complaints SET answer = ?, answered_at = ?, answered_by = ? WHERE complaint_id = ? AND answered_at IS NULL",
            (data["answer"], data["at"], data["by"], data["complaint_id"]),
        )


def apply_rating(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """The citizen rated the case on their own phone (inside the downlink transaction): the
    county keeps the first rating of a case, so its record replaces one given here meanwhile."""
    conn.execute(
        "INSERT INTO evaluations (application_id, level, comment, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(application_id) DO UPDATE SET level = excluded.level, comment = excluded.comment, created_at = excluded.created_at",
        (data["application_id"], data["level"], data["comment"], data["at"]),
    )


def apply_revocation(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """告知承诺制: the county found the commitment false and revoked the decision (inside the
    downlink transaction): the case and its e-licence say so. Applied once."""
    conn.execute(
        "UPDATE applications SET status = 'revoked', decision = 'revoked', decision_reason = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status != 'revoked'",
        (f"告知承诺不实，撤销办理结果：{data['reason']}", data["by"], data["at"], data["application_id"]),
    )
    conn.execute("UPDATE licences SET revoked_at = ? WHERE application_id = ? AND revoked_at IS NULL", (data["at"], data["application_id"]))
    mark_refund_due(conn, data["application_id"], "办理结果已撤销")


def apply_decision(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """A decision from the hub (inside the downlink transaction). Applied once: a case that
    already carries a decision keeps it; a case already picked up keeps that status."""
    conn.execute(
        "UPDATE applications SET status = CASE WHEN status IN ('submitted', 'accepted') THEN ? ELSE status END, "
        "decision = ?, decision_reason = ?, decided_by = ?, decided_at = ? WHERE id = ? AND decided_at IS NULL",
        (data["decision"], data["decision"], data.get("reason", ""), data["decided_by"], data["decided_at"], data["application_id"]),
    )
    if data["decision"] == "denied":
        mark_refund_due(conn, data["application_id"], "不予批准")
