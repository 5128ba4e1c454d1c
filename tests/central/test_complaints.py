"""Complaints and ratings as workflows (issue 20), against a real hub database. Findings, each
failing on the code before: the answer stayed at the hub; complaints were not routed to the
responsible department; the 24-hour clock started at the point's filing time, so a complaint
from an offline point arrived overdue; answered complaints vanished; 好差评 was given on the
agent's screen with ★★★★★ preselected; publicity called a benefit "准予许可"."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from central import approval, figures, public, supervision
from central.auth import add_user
from central.ingest import ingest_batch
from central.models import Alert, Complaint, DownlinkEvent, Evaluation, User
from sync_protocol import Record
from tests.support.builders import HUB_KEY, T, chain, received
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

FILED_OFFLINE = "2026-11-16T02:00:00.000000Z"  # at the window, a week before the point came back online


def clerk(engine, username: str) -> User:
    with Session(engine) as s:
        return s.get(User, username)


def complaint(n: int, application_id: str | None = "app1") -> Record:
    data = {"complaint_id": f"shangcun-T{n:06d}", "text": "窗口中午无人值守", "contact": "13800138000"}
    return Record("complaint.filed", f"c{n}", FILED_OFFLINE, data | ({"application_id": application_id} if application_id else {}))


@pytest.fixture
def hub(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), complaint(1), complaint(2, None)])[0])
    return engine


def held(engine, complaint_id: str) -> Complaint:
    with Session(engine) as s:
        return s.get(Complaint, complaint_id)


def test_a_complaint_is_routed_to_its_department_and_its_clock_runs_from_its_arrival(hub):
    routed, general = held(hub, "shangcun-T000001"), held(hub, "shangcun-T000002")
    assert (routed.department, general.department) == ("mzj", None)  # the case's department; the county's office
    assert routed.filed_at == FILED_OFFLINE and routed.received_at > FILED_OFFLINE
    arrived = datetime.fromisoformat(routed.received_at.replace("Z", "+00:00"))
    calendar = supervision.load_calendar(hub)
    assert supervision.overdue(calendar, routed, arrived + timedelta(hours=23)) == ""  # not late for the point's week offline
    assert supervision.overdue(calendar, routed, arrived + timedelta(hours=25)) == "first"


def test_first_and_final_answers_go_to_the_point_only_from_the_department_it_is_routed_to(hub):
    with pytest.raises(Forbidden):
        supervision.answer_complaint(hub, clerk(hub, "clerk-rsj"), "shangcun-T000001", "不是本部门", final=False)
    with pytest.raises(InvalidInput):
        supervision.answer_complaint(hub, clerk(hub, "clerk-mzj"), "shangcun-T000001", " ", final=False)
    supervision.answer_complaint(hub, clerk(hub, "clerk-mzj"), "shangcun-T000001", "已联系服务点核实", final=False)
    with pytest.raises(Conflict, match="初步答复过"):
        supervision.answer_complaint(hub, clerk(hub, "clerk-mzj"), "shangcun-T000001", "again", final=False)
    supervision.answer_complaint(hub, clerk(hub, "clerk-mzj"), "shangcun-T000001", "已调整午间轮班")
    with pytest.raises(Conflict, match="办结答复过"):
        supervision.answer_complaint(hub, clerk(hub, "clerk-mzj"), "shangcun-T000001", "again")
    with pytest.raises(Forbidden):  # the county office's: an operator answers it
        supervision.answer_complaint(hub, clerk(hub, "clerk-mzj"), "shangcun-T000002", "x")
    add_user(hub, "op", "县政务办", "operator", "pw")
    supervision.answer_complaint(hub, clerk(hub, "op"), "shangcun-T000002", "已提醒各服务点公示午间值班表")
    with Session(hub) as s:
        down = [json.loads(e.data_json) for e in s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "complaint.answered")).all()]
    assert [(d["complaint_id"], d["stage"], d["answer"], d["by"]) for d in down] == [
        ("shangcun-T000001", "first", "已联系服务点核实", "王敏"),
        ("shangcun-T000001", "final", "已调整午间轮班", "王敏"),
        ("shangcun-T000002", "final", "已提醒各服务点公示午间值班表", "县政务办"),
    ]
    now = datetime.now(UTC)
    listed = supervision.open_items(hub, now)
    assert listed["complaints_open"] == [] and [c["complaint_id"] for c in listed["complaints_answered"]] == ["shangcun-T000001", "shangcun-T000002"]
    assert [c["complaint_id"] for c in supervision.open_items(hub, now, "mzj")["complaints_answered"]] == ["shangcun-T000001"]
    shown = public.progress(hub, "shangcun-000001", "002X")  # the applicant sees the answer too
    assert [(c["first_answer"], c["answer"]) for c in shown["complaints"]] == [("已联系服务点核实", "已调整午间轮班")]


def test_an_unanswered_complaint_escalates_once_per_stage_with_an_alert(hub):
    with hub.begin() as conn:
        conn.execute(text("UPDATE complaint SET received_at = '2026-11-23T02:00:00.000000Z'"))  # Monday
    calendar = supervision.load_calendar(hub)
    with Session(hub) as s:
        assert supervision.escalate_complaints(s, calendar, datetime(2026, 11, 24, 3, tzinfo=UTC)) == 2  # 25 hours: no first answer
        assert supervision.escalate_complaints(s, calendar, datetime(2026, 11, 24, 4, tzinfo=UTC)) == 0  # once
        assert supervision.escalate_complaints(s, calendar, datetime(2026, 12, 1, 4, tzinfo=UTC)) == 2  # past 5 working days
        s.commit()
        alerts = [a.message for a in s.exec(select(Alert).where(Alert.kind == "complaint.escalated")).all()]
    assert alerts[0] == "投诉 shangcun-T000001（mzj）24 小时内未作初步答复，已升级督办"
    assert alerts[-1] == "投诉 shangcun-T000002（县政务服务管理局）5 个工作日内未办结答复，已升级督办"


def test_the_citizen_rates_on_their_own_phone_once_after_the_result_and_a_poor_rating_has_a_follow_up_deadline(hub):
    with pytest.raises(Conflict, match="办结后"):
        supervision.rate(hub, "shangcun-000001", "002X", 5, "")
    approval.accept(hub, clerk(hub, "clerk-mzj"), "app1")
    approval.decide(hub, clerk(hub, "clerk-mzj"), "app1", "approve", "", HUB_KEY)
    with pytest.raises(NotFound):
        supervision.rate(hub, "shangcun-000001", "1234", 5, "")
    with pytest.raises(InvalidInput, match="评价等级"):
        supervision.rate(hub, "shangcun-000001", "002X", 0, "")  # nothing chosen: nothing preset either
    with pytest.raises(InvalidInput, match="原因"):
        supervision.rate(hub, "shangcun-000001", "002X", 2, "")
    rated = supervision.rate(hub, "shangcun-000001", "002X", 2, "窗口让我跑了两次")
    assert (rated.source, rated.node_id) == ("phone", "shangcun") and rated.follow_up_due is not None
    with Session(hub) as s:  # the point hears it, so its rating screen does not ask again (new-user pass: rated twice)
        [told] = [json.loads(e.data_json) for e in s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "evaluation.recorded")).all()]
    assert (told["application_id"], told["level"], told["source"]) == ("app1", 2, "phone")
    with pytest.raises(Conflict, match="已经评价过"):
        supervision.rate(hub, "shangcun-000001", "002X", 5, "")
    window = Record("evaluation.given", "e1", T, {"application_id": "app1", "level": 5})
    ingest_batch(hub, "yiwang.up.shangcun", chain([received(1), complaint(1), complaint(2, None)], [window])[1])
    with Session(hub) as s:
        assert s.get(Evaluation, "app1").level == 2  # the citizen's own rating stands
    with pytest.raises(Forbidden):
        supervision.follow_up_evaluation(hub, clerk(hub, "clerk-rsj"), "app1", "回访")
    assert supervision.follow_up_evaluation(hub, clerk(hub, "clerk-mzj"), "app1", "已回访，调整预约").followed_up_by == "clerk-mzj"


def test_publicity_names_each_result_by_its_kind(hub):
    """Finding: publicity said 准予许可 for benefits such as 低保."""
    ingest_batch(hub, "yiwang.up.shangcun", chain([received(1), complaint(1), complaint(2, None)], [received(2, item="GA-002")])[1])
    add_user(hub, "clerk-gaj", "赵明", "clerk", "pw", department="gaj")
    approval.decide(hub, clerk(hub, "clerk-mzj"), "app1", "approve", "", HUB_KEY)
    with hub.begin() as conn:  # GA-002 charges a fee: its receipt, as a point would have sent it
        conn.execute(
            text(
                "INSERT INTO feereceipt (receipt_no, node_id, application_id, amount_fen, method, reference, agent, collected_at, status, refunded_fen) "
                "VALUES ('shangcun-F000001', 'shangcun', 'app2', 4000, 'cash', '', 'agent', :t, 'paid', 0)"
            ),
            {"t": T},
        )
    approval.decide(hub, clerk(hub, "clerk-gaj"), "app2", "approve", "", HUB_KEY)
    results = {r["item_code"]: r["result"] for r in public.publicity(hub)}
    assert results == {"MZ-003": "准予给付", "GA-002": "予以确认"}


def test_voices_per_department_and_point_against_known_answers(hub):
    """Two complaints (one the department's), the department's answered on time in full; two
    ratings at the point: 5 and 2 (the 2 past its follow-up deadline)."""
    supervision.answer_complaint(hub, clerk(hub, "clerk-mzj"), "shangcun-T000001", "已处理")
    approval.decide(hub, clerk(hub, "clerk-mzj"), "app1", "approve", "", HUB_KEY)
    ingest_batch(hub, "yiwang.up.shangcun", chain([received(1), complaint(1), complaint(2, None)], [received(2)])[1])
    approval.decide(hub, clerk(hub, "clerk-mzj"), "app2", "approve", "", HUB_KEY)
    with Session(hub) as s:
        s.add(Evaluation(application_id="app1", node_id="shangcun", level=5, given_at="2026-11-17T02:00:00.000000Z"))
        s.add(
            Evaluation(
                application_id="app2", node_id="shangcun", level=2, comment="慢", given_at="2026-11-17T02:00:00.000000Z", follow_up_due="2026-11-24"
            )
        )
        s.commit()
    rows = {(r["kind"], r["code"]): r for r in figures.voices(hub, date(2026, 11, 1), date(2026, 11, 30))}
    mzj, county, point = rows[("department", "mzj")], rows[("department", "county")], rows[("point", "shangcun")]
    assert (mzj["complaints"], mzj["first_on_time"], mzj["final_on_time"], mzj["ratings"], mzj["average_level"], mzj["poor"]) == (1, 1, 1, 2, 3.5, 1)
    assert (county["name"], county["complaints"], county["first_on_time"]) == ("县政务服务管理局", 1, 0)
    assert (point["complaints"], point["ratings"], point["follow_ups_overdue"]) == (2, 2, 1)
