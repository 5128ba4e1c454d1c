"""Shared materials (issue 19 item 6), at a real hub: a material the catalog marks shared is
obtained from the data-sharing adapter — here the local STAND-IN registry, which is not a real
service — shown to the clerk with its source, asked once per case and kept; a service that cannot
be reached is said so and asked again next time."""

from __future__ import annotations

from sqlmodel import Session

from central import sharing
from central.ingest import ingest_batch
from central.models import Application, SharedMaterial
from tests.support.builders import chain, received


class Counting:
    """Wraps an adapter and counts the questions it is asked (not a fake of ours: it passes on)."""

    def __init__(self, inner: sharing.SharingAdapter | None, fail: bool = False) -> None:
        self.inner, self.fail, self.asked = inner, fail, 0

    def fetch(self, material: str, id_number: str) -> dict | None:
        self.asked += 1
        if self.fail:
            raise sharing.SharingUnavailable("down")
        assert self.inner is not None
        return self.inner.fetch(material, id_number)


def test_a_shared_material_comes_from_the_registry_with_its_source_once_per_case(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, "MZ-003")])[0])  # 高龄津贴: 户口簿 is shared
    with Session(engine) as s:
        app = s.get(Application, "app1")
    down = Counting(None, fail=True)
    [unreachable] = sharing.shared_materials(engine, app, down)
    assert (unreachable["material"], unreachable["state"]) == ("户口簿", "unavailable")
    with Session(engine) as s:
        assert s.get(SharedMaterial, ("app1", "户口簿")) is None  # not kept: asked again next time

    registry = Counting(sharing.LocalRegistry())  # the sample shipped with the code
    [got] = sharing.shared_materials(engine, app, registry)
    assert got["state"] == "found" and got["source"] == "公安户籍信息（演示替身）" and got["fields"]["住址"] == "青山镇上村三组 8 号"
    assert sharing.shared_materials(engine, app, registry) == [got] and registry.asked == 1  # kept with the case


def test_a_person_the_service_does_not_hold_is_said_so(engine, tmp_path):
    (tmp_path / "sharing_registry.json").write_text('{"records": {}}', encoding="utf-8")
    ingest_batch(engine, "yiwang.up.shangcun", chain([received(1, "MZ-003")])[0])
    with Session(engine) as s:
        app = s.get(Application, "app1")
    [none] = sharing.shared_materials(engine, app, sharing.adapter_for(tmp_path))  # a county's own registry file
    assert none["state"] == "none" and none["fetched_at"]
