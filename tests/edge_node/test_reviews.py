"""受理 where the law puts it, and township stages at the township node (issue 19 items 3 and 4), on
a real SQLite node: a village point collects (收件) and never accepts; a township window accepts
an item the county delegates to it; the township approver decides its stage offline, and the
decision, signed with the node's batch, is queued in the same transaction."""

from __future__ import annotations

import json

import pytest

from central.catalog import sample_catalog
from edge_node import cases, reviews
from edge_node.catalog import install_catalog
from edge_node.link import apply_downlink
from sync_protocol import GENESIS, Record, seal_next
from tests.support.builders import AGENT, HUB_KEY, RESIDENCE_FORM, T, checked, household, resident_id
from weblayer.errors import Conflict, Forbidden, InvalidInput

APPROVER = {"username": "boss", "display_name": "乡镇审批 周敏", "role": "township_approver"}
STAFF = {"username": "staff", "display_name": "窗口 刘洋", "role": "township_staff"}


@pytest.fixture
def sample(store):
    install_catalog(store, {"version": 2, "items": sample_catalog()["items"]})
    return store


def take(store, code: str, kind: str, n: int = 1, **extra) -> dict:
    form = {"item_code": code, "applicant_name": "李桂芳", "applicant_id_number": resident_id(n)} | extra
    return cases.submit_application(store, form, AGENT, checked=checked(code), point_kind=kind)


def events(store, kind: str) -> list[dict]:
    return [json.loads(e["data_json"]) for e in store.query("SELECT data_json FROM outbox WHERE kind = ? ORDER BY rowid", (kind,))]


def test_a_village_point_collects_and_never_accepts(sample):
    app = take(sample, "MZ-001", "village", form=household(1))
    assert sample.one("SELECT status, accepted_at FROM applications WHERE id = ?", (app["id"],))[:] == ("submitted", None)
    assert "accepted_by" not in events(sample, "application.received")[0]
    assert reviews.pending(sample) == []  # a village decides no stage


def test_a_township_window_accepts_what_the_county_delegates_and_reviews_it_offline(sample):
    low = take(sample, "MZ-001", "township", form=household(1))  # 低保: accepts township, 审核 here, 审批 at 民政局
    county = take(sample, "MZ-003", "township", n=2)  # 高龄津贴: the county accepts
    assert sample.one("SELECT status FROM applications WHERE id = ?", (low["id"],))[0] == "accepted"
    assert sample.one("SELECT status FROM applications WHERE id = ?", (county["id"],))[0] == "submitted"
    received = {e["application_id"]: e for e in events(sample, "application.received")}
    assert received[low["id"]]["accepted_by"] == AGENT["display_name"] and "accepted_by" not in received[county["id"]]
    [review] = reviews.pending(sample)
    assert (review["application_id"], review["stage"], review["stage_name"], review["final"]) == (low["id"], 0, "审核", 0)
    assert json.loads(review["form_json"])["members"][0]["id_number"] == resident_id(1)

    with pytest.raises(Forbidden):
        reviews.decide(sample, low["id"], 0, "approved", "", STAFF)  # window staff take in; the approver decides
    with pytest.raises(InvalidInput, match="不同意必须写明理由"):
        reviews.decide(sample, low["id"], 0, "denied", " ", APPROVER)
    with pytest.raises(Conflict, match="受理前"):
        reviews.decide(sample, low["id"], 0, "not_accepted", "材料不全", APPROVER)  # accepted at the window already
    assert events(sample, "stage.decided") == []
    reviews.decide(sample, low["id"], 0, "approved", "入户核实属实", APPROVER)
    [decided] = events(sample, "stage.decided")
    assert decided == decided | {"application_id": low["id"], "stage": 0, "decision": "approved", "decided_by": "乡镇审批 周敏"}
    assert sample.one("SELECT status FROM applications WHERE id = ?", (low["id"],))[0] == "accepted"  # the county's 审批 is next
    with pytest.raises(Conflict, match="不能重复办理"):
        reviews.decide(sample, low["id"], 0, "denied", "改主意", APPROVER)
    assert len(events(sample, "stage.decided")) == 1


