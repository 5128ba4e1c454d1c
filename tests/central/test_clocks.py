"""Time limits counted as the law counts them (central/clocks.py), against a real hub database: the
pre-review starts again when a supplement arrives and runs out into 视为受理 (行政许可法 第三十二条),
the decision limit runs from 受理 (第四十二条) with its limits frozen there, special procedures
stop it (第四十五条), a stage with its own days has its own clock, and 1-day limits are not yellow
on arrival. Each test fails on the code before the clocks (issue 20's findings).

The clerk actions run at the real time; the scenario's dates are then set with SQL so the
figures do not depend on the day the test runs."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from central import approval, clocks, suspensions
from central.ingest import ingest_batch
from central.models import Application, AuditEntry, ClockPause, Document, DownlinkEvent, User
from central.workdays import WorkCalendar, deadline_of
from sync_protocol import Record
from tests.support.builders import chain, received
from weblayer.errors import Conflict, Forbidden, InvalidInput

MON = "2026-11-02T02:00:00.000000Z"  # Monday 11-02, 10:00 in Beijing


def clerk(engine, username: str) -> User:
    with Session(engine) as s:
        return s.get(User, username)


def case(engine, app_id: str = "app1") -> Application:
    with Session(engine) as s:
        return s.get(Application, app_id)


def clocks_on(engine, day: date, app_id: str = "app1") -> clocks.Clocks:
    return clocks.clocks_for(engine, [case(engine, app_id)], day)[app_id]


def set_times(engine, app_id: str = "app1", **columns: str) -> None:
    with engine.begin() as conn:
        for column, value in columns.items():
            conn.execute(text(f"UPDATE application SET {column} = :v WHERE id = :id"), {"v": value, "id": app_id})


def downlink(engine) -> list[tuple[str, dict]]:
    with Session(engine) as s:
        return [(e.kind, json.loads(e.data_json)) for e in s.exec(select(DownlinkEvent).order_by(DownlinkEvent.created_at)).all()]


@pytest.fixture
def hub(engine):
    """app1: 高龄津贴 (MZ-003: promised 10 working days), received at the county on Monday 11-02."""
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1)])[0])
    set_times(engine, received_at=MON, submitted_at=MON)
    return engine


def test_the_pre_review_starts_again_when_the_supplement_arrives(hub):
    """Finding: a supplement arriving on 11-20 was red at once, 12 working days overdue."""
    approval.request_supplement(hub, clerk(hub, "clerk-mzj"), "app1", ["户口簿"])
    assert clocks_on(hub, date(2026, 11, 3)).pre_review.card == ""  # waiting for the citizen: no card
    [_, second] = chain([received(1)], [Record("supplement.provided", "s1", MON, {"application_id": "app1", "materials": ["户口簿"], "agent": "a"})])
    ingest_batch(hub, "yiwang.up.shangcun", second)
    app = case(hub)
    assert app.status == "received" and app.materials_at is not None and app.materials_at > app.received_at
    with Session(hub) as s:
        [pause] = s.exec(select(ClockPause)).all()
    assert (pause.kind, pause.reason, pause.ended_at is not None) == ("supplement", "户口簿", True)
    set_times(hub, materials_at="2026-11-20T02:00:00.000000Z")  # the supplement came on Friday 11-20
    pre = clocks_on(hub, date(2026, 11, 20)).pre_review
    assert (pre.due, pre.card) == (date(2026, 11, 24), "")  # two working days from its arrival, not from 11-02


def test_the_decision_limit_runs_from_acceptance_and_is_frozen_there(hub):
    """Findings: the limit ran from the village's submission; editing an item's limit moved the
    deadline of every open case."""
    approval.accept(hub, clerk(hub, "clerk-mzj"), "app1")
    set_times(hub, accepted_at="2026-11-20T02:00:00.000000Z", stage_started_at="2026-11-20T02:00:00.000000Z")
    before = clocks_on(hub, date(2026, 11, 23))
    assert (before.limit_days, before.statutory_days) == (10, 20)  # promised and statutory, frozen on the case
    assert (before.decision.due, before.decision.card) == (date(2026, 12, 4), "")  # 10 working days from 11-20, not 11-02
    assert before.statutory.due == date(2026, 12, 18)
    with hub.begin() as conn:  # the operator shortens the item's limit afterwards
        conn.execute(text("UPDATE catalogitem SET time_limit_days = 1 WHERE code = 'MZ-003'"))
    after = clocks_on(hub, date(2026, 11, 23))
    assert after.decision.due == before.decision.due and after.limit_days == 10


def test_a_pre_review_that_runs_out_is_acceptance_from_the_day_the_materials_arrived(hub):
    """Finding: a missed pre-review had no effect (行政许可法 第三十二条: 视为受理)."""
    ingest_batch(hub, "yiwang.up.shangcun", chain([received(1)], [received(2), received(3)])[1])  # app3 arrives today
    approval.request_supplement(hub, clerk(hub, "clerk-mzj"), "app2", ["户口簿"])  # app2 waits for the citizen
    set_times(hub, "app2", received_at=MON)
    assert clocks.deem_overdue(hub, date(2026, 11, 4)) == []  # the pre-review's last day: not yet
    assert clocks.deem_overdue(hub, date(2026, 11, 5)) == ["app1"]
    app = case(hub)
    assert (app.status, app.accepted_at, app.accepted_by, app.deemed_accepted, app.limit_days) == ("accepted", MON, "视为受理", True, 10)
    assert downlink(hub)[-1] == ("application.accepted", {"application_id": "app1", "by": "视为受理", "at": MON})
    with Session(hub) as s:
        assert [(a.actor, a.action) for a in s.exec(select(AuditEntry).where(AuditEntry.target == "app1")).all()][-1] == (
            "system",
            "case.deemed_accepted",
        )
    assert clocks.deem_overdue(hub, date(2026, 11, 5)) == []  # once
    assert clocks_on(hub, date(2026, 11, 5)).decision.due == date(2026, 11, 16)  # 10 working days from the materials' day


def test_a_special_procedure_stops_the_clock_and_only_the_deciding_department_starts_it(hub):
    mzj = clerk(hub, "clerk-mzj")
    with pytest.raises(Conflict, match="不能中止"):
        suspensions.suspend(hub, mzj, "app1", "hearing", "申请人要求听证")  # not accepted yet
    approval.accept(hub, mzj, "app1")
    set_times(hub, accepted_at=MON, stage_started_at=MON)
    with pytest.raises(InvalidInput, match="听证"):
        suspensions.suspend(hub, mzj, "app1", "supplement", "x")  # 补正 is not the clerk's to open
    with pytest.raises(InvalidInput, match="原因"):
        suspensions.suspend(hub, mzj, "app1", "hearing", "  ")
    with pytest.raises(Forbidden):
        suspensions.suspend(hub, clerk(hub, "clerk-rsj"), "app1", "hearing", "x")
    suspensions.suspend(hub, mzj, "app1", "hearing", "申请人要求听证，约需 5 个工作日")
    with pytest.raises(Conflict, match="已在中止计时"):
        suspensions.suspend(hub, mzj, "app1", "expert", "x")
    running = clocks_on(hub, date(2026, 11, 10))
    assert running.suspended == "听证" and running.decision.suspended and running.decision.card == ""
    suspensions.resume(hub, mzj, "app1")
    with pytest.raises(Conflict, match="没有进行中"):
        suspensions.resume(hub, mzj, "app1")
    with hub.begin() as conn:  # the hearing ran from Wednesday 11-04 to Monday 11-09
        conn.execute(text("UPDATE clockpause SET started_at = '2026-11-04T02:00:00.000000Z', ended_at = '2026-11-09T02:00:00.000000Z'"))
    done = clocks_on(hub, date(2026, 11, 10))
    assert done.suspended == "" and done.decision.due == date(2026, 11, 19)  # 11-16 plus Thu, Fri, Mon
    assert [k for k, _ in downlink(hub)][-2:] == ["clock.suspended", "clock.resumed"]
    assert downlink(hub)[-2][1]["name"] == "听证"
    from central import document_texts
    from sync_protocol import open_document
    from tests.support.builders import HUB_KEY

    document_texts.issue_pending(hub, HUB_KEY, "示范县", "12345")  # the applicant is told in writing (第四十五条; new-user pass)
    with Session(hub) as s:
        [notice] = [d for d in s.exec(select(Document)).all() if d.kind == "suspension"]
    told = open_document(notice.text, HUB_KEY.verify_key)
    assert told["title"] == "特别程序告知书" and "申请人要求听证" in told["paragraphs"][1] and "第四十五条" in told["paragraphs"][1]


def accepted_case(accepted: str, limit: int, **columns) -> Application:
    """A case accepted at ``accepted`` with ``limit`` promised days (statutory 5 more), in memory."""
    return Application(
        **{
            "id": "a",
            "node_id": "n",
            "receipt_no": "n-1",
            "item_code": "X",
            "item_name": "x",
            "department": "mzj",
            "applicant_name": "x",
            "applicant_id_number": "x",
            "submitted_at": accepted,
            "received_at": accepted,
            "status": "accepted",
            "accepted_at": accepted,
            "limit_days": limit,
            "statutory_days": limit + 5,
        }
        | columns
    )


def test_a_stage_with_its_own_days_has_its_own_clock():
    """A county department's card is for its stage's time, not the township's before it."""
    stages = [{"name": "初审", "by": "township", "days": 5}, {"name": "审批", "by": ["mzj"], "days": 5}]
    app = accepted_case(
        MON,
        15,
        item_code="MZ-005",
        stages_json=json.dumps(stages),
        stage=1,
        stage_started_at="2026-11-13T02:00:00.000000Z",  # the township took until Friday 11-13
    )
    got = clocks.clocks_of(WorkCalendar(), app, [], (15, 15), date(2026, 11, 16))
    assert (got.stage.due, got.stage.card) == (date(2026, 11, 20), "")
    assert got.decision.due == date(2026, 11, 23)
    assert got.most_urgent is got.stage


