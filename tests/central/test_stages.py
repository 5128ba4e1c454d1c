"""Staged procedures at a real hub (SQLite and PostgreSQL): each stage in turn, township stages
decided by the case's township and applied from its signed batch, and no one else's say.

The village point shangcun belongs to the township qingshan; beishan is another township."""

from __future__ import annotations

import json

import pytest
from nacl.signing import SigningKey
from sqlmodel import Session, select

from central import approval
from central.auth import add_user
from central.ingest import ingest_batch
from central.models import Alert, Application, ApprovalTask, DownlinkEvent, Node, User
from sync_protocol import Accepted, Record, Rejected, verify_key_to_text
from tests.support.builders import HUB_KEY, T, chain, received
from weblayer.errors import Conflict, Forbidden

QINGSHAN_KEY = SigningKey(bytes(range(40, 72)))
BEISHAN_KEY = SigningKey(bytes(range(80, 112)))


@pytest.fixture
def hub(engine):
    with Session(engine) as s:
        for node_id, key in (("qingshan", QINGSHAN_KEY), ("beishan", BEISHAN_KEY)):
            s.add(Node(id=node_id, name=f"{node_id}乡便民服务中心", kind="township", public_key=verify_key_to_text(key.verify_key), enrolled_at=T))
        s.get(Node, "shangcun").parent = "qingshan"
        s.commit()
    add_user(engine, "clerk-cl", "赵兰", "clerk", "pw", department="cl")
    add_user(engine, "clerk-nyj", "钱军", "clerk", "pw", department="nyj")
    add_user(engine, "clerk-wjj", "孙丽", "clerk", "pw", department="wjj")
    # app1: 残疾人两项补贴 (township 初审 → 残联 审核 → 民政 审批); app2: 宅基地 (township); app3: 生育登记 (即办件, township)
    verdict = ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, "MZ-005"), received(2, "NY-001"), received(3, "WJ-001")])[0])
    assert isinstance(verdict, Accepted)
    return engine


def clerk(engine, username):
    with Session(engine) as s:
        return s.get(User, username)


def state(engine, app_id):
    with Session(engine) as s:
        app = s.get(Application, app_id)
        tasks = {(t.stage, t.department): t.status for t in s.exec(select(ApprovalTask).where(ApprovalTask.application_id == app_id)).all()}
    return app.status, app.stage, tasks


def downlink(engine, node_id):
    with Session(engine) as s:
        rows = s.exec(select(DownlinkEvent).where(DownlinkEvent.node_id == node_id).order_by(DownlinkEvent.created_at)).all()
        return [(e.kind, json.loads(e.data_json)) for e in rows]


def stage_decided(n: int, app: str, stage: int, decision: str, reason: str = "") -> Record:
    data = {"application_id": app, "stage": stage, "decision": decision, "decided_by": "乡镇审批 周敏", "decided_at": T}
    return Record("stage.decided", f"sd{n}", T, data | ({"reason": reason} if reason else {}))


def from_township(engine, *batches, node="qingshan", key=QINGSHAN_KEY):
    return [ingest_batch(engine, f"yiwang.up.{node}", wire) for wire in chain(*batches, key=key, node=node)]


def test_each_stage_is_routed_to_its_deciders_and_a_township_stage_goes_to_the_villages_township(hub):
    assert state(hub, "app1") == ("received", 0, {(0, "township"): "pending", (1, "cl"): "pending", (2, "mzj"): "pending"})
    assert state(hub, "app2") == ("received", 0, {(0, "township"): "pending"})
    with Session(hub) as s:
        assert s.get(Application, "app1").department == "mzj"  # filed under the responsible county department
    assigned = {d["application_id"]: d for k, d in downlink(hub, "qingshan") if k == "stage.assigned"}
    assert set(assigned) == {"app1", "app2", "app3"} and downlink(hub, "beishan") == []
    assert (assigned["app1"]["stage_name"], assigned["app1"]["final"], assigned["app2"]["final"]) == ("初审", False, True)
    assert assigned["app1"]["applicant_id_number"] == "11010519491231002X" and assigned["app1"]["from_node"] == "shangcun"
    # no county department has anything to do yet, and none may act
    for username in ("clerk-cl", "clerk-mzj"):
        assert not [a for a, t, _ in approval.queue_with_deadlines(hub, clerk(hub, username)) if t.stage == a.stage]
    with pytest.raises(Conflict, match="乡镇初审环节"):
        approval.accept(hub, clerk(hub, "clerk-mzj"), "app1")
    with pytest.raises(Conflict, match="乡镇初审环节"):
        approval.decide(hub, clerk(hub, "clerk-cl"), "app1", "approve", "", HUB_KEY)


