"""What both apps show people the same way: times in Beijing time, resident IDs masked, QR codes.
Stored times are UTC; people at the window read Beijing time (UTC+8; China has no daylight saving
time, so a fixed offset is exact). Framework-free: domain code may mask an ID for a log line."""

from __future__ import annotations

import hashlib
from datetime import timedelta, timezone

import qrcode
import qrcode.image.svg
from markupsafe import Markup

from sync_protocol import parse_time

__all__ = ["BEIJING", "local_time", "mask_id", "qr_svg"]

BEIJING = timezone(timedelta(hours=8))


def local_time(ts: str | None, missing: str = "—") -> str:
    """A stored UTC timestamp as Beijing time to the minute; ``missing`` for none."""
    if not ts:
        return missing
    return parse_time(ts).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def chinese_date(ts: str | None) -> str:
    """A stored UTC timestamp as the Beijing date documents are dated with: 2026年11月23日."""
    if not ts:
        return ""
    day = parse_time(ts).astimezone(BEIJING)
    return f"{day.year}年{day.month}月{day.day}日"


def seal_code(text: str) -> str:
    """A document's short verification code, printed beside its e-seal: 12 hex digits of the SHA-256 of its signed text."""
    digest = hashlib.sha256("".join(text.split()).encode()).hexdigest()[:12].upper()
    return "-".join(digest[i : i + 4] for i in range(0, 12, 4))


def mask_id(id_number: str) -> str:
    """Resident IDs are masked in every list, answer and log: the first 4 and the last 4 characters."""
    return id_number[:4] + "*" * max(len(id_number) - 8, 0) + id_number[-4:] if len(id_number) > 8 else "****"


def qr_svg(text: str, box_size: int = 8) -> Markup:
    """``text`` as an inline SVG QR code (no imaging library, prints sharp at any size)."""
    return Markup(qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size).to_string(encoding="unicode"))
