"""预约 at the point (issue 21 item 3): the windows it offers (sent to the county, whose portal
books their online share), the day's list the agent works from — portal bookings arrive on the
downlink, the agent books from the point's own share, offline too — and what became of each
appointment: served (with the case it led to: the intake marks it), no-show, or cancelled."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sync_protocol import (
    APPOINTMENT_MADE,
    APPOINTMENT_UPDATED,
    APPOINTMENTS_OFFERED,
    MAX_DAYS_AHEAD,
    WindowsInvalid,
    check_windows,
    slot_times,
)
from weblayer.errors import Conflict, InvalidInput, NotFound

from .fees import BEIJING
from .intake import PHONE, intake_refusal, person_name
from .store import Store, add_outbox, get_meta, next_counter, read_meta, set_meta, utcnow

STATES = {"booked": "已预约", "cancelled": "已取消", "no_show": "未到", "served": "已办理"}
FINAL = ("cancelled", "no_show", "served")
DEFAULT_DAYS_AHEAD = 14


def today() -> date:
    return datetime.now(BEIJING).date()


def schedule(store: Store) -> dict[str, Any]:
    return {
        "windows": json.loads(read_meta(store, "appointment_windows", "[]")),
        "days_ahead": int(read_meta(store, "appointment_days_ahead", str(DEFAULT_DAYS_AHEAD))),
    }


def save_schedule(store: Store, windows: Any, days_ahead: int, agent: Mapping[str, str]) -> dict[str, Any]:
    """The windows this point offers, checked as the county checks them, and sent up."""
    try:
        checked = check_windows(windows)
    except WindowsInvalid as exc:
        raise InvalidInput(str(exc), field="windows") from None
    if not 1 <= days_ahead <= MAX_DAYS_AHEAD:
        raise InvalidInput(f"可预约天数为 1 到 {MAX_DAYS_AHEAD} 天", field="days_ahead")
    with store.write() as conn:
        set_meta(conn, "appointment_windows", json.dumps(checked, ensure_ascii=False))
        set_meta(conn, "appointment_days_ahead", str(days_ahead))
        add_outbox(conn, APPOINTMENTS_OFFERED, {"windows": checked, "days_ahead": days_ahead})
    return {"windows": checked, "days_ahead": days_ahead}


def of_day(store: Store, day: str) -> list[dict[str, Any]]:
    """The day's appointments in time order, with their window's and item's names."""
    windows = {w["id"]: w["name"] for w in schedule(store)["windows"]}
    rows = store.query(
        "SELECT a.*, c.name AS item_name FROM appointments a LEFT JOIN catalog_items c ON c.code = a.item_code "
        "WHERE a.day = ? ORDER BY a.time, a.window, a.created_at",
        (day,),
    )
    labels = [{"status_label": STATES.get(r["status"], r["status"]), "window_name": windows.get(r["window"], r["window"])} for r in rows]
    return [dict(r) | label | {"item_name": r["item_name"] or ""} for r, label in zip(rows, labels, strict=True)]


def counts_today(store: Store) -> int:
    row = store.one("SELECT COUNT(*) AS n FROM appointments WHERE day = ? AND status = 'booked'", (today().isoformat(),))
    return row["n"] if row else 0


def own_slots(store: Store, day: date) -> list[dict[str, Any]]:
    """The slots of ``day`` with the places of the point's own share left (capacity less the online share)."""
    taken: dict[tuple[str, str, str], int] = {}
    for r in store.query(
        "SELECT window, time, source, COUNT(*) AS n FROM appointments WHERE day = ? AND status != 'cancelled' GROUP BY window, time, source",
        (day.isoformat(),),
    ):
        taken[(r["window"], r["time"], r["source"])] = r["n"]

    def free(window: dict[str, Any], time: str) -> int:
        # the portal's bookings hold their places even where the online share was cut after them
        portal, own = taken.get((window["id"], time, "portal"), 0), taken.get((window["id"], time, "window"), 0)
        return max(0, window["capacity"] - max(window["online"], portal) - own)

    now = datetime.now(BEIJING)
    begun = now.strftime("%H:%M") if day == now.date() else ""  # today's slots already begun are not offered
    return [
        {"window": w["id"], "window_name": w["name"], "time": t, "free": free(w, t)}
        for w in schedule(store)["windows"]
        for t in slot_times(w, day)
        if t > begun
    ]


def for_intake(store: Store, appointment_id: str) -> dict[str, str]:
    """What an intake from a booked appointment starts with: its id, the name and the number."""
    row = store.one("SELECT * FROM appointments WHERE id = ? AND status = 'booked'", (appointment_id,))
    if row is None:
        raise NotFound("没有这个待办理的预约（可能已办理、已取消或标记未到）")
    return {"appointment_id": row["id"], "applicant_name": row["name"], "applicant_phone": row["phone"]}


