"""Appointment windows (预约; issue 21 item 3), as a point offers them and the hub books them: the
one check both ends run, and the slots a window's day has. Pure: no I/O.

A window is ``{id, name, days, start, end, minutes, capacity, online}``: open on ``days`` (1 =
Monday … 7 = Sunday) from ``start`` to ``end`` (``HH:MM``, Beijing time), a slot every
``minutes``; each slot takes ``capacity`` people, of whom ``online`` are booked on the county's
portal and the rest by the point itself — two shares that never overlap, so a point that books
offline and the portal that books for it can never give one place twice."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from ._forms import hidden_controls

MAX_WINDOWS = 10
MAX_DAYS_AHEAD = 30
MAX_SLOTS = 100  # per window and day
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WINDOW_ID = re.compile(r"^[a-z0-9-]{1,20}$")


class WindowsInvalid(ValueError):
    """A schedule a point may not offer; ``str()`` says why, in Chinese."""


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def check_windows(value: Any) -> list[dict[str, Any]]:
    """The windows as offered, checked; WindowsInvalid naming the first fault."""
    if not isinstance(value, list) or len(value) > MAX_WINDOWS:
        raise WindowsInvalid(f"预约窗口最多 {MAX_WINDOWS} 个")
    seen: set[str] = set()
    out = []
    for w in value:
        if not isinstance(w, dict):
            raise WindowsInvalid("预约窗口的格式不对")
        ident, name = w.get("id"), w.get("name")
        if not isinstance(ident, str) or not WINDOW_ID.match(ident) or ident in seen:
            raise WindowsInvalid("窗口编号只能是小写字母、数字和“-”，且不能重复")
        seen.add(ident)
        if not isinstance(name, str) or not name.strip() or len(name) > 40 or hidden_controls(name):
            raise WindowsInvalid("请填写窗口名称（最多 40 字，不含控制字符）")
        days = w.get("days")
        if not isinstance(days, list) or not days or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days):
            raise WindowsInvalid(f"{name}：开放星期请填 1 到 7 的数字（1 = 周一），如 1-5 或 1,3,5")
        start, end = w.get("start"), w.get("end")
        if not isinstance(start, str) or not isinstance(end, str) or not TIME.match(start) or not TIME.match(end) or start >= end:
            raise WindowsInvalid(f"{name}：开始和结束时间应为 08:30 这样的格式，且开始早于结束")
        minutes, capacity, online = w.get("minutes"), w.get("capacity"), w.get("online")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (minutes, capacity, online)):
            raise WindowsInvalid(f"{name}：每段分钟数、每段人数和网上预约人数应为整数")
        assert isinstance(minutes, int) and isinstance(capacity, int) and isinstance(online, int)
        if not 10 <= minutes <= 240 or not 1 <= capacity <= 20 or not 0 <= online <= capacity:
            raise WindowsInvalid(f"{name}：每段 10 到 240 分钟，每段 1 到 20 人，网上预约人数不超过每段人数")
        if _minutes(end) - _minutes(start) < minutes:
            raise WindowsInvalid(f"{name}：开始到结束不够一个时段（{minutes} 分钟）")
        if (_minutes(end) - _minutes(start)) // minutes > MAX_SLOTS:
            raise WindowsInvalid(f"{name}：一天最多 {MAX_SLOTS} 个时段")
        out.append(
            {
                "id": ident,
                "name": name.strip(),
                "days": sorted(set(days)),
                "start": start,
                "end": end,
                "minutes": minutes,
                "capacity": capacity,
                "online": online,
            }
        )
    return out


def slot_times(window: dict[str, Any], day: date) -> list[str]:
    """The slots' start times the window has on ``day`` (none on a day it is closed)."""
    if day.isoweekday() not in window["days"]:
        return []
    first, last, step = _minutes(window["start"]), _minutes(window["end"]), window["minutes"]
    return [f"{m // 60:02d}:{m % 60:02d}" for m in range(first, last - step + 1, step)]
