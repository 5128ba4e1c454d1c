"""A process's clock set by Debian's libfaketime (installed by scripts/ensure-chromium)."""

from __future__ import annotations

from pathlib import Path

FAKETIME_LIB = next(
    Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"), Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
)  # any architecture


def faked(faketime: str) -> dict[str, str]:
    """Environment for a child process whose wall clock is ``faketime`` (libfaketime's syntax:
    "+900s" runs 15 minutes fast, "2026-12-07 10:00:00" stands still at that moment)."""
    return {"LD_PRELOAD": str(FAKETIME_LIB), "FAKETIME": faketime, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}
