"""What each document of record says (central/documents.py), and the hub worker's issuing of the
documents actions asked for. The wording follows 行政许可法 (arts. 32, 38, 42, 45) and, for the
rights of review and lawsuit, 行政复议法 art. 20 (60 days) and 行政诉讼法 art. 46 (6 months). An
item's result words follow its category (许可, 给付, 确认, 办理: central/results.py), so a benefit
such as 低保 is not called a licence."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import parse_time
from weblayer.display import chinese_date, mask_id

from . import documents, results, sms
from .clocks import clocks_for
from .db import transaction
from .models import Alert, Application, ApprovalTask, CatalogItem, Department, Document, DocumentDue, Licence, Node
from .stages import TOWNSHIP, case_stages, township_of
from .workdays import BEIJING

log = logging.getLogger("yiwang.hub.documents")

RIGHTS = (
    "如不服本决定，可以自收到之日起六十日内向{county}人民政府申请行政复议，或者自收到之日起六个月内向人民法院提起行政诉讼"
    "（《中华人民共和国行政复议法》第二十条、《中华人民共和国行政诉讼法》第四十六条）。"
)


@dataclass(frozen=True)
class Facts:
    """What a document is made from: the case, its item, and the people and places it names."""

    app: Application
    item: dict[str, Any]
    context: dict[str, Any]
    county: str
    phone: str
    point: str
    names: dict[str, str]  # department code -> its name (as the county writes it), "township" -> the township's
    expected: str
    session: Session


def _opening(f: Facts) -> str:
    by = f"（代办人：{f.app.proxy_agent}）" if f.app.proxy_agent else ""
    return f"{f.app.applicant_name}{by}：您于{chinese_date(f.app.submitted_at)}在{f.point}申请办理“{f.app.item_name}”（受理编号 {f.app.receipt_no}）"


def _case_facts(f: Facts) -> list[list[str]]:
    return [["受理编号", f.app.receipt_no], ["事项", f.app.item_name], ["申请人", f"{f.app.applicant_name}（{mask_id(f.app.applicant_id_number)}）"]]


def _accepter(f: Facts) -> str:
    stages = case_stages(f.app)
    if stages and stages[0]["by"] == TOWNSHIP:
        return f.names[TOWNSHIP]
    return f.names.get(f.app.department, f.app.department)


def receipt(f: Facts) -> tuple[str, str, list[str], list[list[str]]]:
    paragraphs = [
        _opening(f) + "，所提交的申请材料已收到。本回执只证明材料已收到，不是受理决定。",
        f"是否受理由{_accepter(f)}在收到材料后 2 个工作日内决定，并告知您受理、不予受理或需要补正的材料；"
        "逾期不告知的，自收到申请材料之日起即为受理（《中华人民共和国行政许可法》第三十二条）。",
        f"承诺办结期限：自受理之日起 {f.item.get('time_limit_days', '')} 个工作日，最迟 {f.expected}。咨询电话：{f.phone}。",
    ]
    checked = json.loads(f.app.materials_checked or "[]")
    facts = (
        _case_facts(f)
        + [["收件服务点", f.point], ["收件时间", chinese_date(f.app.submitted_at)]]
        + ([["已核验原件", "、".join(checked)]] if checked else [])
    )
    return "收件回执", _accepter(f), paragraphs, facts


def supplement(f: Facts) -> tuple[str, str, list[str], list[list[str]]]:
    missing = f.context.get("missing") or json.loads(f.app.supplement_json or "[]")
    paragraphs = [
        _opening(f) + "，经审查，申请材料不齐全或者不符合法定形式，请一次补正以下全部材料：",
        *(f"{i}. {m}" for i, m in enumerate(missing, 1)),
        f"请将上述材料交到{f.point}。补正期间不计入办理时限；收到全部补正材料后，本机关在 2 个工作日内决定是否受理"
        "（《中华人民共和国行政许可法》第三十二条第一款第四项）。",
        f"咨询电话：{f.phone}。",
    ]
    return "补正材料通知书", _accepter(f), paragraphs, _case_facts(f)


def acceptance(f: Facts) -> tuple[str, str, list[str], list[list[str]]]:
    app = f.app
    if app.deemed_accepted:
        first = (
            _opening(f) + f"。本机关未在收到申请材料后 2 个工作日内告知是否受理，依照《中华人民共和国行政许可法》第三十二条，"
            f"自收到申请材料之日（{chinese_date(app.accepted_at)}）起即为受理。"
        )
    else:
        first = _opening(f) + f"，申请材料齐全、符合法定形式，本机关决定自{chinese_date(app.accepted_at)}起予以受理。"
    paragraphs = [
        first,
        f"本机关将自受理之日起 {app.limit_days} 个工作日内（{f.expected} 前）作出决定（法定期限 {app.statutory_days} 个工作日，"
        "《中华人民共和国行政许可法》第四十二条）。依法需要听证、检验、检测、鉴定、专家评审等的，所需时间不计入期限，并书面告知您（第四十五条）。",
        f"咨询电话：{f.phone}。",
    ]
    return "受理通知书", _accepter(f), paragraphs, _case_facts(f)


def non_acceptance(f: Facts) -> tuple[str, str, list[str], list[list[str]]]:
    paragraphs = [
        _opening(f) + "，经审查，本机关决定不予受理。",
        f"理由：{f.app.decision_reason}",
        "依据：《中华人民共和国行政许可法》第三十二条第一款。请取回申请材料原件；符合条件后可以重新申请。",
        RIGHTS.format(county=f.county),
    ]
    return "不予受理通知书", _accepter(f), paragraphs, _case_facts(f)


def _deciders(f: Facts) -> str:
    tasks = f.session.exec(select(ApprovalTask).where(ApprovalTask.application_id == f.app.id)).all()
    decided = [t for t in tasks if t.status == f.app.outcome] or [t for t in tasks if t.decided_at]
    return "、".join(dict.fromkeys(f.names.get(t.department, t.department) for t in decided)) or _accepter(f)


def decision(f: Facts) -> tuple[str, str, list[str], list[list[str]]]:
    word, approved_title, denied_title, _, _ = results.words(f.item.get("category", ""))
    app = f.app
    if app.outcome not in ("approved", "denied"):
        raise ValueError(f"the case is not decided ({app.outcome or app.status})")
    facts = [*_case_facts(f), ["受理日期", chinese_date(app.accepted_at)], ["决定日期", chinese_date(app.decided_at)]]
    if app.outcome == "approved":
        licence = f.session.exec(select(Licence).where(Licence.application_id == app.id)).first()
        paragraphs = [
            _opening(f) + f"，本机关于{chinese_date(app.accepted_at)}受理。经审查，符合法定条件、标准，决定准予{word}。",
            f"办理结果：{f.item.get('result_name') or app.item_name}。"
            + (f"电子证照编号 {licence.licence_no}，可在服务点打印，并可凭县中枢公钥离线核验。" if licence else ""),
            f"请到{f.point}领取结果，或申请邮寄送达。咨询电话：{f.phone}。",
        ]
        if licence:
            facts.append(["电子证照", licence.licence_no])
        return approved_title, _deciders(f), paragraphs, facts
    paragraphs = [
        _opening(f) + f"，本机关于{chinese_date(app.accepted_at)}受理。经审查，决定不予{word}。",
        f"理由：{app.decision_reason}",
        "依据：《中华人民共和国行政许可法》第三十八条第二款。" + RIGHTS.format(county=f.county),
    ]
    return denied_title, _deciders(f), paragraphs, facts


def service(f: Facts) -> tuple[str, str, list[str], list[list[str]]]:
    served = f.session.exec(
        select(Document).where(Document.application_id == f.app.id, col(Document.kind).in_(["decision", "non_acceptance"])).order_by(col(Document.id))
    ).all()
    c = f.context
    authorised = {"applicant": "申请人本人", "proxy": "受托代办人（凭受理时的委托代办授权书）"}.get(
        c.get("authorisation", ""), "凭申请人的授权委托书（照片存档）"
    )
    facts = [
        *_case_facts(f),
        ["送达文书", "；".join(f"{d.title} {d.number}" for d in served) or "办理结果"],
        ["受送达人", f.app.applicant_name],
        ["签收人", f"{c.get('collector_name', '')}（{mask_id(c.get('collector_id_number', ''))}）"],
        ["代收依据", authorised],
        ["送达方式", "直接送达（服务点窗口领取）"],
        ["送达地点", f.point],
        ["签收时间", chinese_date(c.get("at"))],
        ["签名", f"签收人在屏幕上签名，签名影像存档（SHA-256 {c['signature'][:16]}…）" if c.get("signature") else "（签名影像未送达县里）"],
    ]
    return "送达回证", f.point, ["上列文书已当面送达，签收人核对无误后签名。"], facts


def suspension(f: Facts) -> tuple[str, str, list[str], list[list[str]]]:
    c = f.context
    paragraphs = [
        _opening(f) + f"，本机关已于{chinese_date(f.app.accepted_at)}受理。",
        f"因{c.get('reason', '')}，需要进行{c.get('name', '')}。依照《中华人民共和国行政许可法》第四十五条，{c.get('name', '')}所需时间不计入办理期限；"
        "程序结束后，办理期限接续计算，本机关将另行告知办理结果。",
        f"咨询电话：{f.phone}。",
    ]
    facts = [*_case_facts(f), ["特别程序", c.get("name", "")], ["开始日期", chinese_date(c.get("at"))]]
    return "特别程序告知书", _deciders_pending(f), paragraphs, facts


def _deciders_pending(f: Facts) -> str:
    tasks = f.session.exec(select(ApprovalTask).where(ApprovalTask.application_id == f.app.id, ApprovalTask.stage == f.app.stage)).all()
    return "、".join(dict.fromkeys(f.names.get(t.department, t.department) for t in tasks)) or _accepter(f)


TEXTS: dict[str, Callable[[Facts], tuple[str, str, list[str], list[list[str]]]]] = {
    "receipt": receipt,
    "supplement": supplement,
    "acceptance": acceptance,
    "non_acceptance": non_acceptance,
    "decision": decision,
    "service": service,
    "suspension": suspension,
}


def _issuer_name(name: str, county: str) -> str:
    """县民政局 -> 示范县民政局: the county names itself on its documents."""
    return county + name[1:] if name.startswith("县") else name


def _issue(session: Session, row: DocumentDue, app: Application, facts: Facts, county: str, key: SigningKey) -> None:
    title, issuer, paragraphs, table = TEXTS[row.kind](facts)
    number = documents.number(session, row.kind, parse_time(row.created_at).astimezone(BEIJING).year, county)
    doc = {
        "number": number,
        "kind": row.kind,
        "title": title,
        "application_id": app.id,
        "receipt_no": app.receipt_no,
        "addressee": app.applicant_name,
        "issuer": issuer,
        "issued_at": row.created_at,
        "paragraphs": paragraphs,
        "facts": table,
    }
    event = documents.store(session, app, row.kind, doc, key)
    session.flush()  # a 送达回证 later in this batch names the decision issued here
    _tell(session, app, row.kind, event, facts)


def _tell(session: Session, app: Application, kind: str, event: str, f: Facts) -> None:
    """The citizen's SMS of the step this document records (central/sms.py), in its transaction;
    a decision's result also announces itself once the point holds it (held on ``event``)."""
    step = sms.DOCUMENT_STEPS.get(kind)
    if step is None or not app.sms_consent:
        return
    missing = f.context.get("missing") or json.loads(app.supplement_json or "[]")
    params = {
        "point": f.point,
        "date": sms.by_date(f.expected),
        "result": results.result_text(f.item.get("category", ""), app.outcome),
        "materials": sms.materials_text([str(m) for m in missing]),
    }
    sms.for_case(session, app, f"doc:{event}", step, **params)  # the event's id: ASCII, as a key sent in a header must be
    if kind == "decision" and not app.handover and app.delivered_at is None:
        sms.for_case(session, app, f"ready:{app.id}", "ready", after_event=event, point=f.point)


