"""预约 at the hub (issue 21 item 3): a point's windows arrive; the portal offers the online share
of working days' slots; a citizen proves their phone with an SMS code and books one place; two
cannot take the last one; a cancellation frees it; the point's own bookings and what became of
each arrive, and nothing one point sends touches another's appointments."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from central import appointments
from central.ingest import ingest_batch
from central.models import Appointment, DownlinkEvent, Node, PhoneCode, PointSchedule, Quarantine, SmsMessage
from sync_protocol import Record, verify_key_to_text
from tests.support.builders import NODE_KEY, T, chain, received
from weblayer.errors import Conflict, InvalidInput, NotFound

WINDOW = {"id": "w1", "name": "1号窗口", "days": [1, 2, 3, 4, 5], "start": "09:00", "end": "10:00", "minutes": 30, "capacity": 2, "online": 1}
MONDAY_MORNING = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # 08:30 in Beijing


def offer(n: int = 1, windows: list | None = None) -> Record:
    return Record("appointments.offered", f"o{n}", T, {"windows": windows if windows is not None else [WINDOW], "days_ahead": 7})


def code_sent(engine, phone: str) -> str:
    with Session(engine) as s:
        texts = [m.text for m in s.exec(select(SmsMessage).where(SmsMessage.phone == phone, SmsMessage.step == "verification")).all()]
    return re.search(r"\d{6}", texts[-1]).group(0)


def next_working_day(engine) -> str:
    days = appointments.free_slots(engine, "shangcun")["days"]
    return days[1]["day"] if days[0]["day"] == appointments._now_beijing().date().isoformat() else days[0]["day"]


def test_the_portal_offers_the_online_share_of_working_days(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer()])[0])
    assert [p["node_id"] for p in appointments.points(engine)] == ["shangcun"]
    slots = appointments.free_slots(engine, "shangcun", MONDAY_MORNING)
    assert [d["day"] for d in slots["days"]] == ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11", "2026-12-14"]  # no weekend
    assert slots["days"][0]["label"] == "12月7日 星期一"
    assert [(s["time"], s["free"]) for s in slots["days"][0]["slots"]] == [("09:00", 1), ("09:30", 1)]  # the point keeps the other place
    later = appointments.free_slots(engine, "shangcun", MONDAY_MORNING + timedelta(hours=1, minutes=15))  # 09:45: today's begun slots are gone
    assert later["days"][0]["day"] == "2026-12-08"
    with pytest.raises(NotFound):
        appointments.free_slots(engine, "nowhere")


def test_a_citizen_books_with_the_code_sent_to_their_phone_and_cancels(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer()])[0])
    day = next_working_day(engine)
    with pytest.raises(InvalidInput):
        appointments.request_code(engine, "12345")
    appointments.request_code(engine, "13912345678")
    with pytest.raises(Conflict, match="1 分钟"):
        appointments.request_code(engine, "13912345678")
    code = code_sent(engine, "13912345678")
    with pytest.raises(InvalidInput, match="验证码不对"):
        appointments.book(engine, "shangcun", "w1", day, "09:00", "周桂兰", "13912345678", "000000" if code != "000000" else "111111")
    booked = appointments.book(engine, "shangcun", "w1", day, "09:00", "周桂兰", "13912345678", code, "MZ-003")
    assert booked.id.startswith("portal-") and booked.source == "portal" and len(booked.token) == 12
    with pytest.raises(InvalidInput, match="失效"):  # a code is used once
        appointments.book(engine, "shangcun", "w1", day, "09:30", "周桂兰", "13912345678", code)
    with Session(engine) as s:
        [down] = [json.loads(e.data_json) for e in s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "appointment.booked")).all()]
        told = s.exec(select(SmsMessage).where(SmsMessage.step == "appointment_booked")).one()
    assert down["appointment_id"] == booked.id and down["item_code"] == "MZ-003" and down["name"] == "周桂兰"
    assert booked.token in told.text and "高龄津贴" in told.text
    full = [s for d in appointments.free_slots(engine, "shangcun")["days"] if d["day"] == day for s in d["slots"] if s["time"] == "09:00"]
    assert full[0]["free"] == 0
    appointments.cancel(engine, booked.token)
    with pytest.raises(Conflict):
        appointments.cancel(engine, booked.token)
    again = [s for d in appointments.free_slots(engine, "shangcun")["days"] if d["day"] == day for s in d["slots"] if s["time"] == "09:00"]
    assert again[0]["free"] == 1  # the place is free again
    with Session(engine) as s:
        assert [
            json.loads(e.data_json)["appointment_id"]
            for e in s.exec(select(DownlinkEvent).where(DownlinkEvent.kind == "appointment.cancelled")).all()
        ] == [booked.id]


def test_five_wrong_codes_spend_the_code(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer()])[0])
    day = next_working_day(engine)
    appointments.request_code(engine, "13912345678")
    code = code_sent(engine, "13912345678")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(appointments.CODE_TRIES):
        with pytest.raises(InvalidInput, match="验证码不对"):
            appointments.book(engine, "shangcun", "w1", day, "09:00", "周桂兰", "13912345678", wrong)
    with pytest.raises(InvalidInput, match="失效"):
        appointments.book(engine, "shangcun", "w1", day, "09:00", "周桂兰", "13912345678", code)


def test_two_citizens_cannot_take_the_last_place(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer()])[0])
    day = next_working_day(engine)
    for phone in ("13900000001", "13900000002"):
        appointments.request_code(engine, phone)
    appointments.book(engine, "shangcun", "w1", day, "09:00", "甲", "13900000001", code_sent(engine, "13900000001"))
    with pytest.raises(Conflict, match="约满"):
        appointments.book(engine, "shangcun", "w1", day, "09:00", "乙", "13900000002", code_sent(engine, "13900000002"))
    with Session(engine) as s:  # the same place written twice is refused by the database itself
        s.add(
            Appointment(
                id="portal-x",
                node_id="shangcun",
                window="w1",
                day=day,
                time="09:00",
                name="丙",
                phone="1",
                source="portal",
                place=1,
                created_at=T,
                updated_at=T,
            )
        )
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            s.commit()


def test_the_points_bookings_and_their_fate_arrive_and_stay_the_points_own(engine):
    with Session(engine) as s:
        for hostile in ("xiacun", "dongcun", "beicun"):
            s.add(Node(id=hostile, name=hostile, kind="village", public_key=verify_key_to_text(NODE_KEY.verify_key), enrolled_at=T))
        s.commit()
    made = {
        "appointment_id": "shangcun-A000001",
        "window": "w1",
        "day": "2026-12-08",
        "time": "09:00",
        "name": "李大爷",
        "phone": "",
        "agent": "agent",
    }
    batches = chain(
        [offer(), received(1), Record("appointment.made", "m1", T, made)],
        [
            Record(
                "appointment.updated", "u1", T, {"appointment_id": "shangcun-A000001", "status": "served", "application_id": "app1", "agent": "agent"}
            )
        ],
    )
    for b in batches:
        ingest_batch(engine, "yiwang.up.shangcun", b)
    with Session(engine) as s:
        held = s.get(Appointment, "shangcun-A000001")
    assert (held.source, held.status, held.application_id) == ("window", "served", "app1")
    # points with their own valid keys: one cancels shangcun's appointment, one makes one in
    # shangcun's namespace, one offers a schedule no point's own form makes
    hostile = {
        "xiacun": Record("appointment.updated", "x1", T, {"appointment_id": "shangcun-A000001", "status": "cancelled", "agent": "x"}),
        "dongcun": Record("appointment.made", "x2", T, made | {"appointment_id": "shangcun-A000009"}),
        "beicun": offer(9, [WINDOW | {"online": 5}]),
    }
    for node_id, record in hostile.items():
        ingest_batch(engine, f"yiwang.up.{node_id}", chain([record], node=node_id)[0])
    with Session(engine) as s:
        assert s.get(Appointment, "shangcun-A000001").status == "served"  # another point's appointment: untouched
        assert s.get(Appointment, "shangcun-A000009") is None
        assert [q.reason for q in s.exec(select(Quarantine).order_by(Quarantine.id)).all()] == ["not_owner", "not_owner", "invalid_record"]
        assert s.get(PointSchedule, "beicun") is None
    figures = appointments.figures(engine, "2026-12-01", "2026-12-31")
    assert figures == [{"node_id": "shangcun", "portal": 0, "window": 1, "cancelled": 0, "no_show": 0, "served": 1}]


def test_codes_for_one_number_are_limited_whoever_asks(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer()])[0])
    for _ in range(5):
        appointments.request_code(engine, "13912345678")
        with Session(engine) as s:  # a minute later each time
            s.exec(update(PhoneCode).values(sent_at="2000-01-01T00:00:00.000000Z"))  # type: ignore[call-overload]
            s.commit()
    with pytest.raises(Conflict, match="太频繁"):
        appointments.request_code(engine, "13912345678")


def test_a_point_that_cut_its_online_share_after_bookings_never_overbooks_a_slot(engine):
    """Adversarial pass: a point set its online share to 0 after three portal bookings, then booked
    five people of its own into the five-place slot, and the portal showed -2 places."""
    wide = WINDOW | {"capacity": 5, "online": 3}
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer(1, [wide])])[0])
    day = next_working_day(engine)
    for n, phone in enumerate(("13900000001", "13900000002", "13900000003")):
        appointments.request_code(engine, phone)
        appointments.book(engine, "shangcun", "w1", day, "09:00", f"甲{n}", phone, code_sent(engine, phone))
    made = [
        Record(
            "appointment.made",
            f"m{n}",
            T,
            {"appointment_id": f"shangcun-A00000{n}", "window": "w1", "day": day, "time": "09:00", "name": "乙", "phone": "", "agent": "agent"},
        )
        for n in (1, 2)
    ]
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer(1, [wide])], [offer(2, [wide | {"online": 4}]), *made])[1])
    [slot] = [s for d in appointments.free_slots(engine, "shangcun")["days"] if d["day"] == day for s in d["slots"] if s["time"] == "09:00"]
    assert slot["free"] == 0  # 3 online + 2 of the point's = 5: full, though the online share says 4


def test_a_citizens_cancellation_and_the_points_news_agree_whatever_crossed(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer(), received(1)])[0])
    day = next_working_day(engine)
    tokens = []
    for phone in ("13900000001", "13900000002"):
        appointments.request_code(engine, phone)
        tokens.append(
            appointments.book(engine, "shangcun", "w1", day, "09:00" if phone.endswith("1") else "09:30", "甲", phone, code_sent(engine, phone))
        )
    for booked in tokens:
        appointments.cancel(engine, booked.token)
    news = [
        Record("appointment.updated", "u1", T, {"appointment_id": tokens[0].id, "status": "no_show", "agent": "agent"}),
        Record("appointment.updated", "u2", T, {"appointment_id": tokens[1].id, "status": "served", "application_id": "app1", "agent": "agent"}),
    ]
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer(), received(1)], news)[1])
    with Session(engine) as s:
        assert s.get(Appointment, tokens[0].id).status == "cancelled"  # the citizen cancelled: not a no-show
        came = s.get(Appointment, tokens[1].id)
    assert (came.status, came.application_id) == ("served", "app1")  # cancelled, came all the same: served


def test_a_booking_name_with_control_characters_is_refused(engine):
    ingest_batch(engine, "yiwang.up.shangcun", chain([offer()])[0])
    appointments.request_code(engine, "13912345678")
    for name in ("王\x00五", "王\u202e五", "王\x1b[2J"):
        with pytest.raises(InvalidInput) as err:
            appointments.book(engine, "shangcun", "w1", next_working_day(engine), "09:00", name, "13912345678", code_sent(engine, "13912345678"))
        assert err.value.field == "name"


def test_a_village_point_takes_no_booking_for_a_township_item_and_the_month_counts_tomorrow(engine):
    """New-user pass: 居民身份证换领 (a township item) could be booked at a village point; the
    dashboard's month left out bookings for days still to come."""
    from central import services

    ingest_batch(engine, "yiwang.up.shangcun", chain([offer()])[0])
    day = next_working_day(engine)
    appointments.request_code(engine, "13912345678")
    with pytest.raises(InvalidInput, match="不办理这个事项") as err:
        appointments.book(engine, "shangcun", "w1", day, "09:00", "甲", "13912345678", code_sent(engine, "13912345678"), "GA-001")
    assert err.value.field == "item_code"
    booked = appointments.book(engine, "shangcun", "w1", day, "09:00", "甲", "13912345678", code_sent(engine, "13912345678"), "MZ-003")
    first, last = services.this_month()
    assert last.month == first.month and (last + timedelta(days=1)).day == 1
    if first.isoformat() <= booked.day <= last.isoformat():
        assert {r["node_id"]: r["portal"] for r in services.figures(engine, first, last)} == {"shangcun": 1}
    assert appointments.described(engine, booked) == {"point": "上村", "window": "1号窗口", "item": "高龄津贴申领"}
