"""一号申请 across the county (issue 19 item 6), at a real hub: a point learns one person's cases at
every point and their e-licences, nothing more; every lookup is logged with the ID masked; a point
that asks too fast is answered no more."""

from __future__ import annotations

import json

from sqlmodel import Session

from central import actions, approval, lookup
from central.ingest import ingest_batch
from central.models import Node, User
from sync_protocol import Record, verify_key_to_text
from tests.support.builders import HUB_KEY, NODE_KEY, T, chain, received


def test_a_point_learns_a_persons_cases_and_licences_across_the_county_and_the_lookup_is_logged(engine):
    with Session(engine) as s:
        s.add(Node(id="xiacun", name="下村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    phone = Record("application.received", "ev2", T, received(2).data | {"applicant_phone": "13800138000", "form": {"contact": "13900139000"}})
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1), phone])[0])
    with Session(engine) as s:
        clerk = s.get(User, "clerk-mzj")
    approval.decide(engine, clerk, "app1", "approve", "", HUB_KEY)  # 高龄津贴 approved: an e-licence

    found = lookup.answer(engine, "xiacun", " 11010519491231002x ")
    assert found["id_number"] == "11010519491231002X" and found["applicant_name"] == "张三"
    assert sorted((c["receipt_no"], c["point"], c["status_text"]) for c in found["cases"]) == [
        ("shangcun-000001", "上村", "已批准"),
        ("shangcun-000002", "上村", "待受理"),
    ]
    [licence] = found["licences"]
    assert licence["item_name"] == "高龄津贴申领" and licence["text"].startswith("YWL1.")
    assert "1380013" not in json.dumps(found) and "1390013" not in json.dumps(found)  # no phone, no form
    [entry] = [a for a in actions.find(engine) if a.action == "person.looked_up"]
    assert entry.actor == "xiacun" and entry.target == "1101**********002X" and "11010519491231002X" not in entry.detail
    assert lookup.answer(engine, "xiacun", "110105194912310038")["cases"] == []


def test_a_point_that_asks_too_fast_is_answered_no_more_within_the_minute():
    rate = lookup.PerPointRate(per_minute=3)
    assert [rate.allow("xiacun", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert rate.allow("shangcun", now=3)  # another point is not held back
    assert rate.allow("xiacun", now=61)  # a minute after the first
