"""预约 at the point (edge_node/appointments.py): the day's list the agent works from, booking a
citizen into the point's own share (offline too), no-shows and cancellations, and the windows
the point offers; pages and API."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Response, Template

from weblayer.decoding import Body, Line
from weblayer.errors import InvalidInput, ServiceError

from .. import appointments, catalog
from ..intake import intake_refusal
from .context import Ctx, NodeContext, NodeRequest, page


class AppointmentOut(msgspec.Struct):
    id: str
    window: str
    day: str
    time: str
    item_code: str
    name: str
    phone: str
    source: str  # portal (the citizen booked on the county's portal) | window (this point booked it)
    status: str  # booked, cancelled, no_show, served
    status_label: str
    application_id: str | None


class AppointmentIn(Body):
    window: Line
    day: Line
    time: Line
    name: Line
    phone: Line = ""
    item_code: Line = ""


class StatusIn(Body):
    status: Line  # no_show | cancelled


class WindowIn(msgspec.Struct, forbid_unknown_fields=True):
    id: Line
    name: Line
    days: Annotated[list[int], msgspec.Meta(max_length=7)]
    start: Line
    end: Line
    minutes: int
    capacity: int
    online: int


class ScheduleIn(Body):
    windows: Annotated[list[WindowIn], msgspec.Meta(max_length=10)]
    days_ahead: int = appointments.DEFAULT_DAYS_AHEAD


class ScheduleOut(msgspec.Struct):
    windows: list[dict[str, Any]]
    days_ahead: int


def appointment_out(row: dict[str, Any]) -> AppointmentOut:
    return msgspec.convert({k: row.get(k) for k in AppointmentOut.__struct_fields__}, AppointmentOut)


def day_of(value: str) -> date:
    try:
        return date.fromisoformat(value) if value else appointments.today()
    except ValueError:
        raise InvalidInput("日期应为 2026-12-07 这样的格式", field="day") from None


def _day_page(
    ctx: NodeContext, user: Any, day: str = "", status_code: int = 200, error: str | None = None, form: dict[str, str] | None = None
) -> Template:
    try:
        when = day_of(day)
    except ServiceError:
        if error is None:
            raise
        when = appointments.today()  # an error page for a bad day shows today
    return page(
        ctx,
        "appointments.html",
        status_code=status_code,
        user=user,
        day=when.isoformat(),
        previous=(when - timedelta(days=1)).isoformat(),
        next=(when + timedelta(days=1)).isoformat(),
        rows=appointments.of_day(ctx.store, when.isoformat()),
        slots=appointments.own_slots(ctx.store, when),
        items=[i for i in catalog.list_items(ctx.store) if intake_refusal(i, ctx.identity.kind, False) is None],  # what this point takes in
        error=error,
        form=form or {},
    )


def _schedule_rows(data: dict[str, str]) -> list[dict[str, str]]:
    """The schedule page's rows (``w0_name``, ``w0_days`` …) as typed; rows without a name are dropped."""
    keys = ("name", "days", "start", "end", "minutes", "capacity", "online")
    return [{k: data.get(f"w{i}_{k}", "").strip() for k in keys} | {"id": f"w{i + 1}"} for i in range(10) if data.get(f"w{i}_name", "").strip()]


def weekdays(text: str) -> list[int]:
    """Weekdays as people write them: 1,2,3 / 1、2、3 / 1 2 3 / 12345 / 1-5 (1 = Monday); a
    character that is none of these makes the list empty, and check_windows then asks again."""
    days: set[int] = set()
    for part in re.split(r"[,，、\s]+", text.strip()):
        if re.fullmatch(r"[1-7]-[1-7]", part):
            days.update(range(int(part[0]), int(part[2]) + 1))
        elif re.fullmatch(r"[1-7]+", part):
            days.update(int(c) for c in part)
        elif part:
            return []
    return sorted(days)