def test_disability_subsidies_run_township_then_disabled_persons_federation_then_civil_affairs(hub):
    [verdict] = from_township(hub, [stage_decided(1, "app1", 0, "approved")])
    assert isinstance(verdict, Accepted)
    assert state(hub, "app1") == ("accepted", 1, {(0, "township"): "approved", (1, "cl"): "pending", (2, "mzj"): "pending"})
    accepted = [d for k, d in downlink(hub, "shangcun") if k == "application.accepted"]
    assert [(d["application_id"], d["by"]) for d in accepted] == [("app1", "乡镇审批 周敏")]  # 受理 at the township
    cl, mzj = clerk(hub, "clerk-cl"), clerk(hub, "clerk-mzj")
    assert [a.id for a, _, _ in approval.queue_with_deadlines(hub, cl)] == ["app1"]
    assert "app1" not in [a.id for a, _, _ in approval.queue_with_deadlines(hub, mzj)]  # not its stage yet
    with pytest.raises(Conflict, match="尚未到本部门的审批环节"):
        approval.decide(hub, mzj, "app1", "approve", "", HUB_KEY)
    approval.decide(hub, cl, "app1", "approve", "残疾等级核实无误", HUB_KEY)
    assert state(hub, "app1")[:2] == ("accepted", 2)
    assert not [k for k, d in downlink(hub, "shangcun") if k == "decision.made"]
    approval.decide(hub, mzj, "app1", "approve", "", HUB_KEY)
    assert state(hub, "app1") == ("approved", 3, {(0, "township"): "approved", (1, "cl"): "approved", (2, "mzj"): "approved"})
    kinds = [k for k, d in downlink(hub, "shangcun") if d.get("application_id") == "app1"]
    assert kinds == ["application.accepted", "decision.made", "result.issued"]
    tasks = approval.case_tasks(hub, "app1")
    assert [(t["stage_name"], t["department_name"]) for t in tasks] == [
        ("初审", "乡镇（qingshan乡便民服务中心）"),
        ("审核", "县残疾人联合会"),
        ("审批", "县民政局"),
    ]


def test_a_township_stage_denied_ends_the_case_with_its_reason(hub):
    from_township(hub, [stage_decided(1, "app1", 0, "denied", "经入户核实，不属于困难残疾人")])
    assert state(hub, "app1") == ("denied", 0, {(0, "township"): "denied", (1, "cl"): "closed", (2, "mzj"): "closed"})
    [made] = [d for k, d in downlink(hub, "shangcun") if k == "decision.made"]
    assert (made["decision"], made["reason"], made["decided_by"]) == ("denied", "经入户核实，不属于困难残疾人", "乡镇审批 周敏")


def test_rural_homestead_is_decided_at_the_township_and_no_county_department_can(hub):
    """土地管理法 第六十二条: the township government approves 宅基地; it was routed to the county 农业农村局."""
    with pytest.raises(Forbidden):
        approval.decide(hub, clerk(hub, "clerk-nyj"), "app2", "approve", "", HUB_KEY)
    from_township(hub, [stage_decided(1, "app2", 0, "approved")])
    assert state(hub, "app2")[:2] == ("approved", 1)
    with Session(hub) as s:
        app = s.get(Application, "app2")
        assert app.decided_locally and app.decided_by == "乡镇审批 周敏"
    [made] = [d for k, d in downlink(hub, "shangcun") if k == "decision.made" and d["application_id"] == "app2"]
    assert made["decision"] == "approved"


def test_an_instant_item_cannot_be_decided_at_the_county_by_construction(hub):
    """Issue 19 finding: a county clerk could decide a 即办件 while the township's decision was on its way."""
    wjj = clerk(hub, "clerk-wjj")
    assert approval.queue_with_deadlines(hub, wjj) == []
    for act in (lambda: approval.decide(hub, wjj, "app3", "approve", "", HUB_KEY), lambda: approval.accept(hub, wjj, "app3")):
        with pytest.raises(Forbidden):
            act()
    from_township(hub, [stage_decided(1, "app3", 0, "approved")])
    assert state(hub, "app3") == ("approved", 1, {(0, "township"): "approved"})


def test_a_repeated_township_decision_is_applied_once_and_a_contrary_one_is_refused(hub):
    first, again, contrary = from_township(
        hub, [stage_decided(1, "app2", 0, "approved")], [stage_decided(2, "app2", 0, "approved")], [stage_decided(3, "app2", 0, "denied", "改主意")]
    )
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    assert isinstance(contrary, Rejected) and contrary.reason == "conflict"
    assert state(hub, "app2")[0] == "approved"
    assert len([k for k, d in downlink(hub, "shangcun") if k == "decision.made" and d["application_id"] == "app2"]) == 1


