"""预约办事 (issue 21 item 3) at the hub.

A point offers its windows (``appointments.offered``: sync_protocol check_windows); each slot has
an online share the county's portal books and a share the point books itself, offline too
(``appointment.made``). The two never overlap, so neither side can give a place the other gave.

A citizen books on the portal with their phone number, proved by a code sent to it by SMS
(``request_code``, ``book``); the booking goes to the point on its downlink
(``appointment.booked``), to its agent's list for the day, and the citizen is told by SMS with the
booking's number and a token to see or cancel it (``cancel``: ``appointment.cancelled``). The point
reports what became of each appointment (``appointment.updated``: cancelled, no-show, or served —
with the case it led to). Two citizens racing for a slot's last place: one gets it, the other is
told to choose another (``Appointment.place`` is unique per slot).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select as core_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from sync_protocol import (
    APPOINTMENT_BOOKED,
    APPOINTMENT_CANCELLED,
    MAX_DAYS_AHEAD,
    WindowsInvalid,
    check_windows,
    format_time,
    hidden_controls,
    parse_time,
    slot_times,
)
from weblayer.errors import Conflict, InvalidInput, NotFound

from . import sms
from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .models import Appointment, CatalogItem, Node, PhoneCode, PointSchedule, SmsMessage
from .texts import citizen_token, token_as_typed
from .workdays import BEIJING, load_calendar

STATES = {"booked": "已预约", "cancelled": "已取消", "no_show": "未到", "served": "已办理"}
FINAL = ("cancelled", "no_show", "served")  # what a point may report of an appointment
COUNTS = ("portal", "window", *FINAL)  # the figures per point: booked where, and what became of them
CODE_TTL = sms.CODE_VALID
CODE_EVERY = timedelta(seconds=60)  # one code a minute per number
CODE_TRIES = 5  # wrong codes before a new one must be asked for
CODES_PER_NUMBER = ((timedelta(hours=1), 5, " 1 小时后"), (timedelta(days=1), 10, "明天"))
NAME_CHARS = 50
WEEKDAYS = "一二三四五六日"
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# -- what the point says (ingest handlers, inside its batch's transaction) -------------------------


def offered(session: Session, node_id: str, data: dict[str, Any], now: str) -> None:
    """The point's windows, replacing the ones before. A schedule no point's own form makes is
    refused (ValueError: the batch is quarantined)."""
    try:
        windows = check_windows(data["windows"])
    except WindowsInvalid as exc:
        raise ValueError(f"appointments.offered from {node_id}: {exc}") from None
    days_ahead = data["days_ahead"] if 1 <= data["days_ahead"] <= MAX_DAYS_AHEAD else MAX_DAYS_AHEAD
    row = session.get(PointSchedule, node_id) or PointSchedule(node_id=node_id, updated_at=now)
    row.windows_json, row.days_ahead, row.updated_at = json.dumps(windows, ensure_ascii=False), days_ahead, now
    session.add(row)


def made(session: Session, node_id: str, data: dict[str, Any], now: str) -> None:
    """An appointment the point booked from its own share (its id in the point's namespace)."""
    if len(data["name"]) > NAME_CHARS or len(data["phone"]) > 20 or len(data.get("item_code", "")) > 40 or len(data["window"]) > 20:
        raise ValueError(f"appointment {data['appointment_id']}: fields beyond what a point's form takes")
    date.fromisoformat(data["day"])  # ValueError: not a day
    if not TIME.match(data["time"]):
        raise ValueError(f"appointment {data['appointment_id']}: time {data['time']!r} is not HH:MM")
    if session.get(Appointment, data["appointment_id"]) is None:
        session.add(
            Appointment(
                id=data["appointment_id"],
                node_id=node_id,
                window=data["window"],
                day=data["day"],
                time=data["time"],
                item_code=data.get("item_code", ""),
                name=data["name"],
                phone=data["phone"],
                source="window",
                created_at=now,
                updated_at=now,
            )
        )


def updated(session: Session, node_id: str, data: dict[str, Any], now: str) -> None:
    """The point served one (and the case it led to), marked a no-show, or cancelled it. Only a
    booked one changes — except that a citizen who cancelled and came all the same was served.
    The point applies the citizen's cancellation likewise (edge_node/appointments.py), so both
    ends agree whatever crossed: served over cancelled over no-show."""
    found = session.get(Appointment, data["appointment_id"])
    if found is None or found.node_id != node_id or data["status"] not in FINAL:
        return
    if not (found.status == "booked" or (found.status == "cancelled" and data["status"] == "served")):
        return
    found.status, found.updated_at = data["status"], now
    found.application_id = data.get("application_id") if data["status"] == "served" else None
    found.place = None if data["status"] == "cancelled" else found.place  # a cancelled place is free again
    session.add(found)


# -- the portal ------------------------------------------------------------------------------------


def points(engine: Engine) -> list[dict[str, Any]]:
    """The points a citizen can book online: enrolled, with a window that has an online share."""
    with Session(engine) as session:
        rows = session.exec(select(PointSchedule, Node).where(PointSchedule.node_id == Node.id, Node.status == "enrolled")).all()
    return [
        {"node_id": node.id, "name": node.name, "kind": node.kind}
        for schedule, node in sorted(rows, key=lambda r: r[1].name)
        if any(w["online"] for w in json.loads(schedule.windows_json))
    ]


def _now_beijing() -> datetime:
    return parse_time(utcnow()).astimezone(BEIJING)


def _bookable(session: Session, node_id: str) -> tuple[Node, PointSchedule]:
    """The point and its windows, if it takes bookings on the portal; NotFound otherwise."""
    node = session.get(Node, node_id)
    schedule = session.get(PointSchedule, node_id)
    if node is None or schedule is None or node.status != "enrolled":
        raise NotFound("这个服务点没有开放网上预约")
    return node, schedule


def check_bookable(engine: Engine, node_id: str) -> None:
    """NotFound unless the point takes bookings on the portal (before a code is sent for it)."""
    with Session(engine) as session:
        _bookable(session, node_id)


def free_slots(engine: Engine, node_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The point's bookable days: from today (slots not yet begun) to its days ahead, working days
    only, each window's slots with the online places left."""
    now = (now or _now_beijing()).astimezone(BEIJING)
    calendar = load_calendar(engine)
    with Session(engine) as session:
        node, schedule = _bookable(session, node_id)
        last = (now.date() + timedelta(days=schedule.days_ahead)).isoformat()
        rows = (
            session.connection()
            .execute(  # SQLModel's select takes four columns
                core_select(Appointment.window, Appointment.day, Appointment.time, Appointment.source, func.count())  # type: ignore[call-overload]
                .where(col(Appointment.node_id) == node_id, col(Appointment.status).in_(("booked", "served", "no_show")))
                .where(col(Appointment.day) >= now.date().isoformat(), col(Appointment.day) <= last)
                .group_by(col(Appointment.window), col(Appointment.day), col(Appointment.time), col(Appointment.source))
            )
            .all()
        )
    taken = {(f"{w}|{d}|{t}", source): n for w, d, t, source, n in rows}

    def free(window: dict[str, Any], day: str, time: str) -> int:
        """The online share's places left; fewer when the point, its share cut, booked into it
        (a schedule changed after the bookings): the slot's capacity is never exceeded."""
        key = f"{window['id']}|{day}|{time}"
        portal, own = taken.get((key, "portal"), 0), taken.get((key, "window"), 0)
        return max(0, min(window["online"] - portal, window["capacity"] - portal - own))

    windows = [w for w in json.loads(schedule.windows_json) if w["online"]]
    days = []
    for offset in range(schedule.days_ahead + 1):
        day = now.date() + timedelta(days=offset)
        if not calendar.is_workday(day)[0]:
            continue
        slots = [
            {"window": w["id"], "window_name": w["name"], "time": t, "free": free(w, day.isoformat(), t)}
            for w in windows
            for t in slot_times(w, day)
            if offset or t > now.strftime("%H:%M")
        ]
        if slots:
            days.append({"day": day.isoformat(), "label": f"{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}", "slots": slots})
    return {"node_id": node.id, "name": node.name, "kind": node.kind, "days": days}


def takes(point_kind: str, item: dict[str, Any]) -> bool:
    """Whether a point of ``point_kind`` takes ``item`` in (a village point no township item: as
    the point's own intake rules say), so no one books a trip for nothing."""
    return not item.get("withdrawn") and not (item.get("level") == "township" and point_kind != "township")


def _hash(phone: str, code: str) -> str:
    return hashlib.sha256(f"{phone}:{code}".encode()).hexdigest()


def _phone(phone: str) -> str:
    phone = phone.strip()
    if not sms.mobile(phone):
        raise InvalidInput("请填写 11 位手机号码（以 1 开头）：验证码和预约信息发到这个号码", field="phone")
    return phone


def request_code(engine: Engine, phone: str) -> None:
    """Send a one-time code to ``phone`` by SMS (one a minute; valid ten minutes)."""
    phone = _phone(phone)
    now = utcnow()
    with transaction(engine) as session:
        # codes never used leave after a day: the table holds the numbers of this day's bookers only
        session.exec(delete(PhoneCode).where(col(PhoneCode.expires_at) < format_time(parse_time(now) - timedelta(days=1))))
        held = session.get(PhoneCode, phone)
        if held is not None and parse_time(held.sent_at) + CODE_EVERY > parse_time(now):
            raise Conflict("验证码已发送，请 1 分钟后再获取")
        for window, most, wait in CODES_PER_NUMBER:  # what one number may be sent, whoever asks
            since = format_time(parse_time(now) - window)
            asked = session.exec(
                select(func.count())
                .select_from(SmsMessage)
                .where(SmsMessage.phone == phone, SmsMessage.step == "verification", col(SmsMessage.created_at) >= since)
            ).one()
            if asked >= most:
                raise Conflict(f"这个号码获取验证码太频繁，请{wait}再试")
        code = f"{secrets.randbelow(10**6):06d}"
        row = held or PhoneCode(phone=phone, code_hash="", sent_at=now, expires_at=now)
        row.code_hash, row.sent_at, row.expires_at, row.attempts = _hash(phone, code), now, format_time(parse_time(now) + CODE_TTL), 0
        session.add(row)
        sms.queue(session, f"code:{phone}:{now}", "verification", phone, {"code": code})


def _check_code(session: Session, phone: str, code: str) -> None:
    """The code sent to ``phone``, used up; InvalidInput otherwise (a few tries per code)."""
    held = session.get(PhoneCode, phone)
    if held is None or held.expires_at < utcnow() or held.attempts >= CODE_TRIES:
        raise InvalidInput("验证码已失效，请重新获取", field="code")
    if not hmac.compare_digest(held.code_hash, _hash(phone, code.strip())):
        held.attempts += 1
        session.add(held)
        session.commit()  # the failed try counts, though the booking is refused
        raise InvalidInput("验证码不对，请核对短信", field="code")
    session.delete(held)


def book(engine: Engine, node_id: str, window: str, day: str, time: str, name: str, phone: str, code: str, item_code: str = "") -> Appointment:
    """A citizen's booking of one place of a slot's online share, proved by the code sent to their phone."""
    phone, name = _phone(phone), name.strip()
    if not name or len(name) > NAME_CHARS or hidden_controls(name):
        raise InvalidInput(f"请填写姓名（最多 {NAME_CHARS} 字，不含控制字符）", field="name")
    slots = free_slots(engine, node_id)
    slot = next((s for d in slots["days"] if d["day"] == day for s in d["slots"] if s["window"] == window and s["time"] == time), None)
    if slot is None:
        raise InvalidInput("这个时段不能预约，请重新选择", field="slot")
    if slot["free"] <= 0:
        raise Conflict("这个时段已约满，请另选时段")
    now = utcnow()
    try:
        with transaction(engine) as session:
            item = session.get(CatalogItem, item_code) if item_code else None
            if item_code and (item is None or not takes(slots["kind"], json.loads(item.detail_json))):
                raise InvalidInput("这个服务点不办理这个事项，请重新选择（乡镇事项请预约乡镇便民服务中心）", field="item_code")
            _check_code(session, phone, code)
            held = session.exec(
                select(Appointment.place).where(
                    Appointment.node_id == node_id, Appointment.window == window, Appointment.day == day, Appointment.time == time
                )
            ).all()
            schedule = session.get(PointSchedule, node_id)
            assert schedule is not None  # free_slots found it
            share = next(w["online"] for w in json.loads(schedule.windows_json) if w["id"] == window)
            place = next((p for p in range(1, share + 1) if p not in held), None)
            if place is None:
                raise Conflict("这个时段已约满，请另选时段")
            booked = Appointment(
                id=f"portal-{secrets.token_hex(8)}",
                node_id=node_id,
                window=window,
                day=day,
                time=time,
                item_code=item_code,
                name=name,
                phone=phone,
                source="portal",
                token=citizen_token(),
                place=place,
                created_at=now,
                updated_at=now,
            )
            session.add(booked)
            queue_downlink(
                session,
                node_id,
                APPOINTMENT_BOOKED,
                {"appointment_id": booked.id, "window": window, "day": day, "time": time, "name": name, "phone": phone, "at": now}
                | ({"item_code": item_code} if item_code else {}),
            )
            when = date.fromisoformat(day)
            sms.queue(
                session,
                f"booked:{booked.id}",
                "appointment_booked",
                phone,
                {
                    "when": f"{when.month}月{when.day}日{time}",
                    "point": slots["name"],
                    "window": slot["window_name"],
                    "item": item.name if item else "事项",
                    "token": booked.token,
                },
            )
    except IntegrityError:  # another citizen took that place a moment ago
        raise Conflict("这个时段刚刚约满，请另选时段") from None
    return booked


def _held(session: Session, token: str) -> Appointment:
    """The portal booking a citizen's token names; NotFound otherwise."""
    found = session.exec(select(Appointment).where(Appointment.token == token_as_typed(token))).first() if token.strip() else None
    if found is None:
        raise NotFound("没有这个查询码的预约，请核对")
    return found


def by_token(engine: Engine, token: str) -> Appointment:
    with Session(engine) as session:
        return _held(session, token)


def described(engine: Engine, appointment: Appointment) -> dict[str, str]:
    """What the citizen's page says of a booking besides its time: where, at which window, for what."""
    with Session(engine) as session:
        node = session.get(Node, appointment.node_id)
        schedule = session.get(PointSchedule, appointment.node_id)
        item = session.get(CatalogItem, appointment.item_code) if appointment.item_code else None
    windows = {w["id"]: w["name"] for w in json.loads(schedule.windows_json)} if schedule else {}
    return {
        "point": node.name if node else appointment.node_id,
        "window": windows.get(appointment.window, appointment.window),
        "item": item.name if item else "到点再说",
    }


def cancel(engine: Engine, token: str) -> Appointment:
    """The citizen cancels their booking (before its day is over): the place is free again and the point hears."""
    with transaction(engine) as session:
        found = _held(session, token)
        if found.status != "booked":
            raise Conflict(f"这个预约{STATES[found.status]}，不能再取消")
        if found.day < _now_beijing().date().isoformat():
            raise Conflict("预约的日期已过")
        found.status, found.place, found.updated_at = "cancelled", None, utcnow()
        session.add(found)
        queue_downlink(session, found.node_id, APPOINTMENT_CANCELLED, {"appointment_id": found.id, "at": found.updated_at})
    return found


def figures(engine: Engine, start: str, end: str) -> list[dict[str, Any]]:
    """Per point, appointments of days in [start, end]: booked on the portal and at the window,
    served, no-shows, cancelled (COUNTS)."""
    with Session(engine) as session:
        rows = session.exec(
            select(Appointment.node_id, Appointment.source, Appointment.status, func.count())
            .where(col(Appointment.day) >= start, col(Appointment.day) <= end)
            .group_by(Appointment.node_id, Appointment.source, Appointment.status)
        ).all()
    out: dict[str, dict[str, Any]] = {}
    for node_id, source, status, n in rows:
        row = out.setdefault(node_id, {"node_id": node_id} | dict.fromkeys(COUNTS, 0))
        row[source] += n
        if status in FINAL:
            row[status] += n
    return list(out.values())
