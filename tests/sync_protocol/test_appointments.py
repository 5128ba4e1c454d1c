"""The appointment windows both ends check the same way (issue 21 item 3): what a point may offer,
and the slots a window's day has."""

from __future__ import annotations

from datetime import date

import pytest

from sync_protocol import WindowsInvalid, check_windows, slot_times

WINDOW = {"id": "w1", "name": "1号窗口", "days": [1, 2, 3, 4, 5], "start": "09:00", "end": "11:30", "minutes": 30, "capacity": 2, "online": 1}
MONDAY, SATURDAY = date(2026, 12, 7), date(2026, 12, 12)


def test_a_window_has_its_slots_on_its_days_only():
    [window] = check_windows([WINDOW | {"days": [5, 1, 1, 2, 3, 4], "name": " 1号窗口 "}])
    assert window["days"] == [1, 2, 3, 4, 5] and window["name"] == "1号窗口"
    assert slot_times(window, MONDAY) == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    assert slot_times(window, SATURDAY) == []
    assert slot_times(window | {"end": "11:10"}, MONDAY)[-1] == "10:30"  # a slot that would run past the end is not offered


@pytest.mark.parametrize(
    "change, says",
    [
        ({"id": "W 1"}, "窗口编号"),
        ({"name": ""}, "窗口名称"),
        ({"days": [0]}, "星期"),
        ({"days": []}, "星期"),
        ({"days": [True]}, "星期"),
        ({"start": "9:00"}, "格式"),
        ({"start": "12:00"}, "开始早于结束"),
        ({"minutes": 5}, "10 到 240"),
        ({"online": 3}, "网上预约人数不超过"),
        ({"capacity": "2"}, "整数"),
        ({"minutes": 10, "start": "00:00", "end": "23:59"}, "最多 100 个时段"),
    ],
)
def test_a_schedule_a_point_may_not_offer_is_refused_in_chinese(change, says):
    with pytest.raises(WindowsInvalid, match=says):
        check_windows([WINDOW | change])


def test_windows_are_a_short_list_with_unique_ids():
    with pytest.raises(WindowsInvalid, match="不能重复"):
        check_windows([WINDOW, WINDOW])
    with pytest.raises(WindowsInvalid, match="最多 10 个"):
        check_windows([WINDOW | {"id": f"w{i}"} for i in range(11)])
    with pytest.raises(WindowsInvalid):
        check_windows({"w1": WINDOW})
