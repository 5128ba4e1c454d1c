"""便民服务 figures per point (issue 21 items 4 and 5) against a scenario with known answers:
consultations at the window and those a case followed, cases taken in at the citizen's home and
those by proxy, appointments — each point's own, each in its period, and another point's records
never counted as this one's."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import Session

from central import services
from central.ingest import ingest_batch
from central.models import Node, WindowConsultation
from sync_protocol import Record, verify_key_to_text
from tests.support.builders import NODE_KEY, T, chain, received

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))  # the records' time (T) is in November


def asked(n: int, node: str, followed: bool) -> Record:
    data = {
        "consultation_id": f"{node}-Q{n:06d}",
        "question": "低保要什么材料",
        "answer": "身份证、户口簿",
        "case_followed": followed,
        "agent": "agent",
    }
    return Record("consultation.recorded", f"q{node}{n}", T, data)


def at_home(n: int, place: str, proxy: bool = False) -> Record:
    r = received(n)
    return Record(r.kind, r.id, r.at, r.data | {"home_visit": place} | ({"proxy_agent": "代办员 王秀兰"} if proxy else {}))


def test_consultation_and_home_visit_figures_per_point_have_the_known_answers(engine):
    with Session(engine) as s:
        s.add(Node(id="xiacun", name="下村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    shangcun = [
        asked(1, "shangcun", True),
        asked(2, "shangcun", False),
        asked(3, "shangcun", True),
        at_home(1, "上村三组 李家", proxy=True),
        at_home(2, "上村一组 王家"),
        received(3),
    ]
    ingest_batch(engine, "yiwang.up.shangcun", chain(shangcun)[0])
    ingest_batch(engine, "yiwang.up.xiacun", chain([asked(1, "xiacun", False)], node="xiacun")[0])
    with engine.begin() as conn:  # one consultation of October (23:59 in Beijing): outside the period
        conn.execute(text("UPDATE windowconsultation SET at = '2026-10-31T15:59:00.000000Z' WHERE id = 'shangcun-Q000003'"))
    rows = {r["node_id"]: r for r in services.figures(engine, *NOVEMBER)}
    assert {k: rows["shangcun"][k] for k in ("consultations", "consultations_with_case", "home_visits", "home_visits_by_proxy")} == {
        "consultations": 2,
        "consultations_with_case": 1,
        "home_visits": 2,
        "home_visits_by_proxy": 1,
    }
    assert (rows["xiacun"]["consultations"], rows["xiacun"]["consultations_with_case"], rows["xiacun"]["home_visits"]) == (1, 0, 0)
    assert rows["shangcun"]["name"] == "上村" and rows["shangcun"]["portal"] == 0


def test_a_consultation_in_another_points_namespace_or_too_long_is_refused(engine):
    with Session(engine) as s:
        s.add(Node(id="xiacun", name="下村", kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    ingest_batch(engine, "yiwang.up.xiacun", chain([asked(7, "shangcun", True)], node="xiacun")[0])
    long = asked(8, "shangcun", True)
    ingest_batch(engine, "yiwang.up.shangcun", chain([Record(long.kind, long.id, T, long.data | {"question": "问" * 201})])[0])
    with Session(engine) as s:
        assert s.get(WindowConsultation, "shangcun-Q000007") is None and s.get(WindowConsultation, "shangcun-Q000008") is None


@pytest.mark.parametrize("period", [("2026-12-01", "2026-11-01"), ("bad", "2026-12-01")])
def test_the_figures_api_refuses_a_bad_period(tmp_path, hub_db_url, period):
    from litestar.testing import TestClient

    from central.app import create_app
    from central.cli import initialise
    from central.settings import Settings

    settings = Settings(data_dir=tmp_path / "hub", nats_url="nats://127.0.0.1:9", db_url=hub_db_url)
    initialise(settings, operator_password="op-pass", demo_password="pw")
    with TestClient(create_app(settings)) as client:
        api = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "operator", "password": "op-pass"}).json()["token"]}
        assert client.get("/api/services/figures", headers=api).json() == []
        assert client.get("/api/services/figures", params={"start": period[0], "end": period[1]}, headers=api).status_code == 400
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": "operator", "password": "op-pass", "_csrf_token": csrf})
        assert "便民服务（本月）" in client.get("/dashboard").text
