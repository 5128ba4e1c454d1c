"""Where the hub and the nodes log: stderr (journald under systemd) and files in ``<data dir>/logs``
turned over at midnight and kept YIWANG_LOG_DAYS days — 190 by default, more than the six months
网络安全法 art. 21 asks of network logs — plus ``access.log``, one line per HTTP request.

One warning is dropped: asyncio's "returning true from eof_received() has no effect when using
ssl", which nats-py's TLS connection caused at every disconnect of a point's link (nats-py
issue 574): hundreds a day at a point on a flaky link, meaning nothing.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from urllib.parse import quote, unquote

__all__ = ["DEFAULT_DAYS", "FORMAT", "configure", "log_days"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DEFAULT_DAYS = 190
NOISE = ("returning true from eof_received() has no effect when using ssl",)


# a run of digits as a resident ID may be typed into a path: in groups (spaces, %20, dashes, dots),
# or against other letters or digits; 15 digits or more (an 18-digit ID, or a 15-digit one of
# before 1999) is shown as its first and last four, whatever is around it
DIGIT_RUN = re.compile(r"\d(?:[\s+\-._]?[\dXx])+")
GAPS = re.compile(r"[\s+\-._]")


class _Redact(logging.Filter):
    """An access-log line says which route was asked, not whose data: the query (a receipt
    number with an ID's last four, a search) is left out, and a resident ID in the path (一号申请:
    ``/api/people/<ID>/county``) is masked as every list masks it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            path = record.args[2].split("?", 1)
            # as the app reads it (percent-decoded, full-width digits and ideographic spaces made
            # plain): %31%31…, １１０…, tabs and no-break spaces between groups all reached the log
            plain = unicodedata.normalize("NFKC", unquote(path[0], errors="replace"))
            masked = DIGIT_RUN.sub(_masked, plain)
            shown = "".join(c if c.isprintable() else quote(c) for c in masked) + ("?…" if len(path) > 1 else "")  # no new line into the log
            record.args = (*record.args[:2], shown, *record.args[3:])
        return True


def _masked(run: re.Match[str]) -> str:
    digits = "".join(c if c in "Xx" else str(unicodedata.digit(c, 0)) for c in GAPS.sub("", run[0]))
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:] if len(digits) >= 15 else run[0]


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage().lower() for text in NOISE)


def _ours(handler: logging.Handler) -> bool:
    return any(isinstance(f, _DropNoise) for f in handler.filters)


def log_days() -> int:
    """How many days of files are kept (YIWANG_LOG_DAYS, unset or empty: DEFAULT_DAYS); a
    ValueError that says what is wrong for anything but a whole number of days from 1."""
    text = os.environ.get("YIWANG_LOG_DAYS", "").strip() or str(DEFAULT_DAYS)
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"YIWANG_LOG_DAYS must be a whole number of days, at least 1 (网络安全法 art. 21 asks for 183 or more), not {text!r}")
    return int(text)


def _daily(path: Path, days: int) -> TimedRotatingFileHandler:
    handler = TimedRotatingFileHandler(path, when="midnight", backupCount=days, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    return handler


def configure(log_dir: Path | None, name: str) -> None:
    """Log INFO and above to stderr and, with ``log_dir``, to ``log_dir/<name>.log``; HTTP
    requests (uvicorn's access log) to ``log_dir/access.log`` only."""
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    if log_dir is None and any(not _ours(h) for h in root.handlers):
        return  # someone set logging up already (as logging.basicConfig leaves it)
    root.setLevel(logging.INFO)
    access.propagate = False
    for logger in (root, access):  # ours from an earlier call go; others' (a test's capture) stay
        for handler in [h for h in logger.handlers if _ours(h)]:
            logger.removeHandler(handler)
            handler.close()
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter(FORMAT))
    handlers: list[tuple[logging.Logger, logging.Handler]] = [(root, stderr)]
    if log_dir is not None:
        days = log_days()
        log_dir.mkdir(parents=True, exist_ok=True)
        requests = _daily(log_dir / "access.log", days)
        requests.addFilter(_Redact())
        handlers += [(root, _daily(log_dir / f"{name}.log", days)), (access, requests)]
    for logger, handler in handlers:
        handler.addFilter(_DropNoise())
        logger.addHandler(handler)
