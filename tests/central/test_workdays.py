"""Deadlines in official working days: the National Day holiday, an adjusted Saturday workday, and a
year-end deadline in a year the holiday library does not cover (estimated until an operator
loads that year)."""

from __future__ import annotations

from datetime import date

import pytest

from central.db import create_schema, make_engine
from central.workdays import WorkCalendar, calendar_status, deadline_of, load_calendar, load_year
from weblayer.errors import InvalidInput


def test_national_day_holiday_is_skipped_and_the_adjusted_saturday_counts():
    # received Wed 2026-09-30; Oct 1–7 are holidays; Sat Oct 10 is an adjusted workday
    due, estimated = WorkCalendar().deadline(date(2026, 9, 30), 5)
    assert (due, estimated) == (date(2026, 10, 13), False)  # Oct 8, 9, 10 (Sat), 12, 13


def test_an_adjusted_sunday_workday_counts_too():
    # Sun 2026-09-20 is an adjusted workday: received Fri 9-18, 1 working day ends that Sunday
    assert WorkCalendar().deadline(date(2026, 9, 18), 1) == (date(2026, 9, 20), False)


def test_year_end_deadline_in_an_unknown_year_is_estimated_until_the_year_is_loaded(hub_db_url: str):
    received = date(2026, 12, 28)  # Mon; the library knows no 2027
    # estimated with the statutory holidays (finding: 1 January 2027 counted as a working day), flagged
    assert WorkCalendar().is_workday(date(2027, 1, 1)) == (False, True)
    assert WorkCalendar().is_workday(date(2027, 10, 1)) == (False, True)  # 国庆节
    assert WorkCalendar().deadline(received, 5) == (date(2027, 1, 5), True)
    engine = make_engine(hub_db_url)
    create_schema(engine)
    assert calendar_status(load_calendar(engine), date(2026, 11, 23))["missing_years"] == [2027]
    with pytest.raises(InvalidInput, match="不属于 2027"):
        load_year(engine, 2027, ["2026-01-01"], [])
    with pytest.raises(InvalidInput, match="同时"):
        load_year(engine, 2027, ["2027-01-01"], ["2027-01-01"])
    assert load_year(engine, 2027, ["2027-01-01"], ["2027-02-06"]) == 2
    calendar = load_calendar(engine)
    assert calendar.deadline(received, 5) == (date(2027, 1, 5), False)  # New Year's Day skipped, exact
    assert calendar.is_workday(date(2027, 2, 6)) == (True, False)  # an adjusted Saturday
    assert calendar_status(calendar, date(2026, 11, 23))["warning"] is False
    engine.dispose()


@pytest.mark.parametrize(
    "now, decided, card",
    [
        (date(2026, 10, 8), False, ""),  # 4 working days left of 5
        (date(2026, 10, 12), False, "yellow"),  # 1 left
        (date(2026, 10, 13), False, "yellow"),  # due today
        (date(2026, 10, 14), False, "red"),  # overdue
        (date(2026, 10, 14), True, ""),  # decided: no card
    ],
)
def test_cards(now, decided, card):
    result = deadline_of(WorkCalendar(), "2026-09-30T02:00:00.000000Z", 5, decided, now)
    assert result.due == date(2026, 10, 13) and result.card == card
