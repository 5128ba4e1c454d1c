"""The hub's clock, in the wire's time format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_protocol import format_time


def utcnow(offset: timedelta = timedelta(0)) -> str:
    return format_time(datetime.now(UTC) + offset)