def _schedule_form(data: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    """The rows as windows for check_windows: days as numbers (1 = Monday), counts as integers."""
    windows: list[dict[str, Any]] = []
    for row in _schedule_rows(data):
        try:
            numbers = {k: int(row[k] or 0) for k in ("minutes", "capacity", "online")}
        except ValueError:
            raise InvalidInput(f"{row['name']}：分钟数和人数请填整数", field="windows") from None
        days = weekdays(row["days"])
        windows.append({"id": row["id"], "name": row["name"], "days": days, "start": row["start"], "end": row["end"]} | numbers)
    try:
        days_ahead = int(data.get("days_ahead", "") or appointments.DEFAULT_DAYS_AHEAD)
    except ValueError:
        raise InvalidInput("可预约天数请填整数", field="days_ahead") from None
    return windows, days_ahead


class AppointmentPages(Controller):
    @get("/appointments", sync_to_thread=True)
    def day_page(self, request: NodeRequest, ctx: Ctx, day: FromQuery[str] = "") -> Template:
        try:
            return _day_page(ctx, request.user, day)
        except ServiceError as exc:
            return _day_page(ctx, request.user, "", exc.status, exc.message)

    @post("/appointments", sync_to_thread=True)
    def book(self, request: NodeRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        window, _, time = data.get("slot", "").partition("|")
        try:
            appointments.book(
                ctx.store, request.user, window, data.get("day", ""), time, data.get("name", ""), data.get("phone", ""), data.get("item_code", "")
            )
        except ServiceError as exc:
            return _day_page(ctx, request.user, data.get("day", ""), exc.status, exc.message, data)
        ctx.sync.wake_uplink()
        return Redirect(f"/appointments?day={data.get('day', '')}")

    @post("/appointments/{appointment_id:str}/status", sync_to_thread=True)
    def status(self, request: NodeRequest, ctx: Ctx, appointment_id: FromPath[str], data: URLEncodedBody[dict[str, str]]) -> Response:
        try:
            appointments.set_status(ctx.store, request.user, appointment_id, data.get("status", ""))
        except ServiceError as exc:
            return _day_page(ctx, request.user, data.get("day", ""), exc.status, exc.message)
        ctx.sync.wake_uplink()
        return Redirect(f"/appointments?day={data.get('day', '')}")

    @get("/appointments/schedule", sync_to_thread=True)
    def schedule_page(self, request: NodeRequest, ctx: Ctx) -> Template:
        return page(ctx, "appointment_schedule.html", user=request.user, schedule=appointments.schedule(ctx.store), error=None)

    @post("/appointments/schedule", sync_to_thread=True)
    def save_schedule(self, request: NodeRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        try:
            windows, days_ahead = _schedule_form(data)
            appointments.save_schedule(ctx.store, windows, days_ahead, request.user)
        except ServiceError as exc:  # what was typed, as typed
            shown = {"windows": _schedule_rows(data), "days_ahead": data.get("days_ahead", "")}
            return page(ctx, "appointment_schedule.html", status_code=exc.status, user=request.user, schedule=shown, error=exc.message)
        ctx.sync.wake_uplink()
        return Redirect("/appointments")


class AppointmentsApi(Controller):
    path = "/appointments"

    @get("/", sync_to_thread=True)
    def api_day(self, ctx: Ctx, day: FromQuery[str] = "") -> list[AppointmentOut]:
        """The appointments of a day (default today, Beijing time), portal bookings included."""
        return [appointment_out(r) for r in appointments.of_day(ctx.store, day_of(day).isoformat())]

    @post("/", sync_to_thread=True, status_code=201)
    def api_book(self, request: NodeRequest, ctx: Ctx, data: JSONBody[AppointmentIn]) -> AppointmentOut:
        """Book a citizen into the point's own share of a slot (works offline)."""
        row = appointments.book(ctx.store, request.user, data.window, data.day, data.time, data.name, data.phone, data.item_code, ctx.identity.kind)
        ctx.sync.wake_uplink()
        return appointment_out(row | {"status_label": appointments.STATES["booked"], "application_id": None})

    @post("/{appointment_id:str}/status", sync_to_thread=True, status_code=204)
    def api_status(self, request: NodeRequest, ctx: Ctx, appointment_id: FromPath[str], data: JSONBody[StatusIn]) -> None:
        """Mark a booked appointment a no-show or cancel it; an intake with ``appointment_id`` serves it."""
        appointments.set_status(ctx.store, request.user, appointment_id, data.status)
        ctx.sync.wake_uplink()

    @get("/schedule", sync_to_thread=True)
    def api_schedule(self, ctx: Ctx) -> ScheduleOut:
        return ScheduleOut(**appointments.schedule(ctx.store))

    @put("/schedule", sync_to_thread=True)
    def api_save_schedule(self, request: NodeRequest, ctx: Ctx, data: JSONBody[ScheduleIn]) -> ScheduleOut:
        """The windows this point offers (sync_protocol check_windows); sent to the county, whose portal books their online share."""
        windows = [msgspec.structs.asdict(w) for w in data.windows]
        saved = appointments.save_schedule(ctx.store, json.loads(json.dumps(windows)), data.days_ahead, request.user)
        ctx.sync.wake_uplink()
        return ScheduleOut(**saved)


API = [AppointmentsApi]
PAGES = [AppointmentPages]
