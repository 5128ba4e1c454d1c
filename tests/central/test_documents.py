"""Documents of record (issue 20, "No documents of record"): every step the law puts in writing
leaves a document, numbered per county, year and kind, signed with the hub key, kept, and sent to
the point; it verifies offline and a tampered one is refused; a benefit is not called a licence;
a refusal carries its reason and the rights of review and lawsuit; the 送达回证 names the
document it served and how the collector was authorised."""

from __future__ import annotations

import base64
import json

import pytest
from nacl.signing import SigningKey
from sqlalchemy import text
from sqlmodel import Session, select

from central import approval, clocks, document_texts
from central.auth import add_user
from central.ingest import ingest_batch
from central.models import Alert, Document, DocumentDue, DownlinkEvent, OneTimeNotice, User
from sync_protocol import BadSignature, Record, open_document
from tests.support.builders import HUB_KEY, T, chain, received

MON = "2026-11-02T02:00:00.000000Z"


def clerk(engine, username: str) -> User:
    with Session(engine) as s:
        return s.get(User, username)


def issue(engine) -> int:
    return document_texts.issue_pending(engine, HUB_KEY, "示范县", "12345")


def docs(engine, app_id: str) -> list[dict]:
    with Session(engine) as s:
        rows = s.exec(select(Document).where(Document.application_id == app_id).order_by(Document.id)).all()
        return [open_document(d.text, HUB_KEY.verify_key) for d in rows]


def test_each_step_leaves_a_numbered_signed_document_the_point_receives(engine):
    add_user(engine, "clerk-scj", "孙立", "clerk", "pw", department="scj")
    batch = chain([received(1), received(2, item="SC-001"), received(3)])[0]
    ingest_batch(engine, "yiwang.up.shangcun", batch)
    mzj = clerk(engine, "clerk-mzj")
    approval.request_supplement(engine, mzj, "app1", ["户口簿", "银行卡"])
    approval.accept(engine, mzj, "app3")
    approval.decide(engine, mzj, "app3", "approve", "", HUB_KEY)
    approval.decide(engine, clerk(engine, "clerk-scj"), "app2", "deny", "经营场所为住宅，未取得利害关系人同意", HUB_KEY)
    assert issue(engine) == 8 and issue(engine) == 0  # 3 收件回执, 1 补正, 2 受理 (app2: 受理并办结), 2 决定: once each
    receipt, supplement = docs(engine, "app1")
    assert (receipt["title"], receipt["number"]) == ("收件回执", "示范县收字〔2026〕第 1 号")
    assert receipt["addressee"] == "张三" and any("2 个工作日内决定" in p for p in receipt["paragraphs"])
    assert any(
        "承诺办结期限：自受理之日起 10 个工作日" in p and "咨询电话：0000-6120903" in p for p in receipt["paragraphs"]
    )  # the item's own number
    assert supplement["title"] == "补正材料通知书" and "1. 户口簿" in supplement["paragraphs"] and "2. 银行卡" in supplement["paragraphs"]
    assert supplement["issuer"] == "示范县民政局"
    kinds = {d["kind"]: d for d in docs(engine, "app3")}
    assert set(kinds) == {"receipt", "acceptance", "decision"}
    assert kinds["acceptance"]["number"] == "示范县受字〔2026〕第 1 号" and "个工作日内" in kinds["acceptance"]["paragraphs"][1]
    granted = kinds["decision"]
    assert (
        granted["title"] == "给付决定书" and "准予给付" in granted["paragraphs"][0] and "许可" not in "".join(granted["paragraphs"])
    )  # 高龄津贴 is a benefit
    assert any(label == "电子证照" for label, _ in granted["facts"])
    refused = {d["kind"]: d for d in docs(engine, "app2")}["decision"]
    assert refused["title"] == "不予行政许可决定书" and refused["number"] == "示范县决字〔2026〕第 2 号"
    assert "理由：经营场所为住宅，未取得利害关系人同意" in refused["paragraphs"]
    assert any("六十日内" in p and "行政复议" in p and "六个月内" in p and "行政诉讼" in p for p in refused["paragraphs"])  # 行政许可法 art. 38
    assert refused["issuer"] == "示范县市场监督管理局"
    with Session(engine) as s:
        sent = [json.loads(e.data_json) for e in s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "document.issued")).all()]
        stored = {d.number: d.text for d in s.exec(select(Document)).all()}
    assert len(sent) == 8 and all(stored[e["number"]] == e["text"] for e in sent)


def test_a_document_verifies_offline_and_a_tampered_or_foreign_one_is_refused(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    issue(engine)
    with Session(engine) as s:
        signed = s.exec(select(Document)).one().text
    assert open_document(signed, HUB_KEY.verify_key)["kind"] == "receipt"
    raw = bytearray(base64.urlsafe_b64decode(signed[5:] + "=" * (-len(signed[5:]) % 4)))
    raw[-3] ^= 1  # one bit of the body changed
    with pytest.raises(BadSignature):
        open_document("YWC1." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), HUB_KEY.verify_key)
    with pytest.raises(BadSignature):
        open_document(signed, SigningKey(bytes(32)).verify_key)


