"""What both apps show people the same way: times in Beijing time, resident IDs masked, QR codes.
Stored times are UTC; people at the window read Beijing time (UTC+8; China has no daylight saving
time, so a fixed offset is exact). Framework-free: domain code may mask an ID for a log line."""

from __future__ import annotations

import hashlib
import re
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


SEAL_CODE = re.compile(r"^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$")


def is_seal_code(text: str) -> bool:
    """Whether ``text`` is a printed document's verification code (seal_code), as typed."""
    return bool(SEAL_CODE.match(text.strip().upper()))


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


DIGITS = "零壹贰叁肆伍陆柒捌玖"
UNITS = ("", "拾", "佰", "仟")
GROUPS = ("", "万", "亿")


def _four(n: int) -> str:
    """0–9999 in capitals, with the zeros a cheque writes (1005 → 壹仟零伍)."""
    out, zero = "", False
    for i, d in enumerate(f"{n:04d}"):
        if d == "0":
            zero = bool(out)
            continue
        out += ("零" if zero else "") + DIGITS[int(d)] + UNITS[3 - i]
        zero = False
    return out


def rmb_capitals(fen: int) -> str:
    """An amount of fen in the capitals a receipt carries (大写): 38000 → 叁佰捌拾元整, 1205 →
    壹拾贰元零伍分 (GB/T … as banks and 财政票据 write it). Up to 9,999 亿 yuan."""
    if fen < 0:
        return "负" + rmb_capitals(-fen)
    yuan, jiao, fen_ = fen // 100, fen // 10 % 10, fen % 10
    groups, words = [], ""
    while yuan:
        groups.append(yuan % 10000)
        yuan //= 10000
    for i in reversed(range(len(groups))):
        if groups[i]:
            if words and groups[i] < 1000:
                words += "零"
            words += _four(groups[i]) + GROUPS[i]
        elif words and not words.endswith("零"):
            words += "零"
    words = words.rstrip("零")
    words = (words + "元") if words else ""
    if not jiao and not fen_:
        return (words or "零元") + "整"
    if jiao:
        words += DIGITS[jiao] + "角"
    elif words:
        words += "零"
    if fen_:
        words += DIGITS[fen_] + "分"
    return words


def mask_id(id_number: str) -> str:
    """Resident IDs are masked in every list, answer and log: the first 4 and the last 4 characters."""
    return id_number[:4] + "*" * max(len(id_number) - 8, 0) + id_number[-4:] if len(id_number) > 8 else "****"


def qr_svg(text: str, box_size: int = 8) -> Markup:
    """``text`` as an inline SVG QR code (no imaging library, prints sharp at any size)."""
    return Markup(qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=box_size).to_string(encoding="unicode"))
