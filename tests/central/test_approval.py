"""Back-office actions against a real SQLite hub: 受理 / 不予受理, parallel approval (并联审批), the
department boundary, and the downlink event and audit entry each action commits with."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from central import approval
from central.auth import add_user
from central.ingest import ingest_batch
from central.models import Application, ApprovalTask, AuditEntry, DownlinkEvent, Licence, User
from tests.support.builders import HUB_KEY, chain, received
from weblayer.errors import Conflict, Forbidden, InvalidInput


@pytest.fixture
def hub(engine):
    add_user(engine, "clerk-gaj", "王敏", "clerk", "pw", department="gaj")
    add_user(engine, "clerk-ybj", "赵兰", "clerk", "pw", department="ybj")
    # app1: 高龄津贴 (mzj alone); app2: 新生儿出生“一件事” (gaj leads, ybj in parallel)
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), received(2, item="GA-007")])[0])
    return engine


def clerk(engine, username):
    with Session(engine) as s:
        return s.get(User, username)


def downlink(engine) -> list[tuple[str, dict]]:
    with Session(engine) as s:
        return [(e.kind, json.loads(e.data_json)) for e in s.exec(select(DownlinkEvent).order_by(DownlinkEvent.created_at)).all()]


def state(engine, app_id):
    with Session(engine) as s:
        app = s.get(Application, app_id)
        tasks = {t.department: t.status for t in s.exec(select(ApprovalTask).where(ApprovalTask.application_id == app_id)).all()}
    return app.status, tasks


def audit(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as s:
        return [(a.actor, a.action, a.target) for a in s.exec(select(AuditEntry).order_by(AuditEntry.id)).all()]


def test_a_parallel_item_is_routed_to_every_department_it_names(hub):
    assert state(hub, "app2") == ("received", {"gaj": "pending", "ybj": "pending"})
    assert [a.id for a, _, _ in approval.queue_with_deadlines(hub, clerk(hub, "clerk-ybj"))] == ["app2"]
    assert [a.id for a, _, _ in approval.queue_with_deadlines(hub, clerk(hub, "clerk-gaj"))] == ["app2"]
    assert [a.id for a, _, _ in approval.queue_with_deadlines(hub, clerk(hub, "clerk-mzj"))] == ["app1"]
    assert [a.id for a, _, _ in approval.queue_with_deadlines(hub, clerk(hub, "clerk-rsj"))] == []


def test_parallel_approval_completes_only_when_every_department_has_approved(hub):
    gaj, ybj = clerk(hub, "clerk-gaj"), clerk(hub, "clerk-ybj")
    with pytest.raises(Conflict, match="牵头部门受理"):
        approval.decide(hub, ybj, "app2", "approve", "", HUB_KEY)
    with pytest.raises(Forbidden, match="牵头部门"):
        approval.accept(hub, ybj, "app2")
    approval.accept(hub, gaj, "app2")
    approval.decide(hub, ybj, "app2", "approve", "参保信息核实无误", HUB_KEY)
    assert state(hub, "app2") == ("accepted", {"gaj": "pending", "ybj": "approved"})
    assert [k for k, _ in downlink(hub)] == ["application.accepted"]  # nothing decided yet for the citizen
    with pytest.raises(Conflict, match="重复审批"):
        approval.decide(hub, ybj, "app2", "deny", "改主意", HUB_KEY)
    approval.decide(hub, gaj, "app2", "approve", "", HUB_KEY)
    assert state(hub, "app2") == ("approved", {"gaj": "approved", "ybj": "approved"})
    kinds = [k for k, _ in downlink(hub)]
    assert kinds == ["application.accepted", "decision.made", "result.issued"]
    made = dict(downlink(hub))["decision.made"]
    assert made["decision"] == "approved" and set(made["decided_by"].split("、")) == {"王敏", "赵兰"}
    with Session(hub) as s:
        assert [lic.application_id for lic in s.exec(select(Licence)).all()] == ["app2"]
    assert audit(hub) == [("clerk-gaj", "case.accepted", "app2"), ("clerk-ybj", "case.approved", "app2"), ("clerk-gaj", "case.approved", "app2")]


def test_one_department_denying_ends_a_parallel_case_with_its_reason(hub):
    gaj, ybj = clerk(hub, "clerk-gaj"), clerk(hub, "clerk-ybj")
    approval.accept(hub, gaj, "app2")
    approval.decide(hub, ybj, "app2", "deny", "新生儿已在外地参保", HUB_KEY)
    assert state(hub, "app2") == ("denied", {"gaj": "closed", "ybj": "denied"})
    made = dict(downlink(hub))["decision.made"]
    assert (made["decision"], made["reason"], made["decided_by"]) == ("denied", "新生儿已在外地参保", "赵兰")
    with pytest.raises(Conflict):
        approval.decide(hub, gaj, "app2", "approve", "", HUB_KEY)


def test_not_accepting_needs_a_reason_and_closes_the_case(hub):
    mzj = clerk(hub, "clerk-mzj")
    with pytest.raises(InvalidInput, match="说明原因"):
        approval.not_accept(hub, mzj, "app1", "  ")
    assert state(hub, "app1") == ("received", {"mzj": "pending"}) and downlink(hub) == [] and audit(hub) == []
    approval.not_accept(hub, mzj, "app1", "申请人未满80周岁，不属于本事项受理范围")
    assert state(hub, "app1") == ("not_accepted", {"mzj": "closed"})
    [(kind, data)] = downlink(hub)
    assert kind == "application.not_accepted" and data["reason"] == "申请人未满80周岁，不属于本事项受理范围" and data["by"] == "王敏"
    with pytest.raises(Conflict, match="当前状态（不予受理）"):  # the state in Chinese, not "not_accepted"
        approval.accept(hub, mzj, "app1")


def test_a_single_department_case_may_be_accepted_and_decided_at_once(hub):
    app = approval.decide(hub, clerk(hub, "clerk-mzj"), "app1", "approve", "", HUB_KEY)
    assert app.status == "approved" and app.accepted_at == app.decided_at and app.accepted_by == "clerk-mzj"


def test_a_clerk_cannot_act_outside_their_department(hub):
    rsj = clerk(hub, "clerk-rsj")
    for act in (
        lambda: approval.accept(hub, rsj, "app1"),
        lambda: approval.not_accept(hub, rsj, "app1", "x"),
        lambda: approval.request_supplement(hub, rsj, "app1", ["户口簿"]),
        lambda: approval.decide(hub, rsj, "app1", "approve", "", HUB_KEY),
        lambda: approval.get_application(hub, rsj, "app1"),
    ):
        with pytest.raises(Forbidden):
            act()
    assert state(hub, "app1") == ("received", {"mzj": "pending"}) and downlink(hub) == [] and audit(hub) == []


def test_public_progress_needs_the_receipt_and_the_id_and_publicity_has_no_personal_data(hub):
    from central import public
    from weblayer.errors import NotFound

    for receipt, last4 in (("shangcun-000001", "0000"), ("shangcun-999999", "002X"), ("shangcun-000001", "02X")):
        with pytest.raises(NotFound) as caught:
            public.progress(hub, receipt, last4)
        assert caught.value.message == public.NOT_FOUND  # the same answer, whichever part is wrong
    assert public.progress(hub, "shangcun-000001", "002x")["status"] == "received"
    approval.decide(hub, clerk(hub, "clerk-mzj"), "app1", "deny", "张三家庭收入超过标准", HUB_KEY)
    shown = public.progress(hub, " shangcun-000001 ", "002X")
    assert (
        shown["status"] == "denied"
        and shown["reason"] == "张三家庭收入超过标准"
        and [s["step"] for s in shown["steps"]] == ["提交", "县里收到", "受理", "办结"]
    )
    [row] = public.publicity(hub)
    assert row["result"] == "不予给付" and row["item_code"] == "MZ-003"
    assert not any(secret in json.dumps(row, ensure_ascii=False) for secret in ("张三", "11010519491231002X", "shangcun-000001", "收入"))


def test_publicity_dates_a_decision_by_the_countys_day_not_utc(hub):
    """A newcomer's find: a case decided at 02:49 Beijing time on 5 December was published as
    decided on 4 December (the UTC date)."""
    from sqlmodel import Session

    from central import public
    from central.models import Application

    approval.decide(hub, clerk(hub, "clerk-mzj"), "app1", "approve", "", HUB_KEY)
    with Session(hub) as s:
        app = s.get(Application, "app1")
        app.decided_at = "2026-12-04T18:49:00.000000Z"  # 02:49 on the 5th in Beijing
        s.add(app)
        s.commit()
    [row] = public.publicity(hub, days=100_000)
    assert row["decided_on"] == "2026-12-05"


def test_progress_keeps_the_result_and_its_reason_after_the_case_is_posted(hub):
    """Issue 18 finding 6: at the hub a denied case, once posted to the citizen, showed only
    "已寄出": no result and no reason, which the law requires (行政许可法 第三十八条)."""
    from sqlmodel import Session

    from central import public
    from central.models import Application

    approval.decide(hub, clerk(hub, "clerk-mzj"), "app1", "deny", "家庭收入超过标准", HUB_KEY)
    with Session(hub) as s:
        app = s.get(Application, "app1")
        app.status, app.handover = "dispatched", "courier"  # as the point's application.dispatched leaves it
        s.add(app)
        s.commit()
    shown = public.progress(hub, "shangcun-000001", "002X")
    assert (shown["status"], shown["outcome"], shown["reason"]) == ("dispatched", "不予给付", "家庭收入超过标准")


def test_the_deciding_clerk_sees_the_full_id_and_every_view_is_logged(hub):
    """Issue 18 finding 5: the deciding clerk saw only a masked ID and could not check 高龄津贴's
    age of 80 or run the household check (while the department feed carried the full number).
    A clerk of a deciding department may see it, once per request, in the action log; no one else."""
    from central import actions
    from weblayer.errors import Forbidden

    assert approval.reveal_id_number(hub, clerk(hub, "clerk-mzj"), "app1") == "11010519491231002X"
    [entry] = [a for a in actions.find(hub, actions.Filter(target="app1")) if a.action == "case.id_viewed"]
    assert entry.actor == "clerk-mzj"
    add_user(hub, "operator", "张伟", "operator", "pw")
    for outsider in ("clerk-rsj", "operator"):
        with pytest.raises(Forbidden):
            approval.reveal_id_number(hub, clerk(hub, outsider), "app1")
    assert len([a for a in actions.find(hub, actions.Filter(target="app1")) if a.action == "case.id_viewed"]) == 1


def test_a_voided_fee_shows_on_the_case_and_blocks_the_approval_but_not_a_refusal(engine):
    """Issue 20 finding: a voided fee left the case live for the clerk, who saw no fee at all."""
    from central.db import transaction
    from central.fees import case_fees
    from sync_protocol import Record
    from tests.support.builders import T

    add_user(engine, "clerk-gaj", "王敏", "clerk", "pw", department="gaj")
    fee = {"fee_receipt_no": "shangcun-F000001", "amount_fen": 2000, "method": "cash", "agent": "agent", "application_id": "app1"}
    voided = {"fee_receipt_no": "shangcun-F000001", "reason": "收错", "approved_by": "站长", "agent": "agent"}
    ingest_batch(
        engine,
        "yiwang.up.shangcun",
        chain([received(1, item="GA-001"), Record("fee.collected", "f1", T, fee), Record("fee.voided", "v1", T, voided)])[0],
    )
    gaj = clerk(engine, "clerk-gaj")
    approval.accept(engine, gaj, "app1")
    with pytest.raises(Conflict, match=r"须收费 20\.00 元，服务点的收费已作废或已退还"):
        approval.decide(engine, gaj, "app1", "approve", "", HUB_KEY)
    with transaction(engine) as session:
        app = session.get(Application, "app1")
        shown = case_fees(session, app)
    assert (shown["required_fen"], shown["paid"], [r.status for r in shown["receipts"]]) == (2000, False, ["voided"])
    approval.decide(engine, gaj, "app1", "deny", "未缴纳工本费", HUB_KEY)
    assert state(engine, "app1")[0] == "denied"