def test_an_instant_item_is_decided_on_the_spot_as_the_townships_only_stage(sample):
    app = take(sample, "WJ-001", "township")
    done = cases.decide_on_the_spot(sample, app["id"], "approved", "", APPROVER, "township")
    assert done["status"] == "approved" and done["decided_by"] == "乡镇审批 周敏"
    [decided] = events(sample, "stage.decided")
    assert (decided["stage"], decided["decision"]) == (0, "approved")
    assert events(sample, "decision.delegated") == []  # the older record is no longer written


def test_a_case_the_hub_assigns_from_a_village_can_be_refused_acceptance(sample):
    data = {
        "application_id": "app-v1",
        "receipt_no": "shangcun-000009",
        "item_code": "MZ-005",
        "item_name": "残疾人两项补贴申领",
        "stage": 0,
        "stage_name": "初审",
        "final": False,
        "applicant_name": "周建国",
        "applicant_id_number": resident_id(9),
        "submitted_at": T,
        "from_node": "xiacun",
        "materials_checked": ["居民身份证"],
    }
    with sample.write() as conn:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('node_id', 'qingshan')")
    wire, _ = seal_next("qingshan", "down", GENESIS, [Record("stage.assigned", "d1", T, data)], T, HUB_KEY)
    apply_downlink(sample, "qingshan", HUB_KEY.verify_key, wire)
    apply_downlink(sample, "qingshan", HUB_KEY.verify_key, wire)  # redelivered: applied once
    [review] = reviews.pending(sample)
    assert (review["from_node"], review["receipt_no"], review["final"]) == ("xiacun", "shangcun-000009", 0)
    reviews.decide(sample, "app-v1", 0, "not_accepted", "申请人户籍不在本乡镇", APPROVER)
    [decided] = events(sample, "stage.decided")
    assert (decided["decision"], decided["reason"]) == ("not_accepted", "申请人户籍不在本乡镇")
    assert reviews.pending(sample) == [] and reviews.decided(sample)[0]["status"] == "not_accepted"


def test_an_instant_approval_is_signed_on_the_spot_under_the_hubs_delegation(sample):
    """Issue 19 item 5: the result exists, verifiable offline, the moment the township approves."""
    from datetime import UTC, datetime, timedelta

    from nacl.signing import SigningKey

    from sync_protocol import format_time, open_licence, seal_delegation

    township_key = SigningKey(bytes(range(7, 39)))
    before = take(sample, "WJ-001", "township", n=3)
    cases.decide_on_the_spot(sample, before["id"], "approved", "", APPROVER, "township", [township_key])
    assert "licence" not in events(sample, "stage.decided")[0]  # no delegation yet: the decision goes up alone
    now = datetime.now(UTC)
    doc = {
        "kind": "即办件当场办结授权",
        "node_id": "shangcun",
        "node_name": "青山镇便民服务中心",
        "public_key": township_key.verify_key.encode().hex(),
        "items": ["WJ-001", "YB-001"],
        "valid_from": format_time(now - timedelta(minutes=1)),
        "valid_until": format_time(now + timedelta(days=30)),
        "issuer": "县级政务服务中枢",
    }
    wire, pos = seal_next(
        "shangcun", "down", GENESIS, [Record("delegation.granted", "d1", T, {"certificate": seal_delegation(doc, HUB_KEY)})], T, HUB_KEY
    )
    assert type(apply_downlink(sample, "shangcun", HUB_KEY.verify_key, wire)).__name__ == "Accepted"

    app = take(sample, "WJ-001", "township", n=4)
    cases.decide_on_the_spot(sample, app["id"], "approved", "", APPROVER, "township", [SigningKey.generate(), township_key])
    [licence] = [e["licence"] for e in events(sample, "stage.decided") if e["application_id"] == app["id"]]
    shown = open_licence(licence, HUB_KEY.verify_key)  # what any point checks, offline, with the pinned hub key
    assert shown == shown | {"holder_id": resident_id(4), "item_code": "WJ-001", "application_id": app["id"], "issuer_node": "shangcun"}
    assert shown["licence_no"] == "YW-shangcun-000001" and "授权当场办结" in shown["issuer"]
    held = sample.one("SELECT licence_no, text FROM licences WHERE application_id = ?", (app["id"],))
    assert tuple(held) == ("YW-shangcun-000001", licence)  # on the case page at once, to print

    forged = {**doc, "node_id": "beishan"}  # a delegation for another township, sent here: refused, nothing applied
    wire2, _ = seal_next(
        "shangcun", "down", pos, [Record("delegation.granted", "d2", T, {"certificate": seal_delegation(forged, HUB_KEY)})], T, HUB_KEY
    )
    assert type(apply_downlink(sample, "shangcun", HUB_KEY.verify_key, wire2)).__name__ == "Rejected"