def test_no_other_point_may_decide_a_township_stage(hub):
    """Another township, and the village point itself, hold valid keys: neither is the case's township."""
    [other] = from_township(hub, [stage_decided(1, "app2", 0, "approved")], node="beishan", key=BEISHAN_KEY)
    first = [received(1, "MZ-005"), received(2, "NY-001"), received(3, "WJ-001")]  # what the fixture sent
    [village] = [ingest_batch(hub, "yiwang.up.shangcun", w) for w in chain(first, [stage_decided(2, "app2", 0, "approved")])][1:]
    for verdict in (other, village):
        assert isinstance(verdict, Rejected) and verdict.reason == "not_owner"
    assert state(hub, "app2") == ("received", 0, {(0, "township"): "pending"})
    # and a township may decide only a township stage that the case is in
    [county_stage] = from_township(hub, [stage_decided(1, "app1", 1, "approved")])
    assert isinstance(county_stage, Rejected) and county_stage.reason == "invalid_record"
    assert state(hub, "app1")[:2] == ("received", 0)


def test_a_village_point_without_a_township_raises_an_alert(engine):
    """A point enrolled without its township (Node.parent): the stage has no one to decide it, and the operator is told."""
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, "NY-001")])[0])
    with Session(engine) as s:
        [alert] = s.exec(select(Alert).where(Alert.kind == "stage.no_township")).all()
        assert "shangcun-000001" in alert.message and "所属乡镇" in alert.message
    assert downlink(engine, "shangcun") == []


def test_the_township_that_accepts_may_refuse_acceptance_but_not_after_accepting(hub):
    verdicts = from_township(
        hub,
        [stage_decided(1, "app1", 0, "not_accepted", "申请人户籍不在本乡镇")],
        [stage_decided(2, "app1", 0, "not_accepted", "申请人户籍不在本乡镇")],  # sent again
        [stage_decided(3, "app2", 0, "approved")],
        [stage_decided(4, "app2", 0, "not_accepted", "改主意")],  # after it decided (and so accepted) 宅基地
    )
    assert [type(v).__name__ for v in verdicts] == ["Accepted", "Accepted", "Accepted", "Rejected"] and verdicts[3].reason == "conflict"
    assert state(hub, "app1") == ("not_accepted", 0, {(0, "township"): "not_accepted", (1, "cl"): "closed", (2, "mzj"): "closed"})
    [notice] = [d for k, d in downlink(hub, "shangcun") if k == "application.not_accepted"]
    assert (notice["reason"], notice["by"]) == ("申请人户籍不在本乡镇", "乡镇审批 周敏")
    assert state(hub, "app2")[0] == "approved"


def township_intake(n: int, item: str, accepted_by: str | None) -> Record:
    data = {
        "application_id": f"q{n}",
        "receipt_no": f"qingshan-{n:06d}",
        "item_code": item,
        "item_name": "x",
        "applicant_name": "李桂芳",
        "applicant_id_number": "11010519491231002X",
        "agent": "staff",
    }
    return Record("application.received", f"qr{n}", T, data | ({"accepted_by": accepted_by} if accepted_by else {}))


def test_a_township_window_accepts_at_intake_only_what_the_county_delegates_to_it(hub):
    """Issue 19 finding: the township window could never accept, even where the county delegates it."""
    from_township(hub, [township_intake(1, "MZ-001", "窗口 刘洋"), township_intake(2, "MZ-003", "窗口 刘洋")])
    with Session(hub) as s:
        low, old_age = s.get(Application, "q1"), s.get(Application, "q2")
        assert (low.status, low.accepted_by, low.accepted_at) == ("accepted", "窗口 刘洋", T)
        assert (old_age.status, old_age.accepted_by) == ("received", None)  # 高龄津贴 is accepted by the county's 民政局
    assert not [k for k, d in downlink(hub, "qingshan") if k == "stage.assigned" and d["application_id"] == "q1"]  # on its own list already
    from_township(
        hub, [township_intake(1, "MZ-001", "窗口 刘洋"), township_intake(2, "MZ-003", "窗口 刘洋")], [stage_decided(3, "q1", 0, "approved")]
    )
    assert state(hub, "q1")[:2] == ("accepted", 1)
    # a village point's claim to have accepted is not taken
    first = [received(1, "MZ-005"), received(2, "NY-001"), received(3, "WJ-001")]
    claim = Record("application.received", "ev9", T, received(9, "MZ-001").data | {"accepted_by": "代办员 王秀兰"})
    [verdict] = [ingest_batch(hub, "yiwang.up.shangcun", w) for w in chain(first, [claim])][1:]
    assert isinstance(verdict, Accepted)
    assert state(hub, "app9")[0] == "received"


