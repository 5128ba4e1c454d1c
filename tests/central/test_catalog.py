"""Catalog management: an operator's edit publishes a numbered version, sent to every enrolled
node in the same transaction and audit-logged; a bad edit changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from central import catalog
from central.auth import add_user
from central.models import AuditEntry, CatalogItem, DownlinkEvent, Node, User
from tests.support.builders import T
from weblayer.errors import InvalidInput


@pytest.fixture
def operator(engine):
    add_user(engine, "operator", "张伟", "operator", "pw")
    with Session(engine) as s:
        s.add(Node(id="revoked-pt", name="旧点", kind="village", public_key="00" * 32, enrolled_at=T, status="revoked"))
        s.commit()
        return s.get(User, "operator")


def item(engine, code):
    return catalog.item_for_edit(engine, code)


def test_an_edit_publishes_the_next_version_to_every_enrolled_node(engine, operator):
    assert catalog.published_catalog(engine)["version"] == 1
    changed = item(engine, "MZ-003") | {"time_limit_days": 7, "note": "依据新文件压缩时限"}
    published = catalog.publish_item(engine, operator, changed, changed["note"])
    assert published["version"] == 2
    current = catalog.published_catalog(engine)
    assert current["version"] == 2 and next(i for i in current["items"] if i["code"] == "MZ-003")["time_limit_days"] == 7
    with Session(engine) as s:
        assert s.get(CatalogItem, "MZ-003").time_limit_days == 7  # routing and deadlines use it from now on
        [event] = s.exec(select(DownlinkEvent)).all()  # the enrolled node only, not the revoked one
        [entry] = s.exec(select(AuditEntry)).all()
    assert event.node_id == "shangcun" and event.kind == "catalog.version" and json.loads(event.data_json)["version"] == 2
    assert (entry.actor, entry.action, entry.target) == ("operator", "catalog.published", "MZ-003") and "依据新文件" in entry.detail
    assert [v["version"] for v in catalog.versions(engine)] == [2, 1]


def test_a_new_parallel_item_names_its_lead_department_first(engine, operator):
    new = {
        "code": "NY-002",
        "name": "农机购置补贴申请",
        "departments": ["nyj", "scj"],
        "time_limit_days": 15,
        "fee_fen": 0,
        "materials": [{"name": "居民身份证"}],
    }
    published = catalog.publish_item(engine, operator, new)
    assert published["item"]["department"] == "nyj" and published["item"]["departments"] == ["nyj", "scj"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"time_limit_days": 0}, "time_limit_days"),
        ({"time_limit_days": "10"}, "time_limit_days"),
        ({"fee_fen": -1}, "fee_fen"),
        ({"departments": ["nobody"]}, "departments"),
        ({"name": " "}, "name"),
        ({"materials": ["居民身份证"]}, "materials"),
        ({"level": "province"}, "level"),
    ],
)
def test_a_bad_edit_names_the_field_and_changes_nothing(engine, operator, change, field):
    with pytest.raises(InvalidInput) as caught:
        catalog.publish_item(engine, operator, item(engine, "MZ-003") | change)
    assert caught.value.field == field
    assert catalog.published_catalog(engine)["version"] == 1
    with Session(engine) as s:
        assert s.exec(select(DownlinkEvent)).all() == [] and s.exec(select(AuditEntry)).all() == []


def test_the_edit_form_reads_the_fee_in_yuan_to_the_fen():
    form = {
        "code": "X-1",
        "name": "x",
        "department": "mzj",
        "time_limit_days": "5",
        "fee_yuan": "12.50",
        "material_rows": "2",
        "material_name_0": "居民身份证",
        "material_shared_1": "1",
        "material_name_1": "户口簿",
    }
    parsed = catalog.item_from_form(form, ["mzj", "cl"])
    assert parsed["fee_fen"] == 1250 and parsed["departments"] == ["mzj", "cl"]
    assert parsed["materials"] == [{"name": "居民身份证", "shared": False}, {"name": "户口簿", "shared": True}]
    with pytest.raises(InvalidInput, match="精确到分"):
        catalog.item_from_form(form | {"fee_yuan": "0.001"}, ["mzj"])