def book(
    store: Store,
    agent: Mapping[str, str],
    window: str,
    day: str,
    time: str,
    name: str,
    phone: str = "",
    item_code: str = "",
    point_kind: str = "village",
) -> dict[str, Any]:
    """An appointment the agent books for a citizen (at the window or by phone), from the point's
    own share, for an item this point takes in."""
    name, phone = person_name(name, "name", "姓名", 50), phone.strip()
    if phone and not PHONE.match(phone):
        raise InvalidInput("手机号码应为 11 位数字，以 1 开头", field="phone")
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise InvalidInput("请选择预约日期", field="day") from None
    if when < today():
        raise InvalidInput("不能预约已经过去的日期", field="day")
    days_ahead = schedule(store)["days_ahead"]
    if when > today() + timedelta(days=days_ahead):
        raise InvalidInput(f"最多提前 {days_ahead} 天预约", field="day")
    slot = next((s for s in own_slots(store, when) if s["window"] == window and s["time"] == time), None)
    if slot is None:
        raise InvalidInput("这个时段不开放预约，请重新选择", field="time")
    if slot["free"] <= 0:
        raise Conflict("这个时段本点可约的名额已满（网上预约的名额另算），请另选时段")
    with store.write() as conn:
        row = conn.execute("SELECT detail_json FROM catalog_items WHERE code = ?", (item_code,)).fetchone() if item_code else None
        if item_code and row is None:
            raise InvalidInput("事项目录中没有这个事项", field="item_code")
        if row is not None and (refusal := intake_refusal(json.loads(row["detail_json"]) | {"name": item_code}, point_kind, False)):
            raise refusal
        appointment_id = f"{get_meta(conn, 'node_id')}-A{next_counter(conn, 'appointment'):06d}"
        row = {
            "id": appointment_id,
            "window": window,
            "day": day,
            "time": time,
            "item_code": item_code,
            "name": name,
            "phone": phone,
            "source": "window",
            "status": "booked",
            "created_at": utcnow(),
            "agent": agent["username"],
        }
        conn.execute(f"INSERT INTO appointments ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        data = {
            "appointment_id": appointment_id,
            "window": window,
            "day": day,
            "time": time,
            "name": name,
            "phone": phone,
            "agent": agent["username"],
        }
        add_outbox(conn, APPOINTMENT_MADE, data | ({"item_code": item_code} if item_code else {}))
    return row


def _set(conn: sqlite3.Connection, appointment_id: str, status: str, agent: str, application_id: str | None = None) -> None:
    found = conn.execute("SELECT status FROM appointments WHERE id = ?", (appointment_id,)).fetchone()
    if found is None:
        raise NotFound("没有这个预约")
    if found["status"] != "booked":
        raise Conflict(f"这个预约{STATES.get(found['status'], found['status'])}，不能再改")
    conn.execute("UPDATE appointments SET status = ?, application_id = ? WHERE id = ?", (status, application_id, appointment_id))
    add_outbox(
        conn,
        APPOINTMENT_UPDATED,
        {"appointment_id": appointment_id, "status": status, "agent": agent} | ({"application_id": application_id} if application_id else {}),
    )


def set_status(store: Store, agent: Mapping[str, str], appointment_id: str, status: str) -> None:
    """The agent marks a booked appointment as a no-show (once its time has come) or cancels it
    (serving it is the intake's)."""
    if status not in ("no_show", "cancelled"):
        raise InvalidInput("只能标记为“未到”或“取消”；办理请从预约开始受理", field="status")
    if status == "no_show":
        row = store.one("SELECT day, time FROM appointments WHERE id = ?", (appointment_id,))
        if row is not None and f"{row['day']} {row['time']}" > datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M"):
            raise Conflict("预约时间还没到，不能标记未到")
    with store.write() as conn:
        _set(conn, appointment_id, status, agent["username"])


def serve_in(conn: sqlite3.Connection, appointment_id: str, application_id: str, agent: str) -> None:
    """The intake that an appointment led to marks it served, in the intake's own transaction. One
    cancelled meanwhile (the citizen came all the same) or unknown is left as it is: the citizen
    at the window is served either way."""
    found = conn.execute("SELECT status FROM appointments WHERE id = ?", (appointment_id,)).fetchone()
    if found is not None and found["status"] == "booked":
        _set(conn, appointment_id, "served", agent, application_id)


# -- the downlink ----------------------------------------------------------------------------


def apply_booked(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """A citizen's booking on the portal (appointment.booked): on the day's list."""
    conn.execute(
        "INSERT OR IGNORE INTO appointments (id, window, day, time, item_code, name, phone, source, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'portal', 'booked', ?)",
        (data["appointment_id"], data["window"], data["day"], data["time"], data.get("item_code", ""), data["name"], data["phone"], data["at"]),
    )


def apply_cancelled(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """The citizen cancelled their portal booking (appointment.cancelled): a no-show the point
    marked meanwhile is a cancellation too, as the county holds it; one served stays served."""
    conn.execute("UPDATE appointments SET status = 'cancelled' WHERE id = ? AND status IN ('booked', 'no_show')", (data["appointment_id"],))
