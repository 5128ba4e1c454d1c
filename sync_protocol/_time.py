"""The contract's time format: UTC, ISO-8601, fixed width (microseconds, 'Z')."""

from __future__ import annotations

from datetime import UTC, datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(moment: datetime) -> str:
    """Render an aware datetime in the wire format; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times on the wire are UTC")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