@pytest.mark.parametrize(
    "limit, day, card",
    [
        (1, date(2026, 11, 2), ""),  # arrived today: not yellow from the moment it arrives (finding)
        (1, date(2026, 11, 3), "yellow"),  # its only day
        (1, date(2026, 11, 4), "red"),
        (2, date(2026, 11, 2), ""),
        (2, date(2026, 11, 3), "yellow"),  # one day left
        (10, date(2026, 11, 12), "yellow"),  # two left of ten (due Monday 11-16)
        (10, date(2026, 11, 11), ""),  # three left
    ],
)
def test_yellow_makes_sense_for_short_limits(limit, day, card):
    assert deadline_of(WorkCalendar(), MON, limit, False, day).card == card


# a case's history as random events: citizens' delays (supplements, special procedures) and catalog edits
EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("pause"), st.integers(0, 40), st.integers(0, 15)),  # start offset, length in days
        st.tuples(st.just("open_pause"), st.integers(0, 40), st.just(0)),
        st.tuples(st.just("catalog"), st.integers(1, 60), st.integers(1, 60)),
        st.tuples(st.just("holiday"), st.integers(1, 60), st.just(0)),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(1, 30), start=st.dates(date(2026, 1, 1), date(2028, 12, 31)), events=EVENTS, today=st.integers(0, 90))