def test_a_signed_commitment_stands_in_for_the_materials_it_names_and_a_revocation_reaches_the_case(sample):
    """告知承诺制 (issue 19 item 7) at the window: 居住证 without 居住地住址证明, on the applicant's signed
    commitment; without the signed paper it is refused, and an item not marked for it takes none."""
    from tests.images import signature

    form = {"item_code": "GA-006", "applicant_name": "李桂芳", "applicant_id_number": resident_id(8), "commitment": "1", "form": RESIDENCE_FORM}
    seen = [m for m in checked("GA-006") if m != "居住地住址证明"]
    with pytest.raises(InvalidInput) as unsigned:
        cases.submit_application(sample, form, AGENT, checked=seen, point_kind="township")
    assert unsigned.value.field == "commitment" and "告知承诺书" in unsigned.value.message
    with pytest.raises(InvalidInput, match="不实行告知承诺制"):
        cases.submit_application(sample, form | {"item_code": "MZ-003", "form": {}}, AGENT, checked=checked("MZ-003"), point_kind="township")
    signed = [(cases.COMMITMENT, "commitment.png", signature())]
    app = cases.submit_application(sample, form, AGENT, blobs_dir=sample.path.parent / "blobs", uploads=signed, checked=seen, point_kind="township")
    assert sample.one("SELECT commitment FROM applications WHERE id = ?", (app["id"],))[0] == 1
    [received] = [e for e in events(sample, "application.received") if e["application_id"] == app["id"]]
    assert received["commitment"] is True
    assert [m["material"] for m in events(sample, "materials.attached")] == [cases.COMMITMENT]

    with sample.write() as conn:
        conn.execute("UPDATE applications SET status = 'approved' WHERE id = ?", (app["id"],))  # as decision.made leaves it
        conn.execute("INSERT INTO licences (licence_no, application_id, text, received_at) VALUES ('YW1', ?, 'YWL1.x', ?)", (app["id"], T))
    revoked = {"application_id": app["id"], "reason": "未在申报地址居住", "by": "陈刚", "at": T}
    wire, _ = seal_next("shangcun", "down", GENESIS, [Record("decision.revoked", "r1", T, revoked)], T, HUB_KEY)
    apply_downlink(sample, "shangcun", HUB_KEY.verify_key, wire)
    row = sample.one("SELECT status, decision_reason FROM applications WHERE id = ?", (app["id"],))
    assert row["status"] == "revoked" and "未在申报地址居住" in row["decision_reason"]
    assert sample.one("SELECT revoked_at FROM licences WHERE licence_no = 'YW1'")[0] == T


def test_a_stage_number_or_reason_no_review_can_have_is_a_clear_refusal(sample):
    """Adversarial pass: an enormous stage number was a 500 (SQLite overflow); a NUL in the reason went up."""
    from weblayer.errors import NotFound

    low = take(sample, "MZ-001", "township", form=household(1))
    for stage in (10**30, -1):
        with pytest.raises(NotFound):
            reviews.get_review(sample, low["id"], stage)
        with pytest.raises(NotFound):
            reviews.decide(sample, low["id"], stage, "approved", "", APPROVER)
    with pytest.raises(InvalidInput, match="控制字符"):
        reviews.decide(sample, low["id"], 0, "denied", "a\x00b", APPROVER)
    assert events(sample, "stage.decided") == []


def test_the_review_api_masks_every_resident_id_as_every_node_answer_does(sample):
    """New-user pass: GET /api/reviews returned the applicant's and the household's IDs in full."""
    from edge_node.web.schemas import review_out
    from tests.support.logs import full_resident_ids

    take(sample, "MZ-001", "township", form=household(1))
    [shown] = [review_out(r) for r in reviews.pending(sample)]
    assert not full_resident_ids(repr(shown)) and shown.applicant_id_number.endswith(resident_id(1)[-4:])