def test_townships_get_a_delegation_and_a_result_signed_under_it_reaches_the_village(hub):
    """Issue 19 item 5: the hub delegates instant items' results to each township's key; the
    township's on-the-spot result is kept in the library and sent to the village; a result outside
    the delegation, or from another township's key, is refused."""
    from central import delegation
    from central.clock import utcnow
    from central.models import Licence
    from sync_protocol import open_licence, seal_delegated_licence

    assert delegation.renew(hub, HUB_KEY) == 2 and delegation.renew(hub, HUB_KEY) == 0  # once per township, until something changes
    [certificate] = [d["certificate"] for k, d in downlink(hub, "qingshan") if k == "delegation.granted"]
    with Session(hub) as s:
        items = json.loads(delegation.latest(s, "qingshan").items_json)
    assert items == ["WJ-001", "YB-001"]  # the sample catalog's instant items

    def result(n: int, key: SigningKey, **change) -> str:
        doc = {
            "licence_no": f"YW-qingshan-{n:06d}",
            "kind": "办理结果",
            "item_code": "WJ-001",
            "item_name": "生育登记",
            "holder_name": "张三",
            "holder_id": "11010519491231002X",
            "application_id": "app3",
            "issued_at": utcnow(),
            "issuer": "青山镇便民服务中心",
            "issuer_node": "qingshan",
        }
        return seal_delegated_licence(doc | change, key, certificate)

    def decided_with(licence: str) -> bytes:
        record = stage_decided(1, "app3", 0, "approved")
        return chain([Record(record.kind, record.id, record.at, record.data | {"licence": licence})], key=QINGSHAN_KEY, node="qingshan")[0]

    for bad in (
        result(1, BEISHAN_KEY),
        result(1, QINGSHAN_KEY, holder_id="110105194912310038"),
        result(1, QINGSHAN_KEY, licence_no="YW2026000001"),
        result(1, QINGSHAN_KEY, licence_no="YW-qingshan-x-000001"),  # outside its own numbers (as `qing` writing `YW-qing-shan-…`)
    ):
        verdict = ingest_batch(hub, "yiwang.up.qingshan", decided_with(bad))
        assert isinstance(verdict, Rejected) and verdict.reason == "invalid_record", bad
    assert state(hub, "app3")[0] == "received"
    good = result(1, QINGSHAN_KEY)
    assert isinstance(ingest_batch(hub, "yiwang.up.qingshan", decided_with(good)), Accepted)
    assert state(hub, "app3")[0] == "approved"
    with Session(hub) as s:
        [kept] = s.exec(select(Licence).where(Licence.application_id == "app3")).all()
        assert (kept.licence_no, kept.text) == ("YW-qingshan-000001", good)
    [issued] = [d for k, d in downlink(hub, "shangcun") if k == "result.issued"]
    assert issued["licence"] == good and open_licence(issued["licence"], HUB_KEY.verify_key)["issuer_node"] == "qingshan"


@pytest.mark.parametrize(
    "change",
    [
        {"decided_at": "zzzz-not-a-time"},  # broke /publicity and the dashboard with 500s
        {"reason": "拒" * 600, "decision": "not_accepted"},  # copied down, 700,000 of them stopped the sealing of every point's downlink
        {"reason": "a\x00b", "decision": "denied"},  # PostgreSQL refuses NUL: the township's own sync stopped there
        {"decided_by": ""},
    ],
)
def test_a_township_decision_the_hub_could_not_show_or_pass_on_is_refused_cleanly(hub, change):
    """Issue 19 adversarial pass: a township's words are checked before the hub keeps or forwards them."""
    from central import downlink

    record = stage_decided(1, "app1", 0, "approved")
    [verdict] = from_township(hub, [Record(record.kind, record.id, record.at, record.data | change)])
    assert isinstance(verdict, Rejected) and verdict.reason == "invalid_record"
    assert state(hub, "app1")[:2] == ("received", 0)
    downlink.seal_pending(hub, HUB_KEY)  # and every point's downlink still seals


def test_no_downlink_event_larger_than_its_kind_is_queued(engine):
    from central.downlink import queue_downlink

    with Session(engine) as s, pytest.raises(ValueError, match="at most"):
        queue_downlink(
            s, "shangcun", "decision.made", {"application_id": "a", "decision": "denied", "decided_by": "x", "decided_at": T, "reason": "长" * 20_000}
        )
