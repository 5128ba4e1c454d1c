"""预约 at the point (issue 21 item 3): the windows it offers go up; the agent books from the
point's own share with no link at all, and never past it; portal bookings arriving on the
downlink join the day's list; an intake from an appointment marks it served with its case; a
no-show or a cancellation goes up."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from edge_node import appointments, cases, link
from edge_node.store import Store
from sync_protocol import GENESIS, Accepted, Record, seal_next
from tests.support.api import login
from tests.support.builders import AGENT, FORM, HUB_KEY, T
from weblayer.errors import Conflict, InvalidInput, NotFound

WINDOW = {"id": "w1", "name": "1号窗口", "days": [1, 2, 3, 4, 5, 6, 7], "start": "09:00", "end": "10:00", "minutes": 30, "capacity": 2, "online": 1}


def outbox(store: Store, kind: str) -> list[dict]:
    return [json.loads(r["data_json"]) for r in store.query("SELECT data_json FROM outbox WHERE kind = ? ORDER BY seq", (kind,))]


def test_the_point_offers_windows_and_books_its_own_share_offline(store):
    with pytest.raises(InvalidInput, match="网上预约人数"):
        appointments.save_schedule(store, [WINDOW | {"online": 3}], 14, AGENT)
    appointments.save_schedule(store, [WINDOW], 7, AGENT)
    assert outbox(store, "appointments.offered") == [{"windows": [WINDOW], "days_ahead": 7}]
    day = (appointments.today() + timedelta(days=1)).isoformat()
    first = appointments.book(store, AGENT, "w1", day, "09:00", "李大爷", "13912345678", "MZ-003")
    assert first["id"] == "shangcun-A000001"
    with pytest.raises(Conflict, match="本点可约的名额已满"):  # capacity 2, one of them the portal's
        appointments.book(store, AGENT, "w1", day, "09:00", "王大妈")
    appointments.book(store, AGENT, "w1", day, "09:30", "王大妈")
    for bad, field in (
        (lambda: appointments.book(store, AGENT, "w1", day, "10:00", "张三"), "time"),  # past the end
        (lambda: appointments.book(store, AGENT, "w1", "2020-01-01", "09:00", "张三"), "day"),
        (lambda: appointments.book(store, AGENT, "w1", day, "09:30", " "), "name"),
        (lambda: appointments.book(store, AGENT, "w1", day, "09:30", "张三", "123"), "phone"),
    ):
        with pytest.raises(InvalidInput) as err:
            bad()
        assert err.value.field == field
    made = outbox(store, "appointment.made")
    assert [m["appointment_id"] for m in made] == ["shangcun-A000001", "shangcun-A000002"] and made[0]["item_code"] == "MZ-003"
    yesterday = (appointments.today() - timedelta(days=1)).isoformat()  # a portal booking whose time has passed
    with store.write() as conn:
        appointments.apply_booked(
            conn, {"appointment_id": "portal-00000000000000aa", "window": "w1", "day": yesterday, "time": "09:00", "name": "丁", "phone": "", "at": T}
        )
    appointments.set_status(store, AGENT, "portal-00000000000000aa", "no_show")
    with pytest.raises(Conflict):
        appointments.set_status(store, AGENT, "portal-00000000000000aa", "cancelled")
    appointments.set_status(store, AGENT, "shangcun-A000002", "cancelled")
    with pytest.raises(InvalidInput):
        appointments.set_status(store, AGENT, "shangcun-A000001", "served")  # serving is the intake's
    assert outbox(store, "appointment.updated") == [
        {"appointment_id": "portal-00000000000000aa", "status": "no_show", "agent": "agent"},
        {"appointment_id": "shangcun-A000002", "status": "cancelled", "agent": "agent"},
    ]


def test_portal_bookings_join_the_days_list_and_an_intake_serves_one(client, tmp_path: Path):
    store = Store(tmp_path / "node" / "node.sqlite3")
    day = appointments.today().isoformat()
    booked = {
        "appointment_id": "portal-0a1b2c3d4e5f6071",
        "window": "w1",
        "day": day,
        "time": "09:00",
        "name": "周桂兰",
        "phone": "13700001111",
        "at": T,
    }
    records = [
        Record("appointment.booked", "d1", T, booked | {"item_code": "MZ-003"}),
        Record("appointment.booked", "d2", T, booked | {"appointment_id": "portal-ffff000011112222", "name": "吴强"}),
        Record("appointment.cancelled", "d3", T, {"appointment_id": "portal-ffff000011112222", "at": T}),
    ]
    wire, _ = seal_next("shangcun", "down", GENESIS, records, T, HUB_KEY)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    assert [(a["name"], a["status"], a["source"]) for a in appointments.of_day(store, day)] == [
        ("周桂兰", "booked", "portal"),
        ("吴强", "cancelled", "portal"),
    ]
    assert appointments.for_intake(store, "portal-0a1b2c3d4e5f6071") == {
        "appointment_id": "portal-0a1b2c3d4e5f6071",
        "applicant_name": "周桂兰",
        "applicant_phone": "13700001111",
    }
    with pytest.raises(NotFound):
        appointments.for_intake(store, "portal-ffff000011112222")  # cancelled
    store.close()

    login(client)  # no NATS at all behind this node: the list and the intake work offline
    assert "周桂兰" in client.get("/appointments").text and "今天有 1 个预约" in client.get("/").text
    intake = client.get("/applications/new", params={"item": "MZ-003", "appointment": "portal-0a1b2c3d4e5f6071"})
    assert 'name="appointment_id" value="portal-0a1b2c3d4e5f6071"' in intake.text and 'value="周桂兰"' in intake.text
    store = Store(tmp_path / "node" / "node.sqlite3")
    app = cases.submit_application(
        store, FORM | {"applicant_name": "周桂兰", "appointment_id": "portal-0a1b2c3d4e5f6071"}, AGENT, checked=["居民身份证"]
    )
    [served] = [a for a in appointments.of_day(store, day) if a["name"] == "周桂兰"]
    assert (served["status"], served["application_id"]) == ("served", app["id"])
    assert outbox(store, "appointment.updated") == [
        {"appointment_id": "portal-0a1b2c3d4e5f6071", "status": "served", "agent": "agent", "application_id": app["id"]}
    ]
    # the same appointment again (a second case for the citizen): the case is taken, the appointment stays served
    cases.submit_application(store, FORM | {"appointment_id": "portal-0a1b2c3d4e5f6071"}, AGENT, checked=["居民身份证"])
    assert len(outbox(store, "appointment.updated")) == 1
    store.close()


def test_the_schedule_and_booking_pages_keep_what_was_typed_and_say_what_is_wrong(client):
    login(client)
    page = client.get("/appointments/schedule")
    token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]
    bad = client.post(
        "/appointments/schedule",
        data={
            "_csrf_token": token,
            "w0_name": "1号窗口",
            "w0_days": "1,2",
            "w0_start": "9点",
            "w0_end": "11:00",
            "w0_minutes": "30",
            "w0_capacity": "2",
            "w0_online": "1",
            "days_ahead": "7",
        },
    )
    assert bad.status_code == 400 and "08:30 这样的格式" in bad.text and 'value="9点"' in bad.text
    good = client.post(
        "/appointments/schedule",
        data={
            "_csrf_token": token,
            "w0_name": "1号窗口",
            "w0_days": "1,2,3,4,5,6,7",
            "w0_start": "09:00",
            "w0_end": "11:00",
            "w0_minutes": "30",
            "w0_capacity": "2",
            "w0_online": "1",
            "days_ahead": "7",
        },
        follow_redirects=False,
    )
    assert good.status_code in (302, 303)
    day = (appointments.today() + timedelta(days=1)).isoformat()
    booked = client.post(
        "/appointments", data={"_csrf_token": token, "day": day, "slot": "w1|09:00", "name": "李大爷", "phone": ""}, follow_redirects=True
    )
    assert "李大爷" in booked.text
    full = client.post("/appointments", data={"_csrf_token": token, "day": day, "slot": "w1|09:00", "name": "王大妈", "phone": ""})
    assert full.status_code == 409 and "名额已满" in full.text and 'value="王大妈"' in full.text
    assert client.get("/appointments", params={"day": "not-a-day"}).status_code == 400
    bearer = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]}
    [listed] = client.get("/api/appointments", params={"day": day}, headers=bearer).json()
    assert (listed["name"], listed["source"], listed["status"]) == ("李大爷", "window", "booked")
    assert client.post("/api/appointments", json={"window": "w1", "day": day, "time": "09:00", "name": "王大妈"}, headers=bearer).status_code == 409
    bad_schedule = client.put(
        "/api/appointments/schedule",
        json={"windows": [{"id": "w1", "name": "x", "days": [8], "start": "09:00", "end": "10:00", "minutes": 30, "capacity": 1, "online": 0}]},
        headers=bearer,
    )
    assert bad_schedule.status_code == 400 and "星期" in bad_schedule.json()["detail"]


def test_after_its_online_share_is_cut_the_point_books_only_the_places_left(store, tmp_path: Path):
    """Adversarial pass: three portal bookings held a five-place slot, the point set its online
    share to 0 and booked five more."""
    appointments.save_schedule(store, [WINDOW | {"capacity": 5, "online": 3}], 7, AGENT)
    day = (appointments.today() + timedelta(days=1)).isoformat()
    booked = [
        Record(
            "appointment.booked",
            f"d{n}",
            T,
            {"appointment_id": f"portal-{n:016x}", "window": "w1", "day": day, "time": "09:00", "name": "甲", "phone": "", "at": T},
        )
        for n in range(3)
    ]
    wire, _ = seal_next("shangcun", "down", GENESIS, booked, T, HUB_KEY)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    appointments.save_schedule(store, [WINDOW | {"capacity": 5, "online": 0}], 7, AGENT)
    for name in ("乙", "丙"):
        appointments.book(store, AGENT, "w1", day, "09:00", name)
    with pytest.raises(Conflict):
        appointments.book(store, AGENT, "w1", day, "09:00", "丁")  # 3 + 2 = 5: full
    with pytest.raises(InvalidInput, match="最多提前 7 天"):
        appointments.book(store, AGENT, "w1", "9999-12-31", "09:00", "戊")


def test_a_no_show_the_citizen_had_cancelled_is_a_cancellation_and_a_served_one_stays(store):
    appointments.save_schedule(store, [WINDOW], 7, AGENT)
    day = (appointments.today() - timedelta(days=1)).isoformat()  # its time has come whatever the hour (today's 09:00 had not before 09:00)
    booked = {"window": "w1", "day": day, "time": "09:00", "name": "甲", "phone": "", "at": T}
    first = [Record("appointment.booked", f"d{n}", T, booked | {"appointment_id": f"portal-{n:016x}"}) for n in (1, 2)]
    wire, pos = seal_next("shangcun", "down", GENESIS, first, T, HUB_KEY)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    appointments.set_status(store, AGENT, f"portal-{1:016x}", "no_show")
    with store.write() as conn:
        appointments.serve_in(conn, f"portal-{2:016x}", "app-x", "agent")
    cancelled = [Record("appointment.cancelled", f"c{n}", T, {"appointment_id": f"portal-{n:016x}", "at": T}) for n in (1, 2)]
    wire, _ = seal_next("shangcun", "down", pos, cancelled, T, HUB_KEY)
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    assert [a["status"] for a in appointments.of_day(store, day)] == ["cancelled", "served"]


def test_odd_digits_and_unknown_fields_in_a_schedule_are_refused_not_a_500(client):
    login(client)
    token = client.get("/appointments/schedule").text.split('name="_csrf_token" value="')[1].split('"')[0]
    form = {
        "_csrf_token": token,
        "w0_name": "1号窗口",
        "w0_days": "1,²",
        "w0_start": "09:00",
        "w0_end": "11:00",
        "w0_minutes": "30",
        "w0_capacity": "2",
        "w0_online": "1",
    }
    odd = client.post("/appointments/schedule", data=form)  # ² is no weekday: asked again, not a 500
    assert odd.status_code == 400 and "开放星期请填" in odd.text
    assert client.post("/appointments/schedule", data=form | {"w0_days": "1", "w0_minutes": "³"}).status_code == 400
    short = client.post("/appointments/schedule", data=form | {"w0_days": "1", "w0_start": "08:30", "w0_end": "08:39", "w0_minutes": "10"})
    assert short.status_code == 400 and "不够一个时段" in short.text
    bearer = {"Authorization": "Bearer " + client.post("/api/login", json={"username": "agent", "password": "pw"}).json()["token"]}
    window = {"id": "w1", "name": "x", "days": [1], "start": "09:00", "end": "10:00", "minutes": 30, "capacity": 1, "online": 0}
    assert client.put("/api/appointments/schedule", json={"windows": [window | {"colour": "red"}]}, headers=bearer).status_code == 400
    assert client.put("/api/appointments/schedule", json={"windows": [window | {"name": "x\u0000y"}]}, headers=bearer).status_code == 400
    assert client.post("/api/consultations", json={"question": "问\u0000"}, headers=bearer).status_code == 400


def test_weekdays_as_people_write_them_and_no_show_only_once_the_time_has_come(store):
    from edge_node.web.appointments import weekdays

    assert weekdays("1-5") == weekdays("1,2,3,4,5") == weekdays("1、2、3、4、5") == weekdays("12345") == weekdays(" 1 2 3 4 5 ") == [1, 2, 3, 4, 5]
    assert weekdays("67") == [6, 7] and weekdays("周一") == [] and weekdays("1,²") == []
    appointments.save_schedule(store, [WINDOW], 7, AGENT)
    tomorrow = (appointments.today() + timedelta(days=1)).isoformat()
    booked = appointments.book(store, AGENT, "w1", tomorrow, "09:00", "甲", "", "MZ-003")
    with pytest.raises(Conflict, match="时间还没到"):
        appointments.set_status(store, AGENT, booked["id"], "no_show")
    [listed] = appointments.of_day(store, tomorrow)
    assert (listed["window_name"], listed["item_name"]) == ("1号窗口", "高龄津贴申领")