def test_non_acceptance_deemed_acceptance_and_the_service_receipt(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), received(2)])[0])
    approval.not_accept(engine, clerk(engine, "clerk-mzj"), "app1", "申请人不属于本县户籍")
    with engine.begin() as conn:
        conn.execute(text("UPDATE application SET received_at = :t WHERE id = 'app2'"), {"t": MON})
    from datetime import date

    assert clocks.deem_overdue(engine, date(2026, 11, 5)) == ["app2"]
    issue(engine)
    refused = {d["kind"]: d for d in docs(engine, "app1")}["non_acceptance"]
    assert (
        refused["title"] == "不予受理通知书"
        and "理由：申请人不属于本县户籍" in refused["paragraphs"]
        and any("行政复议" in p for p in refused["paragraphs"])
    )
    deemed = {d["kind"]: d for d in docs(engine, "app2")}["acceptance"]
    assert "即为受理" in deemed["paragraphs"][0] and "2026年11月2日" in deemed["paragraphs"][0]
    signed, letter = "ab" * 32, "cd" * 32  # the signature and the letter, materials of the case (materials.attached first)
    attached = [
        Record("materials.attached", f"m{i}", T, {"application_id": "app1", "material": name, "sha256": sha, "size": 10, "media_type": "image/png"})
        for i, (name, sha) in enumerate((("送达回证（领取人手写签名）", signed), ("领取授权委托书", letter)))
    ]
    picked = Record(
        "application.picked_up",
        "p1",
        T,
        {
            "application_id": "app1",
            "collector_name": "李四",
            "agent": "agent",
            "collector_id_number": "110105194912310037",
            "signature": signed,
            "authorisation": letter,
        },
    )
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), received(2)], [*attached, picked])[1])
    issue(engine)
    served = {d["kind"]: d for d in docs(engine, "app1")}["service"]
    facts = dict(served["facts"])
    assert served["title"] == "送达回证" and facts["送达文书"].startswith("不予受理通知书 示范县不受字〔2026〕第 1 号")
    assert facts["签收人"] == "李四（1101**********0037）" and "授权委托书" in facts["代收依据"] and "abababab" in facts["签名"].replace("…", "")


def test_a_document_the_wording_cannot_make_is_reported_and_does_not_wedge_the_queue(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    with Session(engine) as s:
        s.add(DocumentDue(application_id="app1", kind="decision", context_json="{}", created_at=T))  # a decision on an undecided case
        s.add(DocumentDue(application_id="app1", kind="no-such-kind", context_json="{}", created_at=T))
        s.commit()
    assert issue(engine) == 3 and issue(engine) == 0
    with Session(engine) as s:
        assert s.exec(select(DocumentDue)).all() == []
        assert [d.kind for d in s.exec(select(Document)).all()] == ["receipt"]  # nothing false was signed
        assert len(s.exec(select(Alert).where(Alert.kind == "document.failed")).all()) == 2


def test_one_time_notices_given_at_a_point_are_kept_at_the_county(engine):
    notice = Record(
        "notice.given",
        "n1",
        T,
        {
            "notice_no": "shangcun-N000001",
            "item_code": "MZ-001",
            "item_name": "最低生活保障申请",
            "applicant_name": "李桂芳",
            "applicant_id_number": "11010519491231002X",
            "missing": ["户口簿", "收入证明"],
            "agent": "agent",
        },
    )
    ingest_batch(engine, "yiwang.up.shangcun", chain([notice])[0])
    with Session(engine) as s:
        kept = s.get(OneTimeNotice, "shangcun-N000001")
    assert (kept.node_id, json.loads(kept.missing_json), kept.given_at) == ("shangcun", ["户口簿", "收入证明"], T)


def test_a_document_too_large_to_send_is_reported_and_the_others_still_go(engine):
    """Adversarial: a supplement list the county's own check lets through must still fit its
    notice; one that does not (an older row) is an alert, not a wedged queue."""
    from weblayer.errors import InvalidInput

    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    with pytest.raises(InvalidInput, match="补正清单最多"):
        approval.request_supplement(engine, clerk(engine, "clerk-mzj"), "app1", [f"材料{i}" * 20 for i in range(60)])
    with Session(engine) as s:  # as a row written before the check would be
        s.add(
            DocumentDue(application_id="app1", kind="supplement", context_json=json.dumps({"missing": ["很长的材料名称" * 28] * 100}), created_at=T)
        )
        s.commit()
    approval.request_supplement(engine, clerk(engine, "clerk-mzj"), "app1", ["户" * 40] * 50)  # the most the check allows: its notice fits
    assert issue(engine) == 3
    with Session(engine) as s:
        assert sorted(d.kind for d in s.exec(select(Document)).all()) == ["receipt", "supplement"]
        [alert] = s.exec(select(Alert).where(Alert.kind == "document.failed")).all()
    assert "app1" not in alert.message and "shangcun-000001" in alert.message
