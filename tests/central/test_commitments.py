"""告知承诺制 at a real hub (issue 19 item 7): a case on the applicant's commitment is decided at
once with its e-licence, published, and post-checked by its department; a commitment found false
revokes the decision and the point is told."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from central import commitments
from central.auth import add_user
from central.ingest import ingest_batch
from central.models import Application, DownlinkEvent, Licence, Node, PostCheck, User
from sync_protocol import COMMITMENT_MATERIAL, Record
from tests.support.builders import HUB_KEY, RESIDENCE_FORM, T, chain, received
from weblayer.errors import Conflict, Forbidden, InvalidInput


def committed(n: int, item: str) -> Record:
    form = {"form": RESIDENCE_FORM} if item == "GA-006" else {}
    return Record("application.received", f"ev{n}", T, received(n, item).data | {"commitment": True} | form)


@pytest.fixture
def hub(engine):
    add_user(engine, "clerk-gaj", "陈刚", "clerk", "pw", department="gaj")
    with Session(engine) as s:
        s.get(Node, "shangcun").kind = "township"  # 居住证 is taken in at a township centre
        s.commit()
    # app1: 居住证 on the commitment that stands in for 居住地住址证明; app2: 高龄津贴, which has no commitment
    ingest_batch(engine, "yiwang.up.shangcun", chain([committed(1, "GA-006"), signed(1), committed(2, "MZ-003"), signed(2)])[0])
    return engine


def signed(n: int) -> Record:
    """The signed 告知承诺书, as the point attaches it (edge_node cases.COMMITMENT)."""
    data = {"application_id": f"app{n}", "material": COMMITMENT_MATERIAL, "sha256": "ab" * 32, "size": 1000, "media_type": "image/png"}
    return Record("materials.attached", f"m{n}", T, data)


def clerk(engine, username):
    with Session(engine) as s:
        return s.get(User, username)


def kinds(engine, app_id):
    with Session(engine) as s:
        return [
            e.kind
            for e in s.exec(select(DownlinkEvent).order_by(DownlinkEvent.created_at)).all()
            if json.loads(e.data_json).get("application_id") == app_id
        ]


def test_a_commitment_case_is_decided_at_once_published_and_post_checked(hub):
    with Session(hub) as s:
        assert s.get(Application, "app1").commitment and not s.get(Application, "app2").commitment
        assert "不实行告知承诺制" in s.get(Application, "app2").intake_problem  # the clerk checks every material
    assert commitments.decide_pending(hub, HUB_KEY) == 1 and commitments.decide_pending(hub, HUB_KEY) == 0
    with Session(hub) as s:
        app = s.get(Application, "app1")
        assert (app.status, app.decided_by, app.accepted_by) == ("approved", "告知承诺制（先予办理）", "告知承诺制（先予办理）")
        check = s.get(PostCheck, "app1")
        assert check.department == "gaj" and json.loads(check.replaced_json) == ["居住地住址证明"] and check.due_at > app.decided_at
        assert s.get(Application, "app2").status == "received"
    assert kinds(hub, "app1") == ["application.accepted", "decision.made", "result.issued"]
    [published] = commitments.published(hub)
    assert published == published | {"item_name": "居住证申领", "applicant": "张*", "post_check": "核查中", "replaces": ["居住地住址证明"]}
    assert "11010519491231002X" not in json.dumps(published, ensure_ascii=False)

    with pytest.raises(Forbidden):
        commitments.record_outcome(hub, clerk(hub, "clerk-mzj"), "app1", "false", "x")  # not the item's department
    with pytest.raises(InvalidInput, match="承诺不实须写明"):
        commitments.record_outcome(hub, clerk(hub, "clerk-gaj"), "app1", "false", " ")
    commitments.record_outcome(hub, clerk(hub, "clerk-gaj"), "app1", "false", "经入户核查，申请人未在申报地址居住")
    with Session(hub) as s:
        app = s.get(Application, "app1")
        assert (app.status, app.outcome) == ("revoked", "revoked") and "未在申报地址居住" in app.decision_reason
        assert all(lic.revoked_at for lic in s.exec(select(Licence).where(Licence.application_id == "app1")).all())
    assert kinds(hub, "app1")[-1] == "decision.revoked"
    from central import lookup

    assert lookup.answer(hub, "shangcun", "11010519491231002X")["licences"] == []  # a revoked result stands in for nothing
    assert commitments.published(hub)[0]["post_check"] == "承诺不实"
    with pytest.raises(Conflict, match="已经核查过了"):
        commitments.record_outcome(hub, clerk(hub, "clerk-gaj"), "app1", "verified", "")


def test_a_commitment_case_taken_in_where_it_may_not_be_waits_for_the_clerk(engine):
    """A village point's 居住证 (a township item) on a commitment is not decided by itself."""
    ingest_batch(engine, "yiwang.up.shangcun", chain([committed(1, "GA-006")])[0])
    assert commitments.decide_pending(engine, HUB_KEY) == 0
    with Session(engine) as s:
        app = s.get(Application, "app1")
        assert app.status == "received" and "乡镇" in app.intake_problem


def test_a_points_claim_of_a_commitment_without_the_signed_paper_is_not_decided(engine):
    """Adversarial pass: a point's `commitment: true` alone (no 告知承诺书 among its materials) got a
    hub-signed e-licence. Now the case waits for the clerk."""
    with Session(engine) as s:
        s.get(Node, "shangcun").kind = "township"
        s.commit()
    ingest_batch(engine, "yiwang.up.shangcun", chain([committed(1, "GA-006")])[0])
    assert commitments.decide_pending(engine, HUB_KEY) == 0
    with Session(engine) as s:
        assert s.get(Application, "app1").status == "received" and s.exec(select(Licence)).all() == []