def test_a_deadline_never_moves_earlier_for_citizens_delays_nor_changes_for_a_catalog_edit(limit, start, events, today):
    accepted = f"{start.isoformat()}T02:00:00.000000Z"
    app = accepted_case(accepted, limit)
    now = start + timedelta(days=today)
    pauses: list[ClockPause] = []
    loaded: dict[date, bool] = {date(y, 1, 1): False for y in range(2026, 2031)}  # every year loaded: a holiday added only removes a day
    catalog = (limit, limit + 5)
    due = clocks.clocks_of(WorkCalendar(dict(loaded)), app, pauses, catalog, now).decision.due
    for kind, a, b in events:
        if kind == "catalog":  # edited after acceptance: nothing changes
            catalog = (a, b)
        elif kind == "holiday":  # one more holiday in the arrangement: a deadline only gets later
            loaded[start + timedelta(days=a)] = False
        elif not any(p.ended_at is None for p in pauses):  # one suspension at a time
            first = start + timedelta(days=a)
            ended = None if kind == "open_pause" else f"{(first + timedelta(days=b)).isoformat()}T02:00:00.000000Z"
            pauses.append(
                ClockPause(application_id="a", kind="hearing", started_at=f"{first.isoformat()}T02:00:00.000000Z", started_by="c", ended_at=ended)
            )
        later = clocks.clocks_of(WorkCalendar(dict(loaded)), app, pauses, catalog, now).decision
        assert later.due >= due, (kind, a, b)
        due = later.due
