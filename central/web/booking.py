"""预约办事 on the portal (issue 21 item 3; central/appointments.py): a citizen picks a point, a day
and a slot, proves their phone with an SMS code, and gets a booking they can see and cancel with
its token; the same on the API."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Template

from weblayer.auth import PUBLIC
from weblayer.decoding import Body, Line
from weblayer.errors import ServiceError
from weblayer.site import SiteDep
from weblayer.throttle import TooManyAttempts

from .. import appointments, guides
from ..models import Appointment
from .context import Ctx, HubContext, HubRequest, page
from .portal import limited


class PointOut(msgspec.Struct):
    node_id: str
    name: str
    kind: str


class SlotOut(msgspec.Struct):
    window: str
    window_name: str
    time: str
    free: int  # online places left


class DayOut(msgspec.Struct):
    day: str
    label: str
    free: int  # online places left that day
    slots: list[SlotOut]  # the chosen day's only ([] for the others)


class SlotsOut(msgspec.Struct):
    node_id: str
    name: str
    day: str  # the chosen day ("" when none is bookable)
    days: list[DayOut]


def one_day(slots: dict[str, Any], day: str) -> dict[str, Any]:
    """The point's bookable days with their places left, and the slots of ``day`` only (default:
    the first): a page and an answer of a few KB however many windows and days a point offers."""
    chosen = day if any(d["day"] == day for d in slots["days"]) else (slots["days"][0]["day"] if slots["days"] else "")
    days = [
        {"day": d["day"], "label": d["label"], "free": sum(max(0, s["free"]) for s in d["slots"]), "slots": d["slots"] if d["day"] == chosen else []}
        for d in slots["days"]
    ]
    return slots | {"day": chosen, "days": days}


class PhoneCodeIn(Body):
    phone: Line


class BookingIn(Body):
    node_id: Line
    window: Line
    day: Line
    time: Line
    name: Line
    phone: Line
    code: Line  # the one sent to ``phone`` (POST /api/public/phone-codes)
    item_code: Line = ""


class AppointmentOut(msgspec.Struct):
    token: str  # the booking's key: see it, cancel it
    id: str
    node_id: str
    window: str
    day: str
    time: str
    item_code: str
    status: str  # booked, cancelled, no_show, served
    status_label: str


def appointment_out(a: Appointment) -> AppointmentOut:
    return AppointmentOut(
        token=a.token,
        id=a.id,
        node_id=a.node_id,
        window=a.window,
        day=a.day,
        time=a.time,
        item_code=a.item_code,
        status=a.status,
        status_label=appointments.STATES[a.status],
    )


def _booking_page(ctx: HubContext, node_id: str, form: dict[str, str], status_code: int = 200, **extra: Any) -> Template:
    try:
        slots = one_day(appointments.free_slots(ctx.engine, node_id), form.get("day") or form.get("slot", "").partition("|")[2].partition("|")[0])
    except ServiceError as exc:
        return page("portal_points.html", status_code=exc.status, user=None, points=appointments.points(ctx.engine), error=exc.message)
    items = [i for i in guides.in_force(ctx.engine) if appointments.takes(slots["kind"], i)]
    return page("portal_book.html", status_code=status_code, user=None, slots=slots, form=form, items=items, **extra)


def _appointment_page(ctx: HubContext, appointment: Appointment | None, **extra: Any) -> Template:
    about = appointments.described(ctx.engine, appointment) if appointment else {}
    return page("portal_appointment.html", user=None, appointment=appointment, about=about, states=appointments.STATES, **extra)


class BookingPages(Controller):
    opt = {PUBLIC: True}

    @get("/portal/book", sync_to_thread=True)
    def points(self, ctx: Ctx) -> Template:
        return page("portal_points.html", user=None, points=appointments.points(ctx.engine))

    @get("/portal/book/{node_id:str}", sync_to_thread=True)
    def slots(self, ctx: Ctx, node_id: FromPath[str], item: FromQuery[str] = "", day: FromQuery[str] = "") -> Template:
        return _booking_page(ctx, node_id, {"item_code": item, "day": day})

    @post("/portal/book/{node_id:str}", sync_to_thread=True, status_code=200)
    def book(self, request: HubRequest, site: SiteDep, ctx: Ctx, node_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Template:
        """One form, two buttons: send the code (``act=code``), then book with it."""
        if data.get("show_day"):  # another day's slots, what was typed kept
            return _booking_page(ctx, node_id, {k: v for k, v in data.items() if k not in ("slot", "code")} | {"day": data["show_day"]})
        window, _, rest = data.get("slot", "").partition("|")
        day, _, time = rest.partition("|")
        try:
            if data.get("act") == "code":
                appointments.check_bookable(ctx.engine, node_id)  # before any code is sent
                limited(site, request, "codes")
                appointments.request_code(ctx.engine, data.get("phone", ""))
                return _booking_page(ctx, node_id, data, code_sent=True)
            booked = appointments.book(
                ctx.engine, node_id, window, day, time, data.get("name", ""), data.get("phone", ""), data.get("code", ""), data.get("item_code", "")
            )
        except (ServiceError, TooManyAttempts) as exc:
            status = exc.status if isinstance(exc, ServiceError) else 429
            return _booking_page(ctx, node_id, data, status, error=exc.message, field=getattr(exc, "field", None))
        return _appointment_page(ctx, booked, new=True)

    @get("/portal/appointments", sync_to_thread=True)
    def appointment(self, ctx: Ctx, token: FromQuery[str] = "") -> Template:
        try:
            found = appointments.by_token(ctx.engine, token) if token else None
        except ServiceError as exc:
            return page("portal_appointment.html", status_code=exc.status, user=None, appointment=None, token=token, error=exc.message)
        return _appointment_page(ctx, found, token=token)

    @post("/portal/appointments/cancel", sync_to_thread=True, status_code=200)
    def cancel(self, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Template:
        token = data.get("token", "")
        try:
            cancelled = appointments.cancel(ctx.engine, token)
        except ServiceError as exc:
            return page("portal_appointment.html", status_code=exc.status, user=None, appointment=None, token=token, error=exc.message)
        ctx.sync.wake_downlink()
        return _appointment_page(ctx, cancelled, token=token)


class BookingApi(Controller):
    opt = {PUBLIC: True}

    @get("/public/appointment-points", sync_to_thread=True)
    def api_points(self, ctx: Ctx) -> list[PointOut]:
        """Public: the points that take bookings on the portal."""
        return [PointOut(**p) for p in appointments.points(ctx.engine)]

    @get("/public/appointment-points/{node_id:str}/slots", sync_to_thread=True)
    def api_slots(self, ctx: Ctx, node_id: FromPath[str], day: FromQuery[str] = "") -> SlotsOut:
        """Public: the point's bookable days with the online places left, and the slots of ``day``
        (YYYY-MM-DD; default the first bookable day)."""
        return msgspec.convert(one_day(appointments.free_slots(ctx.engine, node_id), day), SlotsOut)

    @post("/public/phone-codes", sync_to_thread=True, status_code=204)
    def api_code(self, request: HubRequest, site: SiteDep, ctx: Ctx, data: JSONBody[PhoneCodeIn]) -> None:
        """Public: send a one-time code to the phone a booking is made with (one a minute, 5 an hour
        to one number; 10 per address in 15 minutes)."""
        limited(site, request, "codes")
        appointments.request_code(ctx.engine, data.phone)

    @post("/public/appointments", sync_to_thread=True, status_code=201)
    def api_book(self, ctx: Ctx, data: JSONBody[BookingIn]) -> AppointmentOut:
        """Public: book a place of a slot's online share with the code sent to the phone. Keep the
        ``token``: it shows and cancels the booking."""
        booked = appointments.book(ctx.engine, data.node_id, data.window, data.day, data.time, data.name, data.phone, data.code, data.item_code)
        ctx.sync.wake_downlink()
        return appointment_out(booked)

    @get("/public/appointments/{token:str}", sync_to_thread=True)
    def api_appointment(self, ctx: Ctx, token: FromPath[str]) -> AppointmentOut:
        """Public: a booking, by its token."""
        return appointment_out(appointments.by_token(ctx.engine, token))

    @post("/public/appointments/{token:str}/cancellation", sync_to_thread=True, status_code=200)
    def api_cancel(self, ctx: Ctx, token: FromPath[str]) -> AppointmentOut:
        """Public: cancel a booking (its place is free again; the point hears)."""
        cancelled = appointments.cancel(ctx.engine, token)
        ctx.sync.wake_downlink()
        return appointment_out(cancelled)


API = [BookingApi]
PAGES = [BookingPages]