def issue_pending(engine: Engine, key: SigningKey, county: str, phone: str, limit: int = 100) -> int:
    """Make, sign, keep and send the documents actions asked for (oldest first); returns how many."""
    with Session(engine) as session:
        waiting = session.exec(select(DocumentDue).order_by(col(DocumentDue.id)).limit(limit)).all()
        apps = {a.id: a for a in session.exec(select(Application).where(col(Application.id).in_([d.application_id for d in waiting]))).all()}
    if not waiting:
        return 0
    expected = clocks_for(engine, list(apps.values()))
    with transaction(engine) as session:
        names = {d.code: _issuer_name(d.name, county) for d in session.exec(select(Department)).all()}
        for row in waiting:
            session.delete(session.get(DocumentDue, row.id))
            app = session.get(Application, row.application_id)
            if app is None:
                continue
            item_row = session.get(CatalogItem, app.item_code)
            item = json.loads(item_row.detail_json) if item_row else {}
            node = session.get(Node, app.node_id)
            township = township_of(session, app.node_id)
            facts = Facts(
                app=app,
                item=item,
                context=json.loads(row.context_json or "{}"),
                county=county,
                phone=item.get("phone_enquiry") or phone,
                point=node.name if node else app.node_id,
                names=names | {TOWNSHIP: township.name if township else "乡镇人民政府"},
                expected=expected[app.id].expected.isoformat() if app.id in expected else "",
                session=session,
            )
            try:
                with session.begin_nested():  # one document's failure undoes its own work only
                    _issue(session, row, app, facts, county, key)
            except (
                KeyError,
                ValueError,
                TypeError,
            ) as exc:  # a case the wording cannot describe, a document too large to send: say so, do not wedge the queue
                log.error("document %s of %s not made: %s", row.kind, app.id, exc)
                session.add(
                    Alert(kind="document.failed", message=f"{app.receipt_no} 的{row.kind}文书未能生成：{exc}"[:500], created_at=row.created_at)
                )
    return len(waiting)
