"""Display helpers for templates. Stored times are UTC; people at the window read Beijing time
(UTC+8; China has no daylight saving time, so a fixed offset is exact)."""

from __future__ import annotations

from datetime import timedelta, timezone

from sync_protocol import parse_time

BEIJING = timezone(timedelta(hours=8))


def local_time(ts: str | None, missing: str = "—") -> str:
    if not ts:
        return missing
    return parse_time(ts).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
