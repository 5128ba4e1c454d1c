"""Issue 20's adversarial pass, each finding as a test against a real hub database: a point
holding a valid key sends records its own software never would. Nothing it sends may change
what it does not own, sign a false document, or leak a resident ID into the operator's alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from central import approval, document_texts, supervision
from central.ingest import ingest_batch
from central.models import Alert, Application, Document, Evaluation, Quarantine, User
from sync_protocol import Record
from tests.support.builders import HUB_KEY, T, chain, received
from weblayer.errors import InvalidInput, NotFound

ID = "11010519491231002X"


def clerk(engine, username: str) -> User:
    with Session(engine) as s:
        return s.get(User, username)


def record(kind: str, n: int, **data) -> Record:
    return Record(kind, f"{kind}{n}", T, data)


def test_a_pickup_before_the_decision_changes_nothing_and_signs_nothing(engine):
    pickup = record(
        "application.picked_up", 1, application_id="app1", collector_name="李四", agent="agent", signature="not-a-hash", authorisation="garbage"
    )
    batches = chain([received(1), pickup], [record("application.picked_up", 2, application_id="app1", collector_name="张三", agent="agent")])
    ingest_batch(engine, "yiwang.up.shangcun", batches[0])
    with Session(engine) as s:
        app = s.get(Application, "app1")
        assert (app.status, app.delivered_at, app.handover) == ("received", None, "")
    approval.decide(engine, clerk(engine, "clerk-mzj"), "app1", "approve", "", HUB_KEY)
    ingest_batch(engine, "yiwang.up.shangcun", batches[1])  # the real pickup, after the decision
    document_texts.issue_pending(engine, HUB_KEY, "示范县", "12345")
    with Session(engine) as s:
        assert s.get(Application, "app1").status == "delivered"
        [served] = [d for d in s.exec(select(Document)).all() if d.kind == "service"]
    from sync_protocol import open_document

    facts = dict(open_document(served.text, HUB_KEY.verify_key)["facts"])
    assert facts["签收人"].startswith("张三") and "未送达" in facts["签名"]  # no signature material: not claimed


def test_a_rating_out_of_range_of_an_open_or_unknown_case_is_kept_nowhere(engine):
    ratings = [
        record("evaluation.given", 1, application_id="app1", level=-99),  # the case is open too
        record("evaluation.given", 2, application_id="nobody's", level=1),
    ]
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), *ratings])[0])
    with Session(engine) as s:
        assert s.exec(select(Evaluation)).all() == [] and s.exec(select(Quarantine)).all() == []  # ignored; the stream goes on
    approval.decide(engine, clerk(engine, "clerk-mzj"), "app1", "approve", "", HUB_KEY)
    assert supervision.rate(engine, "shangcun-000001", "002X", 4, "").level == 4  # the citizen can still rate


def test_a_database_error_names_no_resident_id_in_the_quarantine_or_the_alert(engine):
    """On PostgreSQL a NUL in a text field is a DataError whose text carried the statement's
    parameters — the applicant's full ID — into the quarantine detail, the alert and the log."""
    hostile = Record(
        "notice.given",
        "n1",
        T,
        {
            "notice_no": "shangcun-N000001",
            "item_code": "MZ-001",
            "item_name": "最低生活保障申请",
            "applicant_name": "李\x00桂芳",
            "applicant_id_number": ID,
            "missing": ["户口簿"],
            "agent": "agent",
        },
    )
    ingest_batch(engine, "yiwang.up.shangcun", chain([hostile])[0])
    with Session(engine) as s:
        said = [q.detail for q in s.exec(select(Quarantine)).all()] + [a.message for a in s.exec(select(Alert)).all()]
    assert not any(ID in text for text in said), said


@pytest.mark.parametrize("text", ["a\x00b", "bad\x1bcomment"])
def test_control_characters_in_what_clerks_and_citizens_type_are_refused(engine, text):
    mzj = clerk(engine, "clerk-mzj")
    ingest_batch(
        engine,
        "yiwang.up.shangcun",
        chain([received(1), record("complaint.filed", 1, complaint_id="shangcun-T000001", text="窗口无人", application_id="app1")])[0],
    )
    with pytest.raises(InvalidInput, match="控制字符"):
        approval.request_supplement(engine, mzj, "app1", [text])
    with pytest.raises(InvalidInput, match="控制字符"):
        supervision.answer_complaint(engine, mzj, "shangcun-T000001", text)
    approval.decide(engine, mzj, "app1", "approve", "", HUB_KEY)
    with pytest.raises(InvalidInput, match="控制字符"):
        supervision.rate(engine, "shangcun-000001", "002X", 1, text)
    with pytest.raises(NotFound):
        supervision.rate(engine, "shangcun-000001\x00", "002X", 5, "")
    from central import public

    with pytest.raises(NotFound):
        public.progress(engine, "shangcun-000001\x00", "002X")


def test_an_overlong_complaint_or_notice_from_a_point_is_refused_not_stored(engine):
    long_complaint = record("complaint.filed", 1, complaint_id="shangcun-T000001", text="等" * 200_000)
    ingest_batch(engine, "yiwang.up.shangcun", chain([long_complaint])[0])
    with Session(engine) as s:
        assert [q.reason for q in s.exec(select(Quarantine)).all()] == ["invalid_record"]
    assert supervision.open_items(engine, datetime.now(UTC))["complaints_open"] == []
