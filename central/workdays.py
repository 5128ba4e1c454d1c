"""Time limits in official working days (法定工作日): public holidays and adjusted workdays from the
maintained chinese-calendar library, and — for a year it does not know yet — days an operator
loaded. If neither knows a year, the deadline is estimated and flagged, so no case is ever without
a deadline, and the operator is told to load the year: the estimate skips weekends and the
statutory holidays (《全国年节及纪念日放假办法》) as the ``holidays`` package computes them for
that year, but cannot know the adjusted weekend workdays (调休) the State Council announces.

Rules: the day a clock starts does not count; the limit ends on the N-th working day after it.
Days a clock is suspended (central/clocks.py: 补正, 听证, 专家评审 …; 行政许可法 第四十五条)
do not count either: the day a suspension starts counts, the days after it up to and including
the day it ends do not. Cards (红黄牌): red once the deadline has passed without a decision;
yellow when at most a fifth of the limit is left — at least 1 working day, but never the whole
limit, so a 1-day item is yellow on its last day only, not from the moment it arrives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import chinese_calendar
import holidays
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sync_protocol import parse_time
from weblayer.errors import InvalidInput

from .actions import record_action
from .db import transaction
from .models import CalendarDay

BEIJING = timezone(timedelta(hours=8))


def beijing_date(ts: str) -> date:
    return parse_time(ts).astimezone(BEIJING).date()


def today() -> date:
    return datetime.now(BEIJING).date()


Pause = tuple[date, date | None]  # a suspension's first and last day (None: still suspended)


class WorkCalendar:
    def __init__(self, loaded: dict[date, bool] | None = None) -> None:
        self.loaded = loaded or {}
        self.loaded_years = {d.year for d in self.loaded}
        self._estimated: dict[int, holidays.HolidayBase] = {}

    def knows(self, year: int) -> bool:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            return True
        except NotImplementedError:
            return year in self.loaded_years

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is it a working day, is that only an estimate)."""
        if day in self.loaded:
            return self.loaded[day], False
        try:
            return chinese_calendar.is_workday(day), False
        except NotImplementedError:
            if day.year in self.loaded_years:  # a loaded year lists its exceptions; the rest is Mon–Fri
                return day.weekday() < 5, False
            return day.weekday() < 5 and day not in self._statutory(day.year), True

    def _statutory(self, year: int) -> holidays.HolidayBase:
        """The statutory holidays of a year the calendar does not know, observed days included."""
        if year not in self._estimated:
            self._estimated[year] = holidays.country_holidays("CN", years=year)
        return self._estimated[year]

    def deadline(self, received: date, working_days: int, pauses: Iterable[Pause] = (), today: date | None = None) -> tuple[date, bool]:
        """The last day of a limit of ``working_days`` counted from the day after ``received``,
        skipping the days ``pauses`` suspend (one still open suspends up to ``today``)."""
        skipped = [(first, last or today or first) for first, last in pauses]
        day, counted, estimated = received, 0, False
        while counted < working_days:
            day += timedelta(days=1)
            if any(first < day <= last for first, last in skipped):
                continue
            workday, guess = self.is_workday(day)
            estimated = estimated or guess
            counted += workday
        return day, estimated

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end is earlier)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(self.is_workday(start + timedelta(days=i))[0] for i in range(1, (end - start).days + 1))


def load_calendar(engine: Engine) -> WorkCalendar:
    with Session(engine) as session:
        return calendar_in(session)


def calendar_in(session: Session) -> WorkCalendar:
    """The calendar as the session's transaction sees it."""
    return WorkCalendar({date.fromisoformat(d.day): d.workday for d in session.exec(select(CalendarDay)).all()})


def load_year(engine: Engine, year: int, holidays: Iterable[str], workdays: Iterable[str], actor: str = "system") -> int:
    """An operator loads the official arrangement for a year: the holidays and the adjusted (weekend)
    workdays. Replaces what was loaded for that year before; returns how many days were stored."""
    days: dict[str, bool] = {}
    for kind, values in ((False, holidays), (True, workdays)):
        for text in values:
            try:
                d = date.fromisoformat(str(text).strip())
            except ValueError:
                raise InvalidInput(f"日期“{text}”格式不正确，应为 YYYY-MM-DD", field="holidays" if not kind else "workdays") from None
            if d.year != year:
                raise InvalidInput(f"日期 {d} 不属于 {year} 年", field="holidays" if not kind else "workdays")
            if str(d) in days:
                raise InvalidInput(f"{d} 同时出现在节假日和调休上班日中", field="workdays")
            days[str(d)] = kind
    if not days:
        raise InvalidInput("请至少填写一个节假日", field="holidays")
    with transaction(engine) as session:
        for row in session.exec(select(CalendarDay).where(CalendarDay.day.startswith(f"{year}-"))).all():
            session.delete(row)
        session.flush()
        for day, workday in sorted(days.items()):
            session.add(CalendarDay(day=day, workday=workday, note="operator"))
        record_action(session, actor, "calendar.loaded", str(year), holidays=sum(not w for w in days.values()), workdays=sum(days.values()))
    return len(days)


def calendar_status(calendar: WorkCalendar, now: date | None = None) -> dict[str, Any]:
    """What the operator must know: is next year's holiday arrangement available yet?"""
    now = now or today()
    missing = [y for y in (now.year, now.year + 1) if not calendar.knows(y)]
    return {"this_year": now.year, "missing_years": missing, "loaded_years": sorted(calendar.loaded_years), "warning": bool(missing)}


@dataclass(frozen=True)
class Deadline:
    due: date
    estimated: bool
    remaining: int  # working days left after today (negative when overdue)
    card: str  # "" | "yellow" | "red"
    suspended: bool = False  # the clock stands still today (a suspension is open): no card


def yellow_within(limit_days: int) -> int:
    """Working days left at which a limit turns yellow: a fifth of it, at least 1, less than all."""
    return min(max(1, math.ceil(limit_days / 5)), limit_days - 1)


def deadline_of(
    calendar: WorkCalendar, started_at: str, limit_days: int, decided: bool, now: date | None = None, pauses: Iterable[Pause] = ()
) -> Deadline:
    now = now or today()
    pauses = list(pauses)
    suspended = any(last is None for _, last in pauses)
    due, estimated = calendar.deadline(beijing_date(started_at), limit_days, pauses, now)
    remaining = calendar.working_days_between(now, due)
    if decided or suspended:
        card = ""
    elif now > due:
        card = "red"
    elif remaining <= yellow_within(limit_days):
        card = "yellow"
    else:
        card = ""
    return Deadline(due, estimated, remaining, card, suspended and not decided)
