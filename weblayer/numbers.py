"""Whole numbers as people type them into forms, framework-free (domain code parses with these)."""

from __future__ import annotations


def digits(text: str) -> bool:
    """Whether ``text`` is a whole number as people type it: ASCII digits only. str.isdigit()
    also takes "²" and "١", which int() then refuses (a 500 where a form meant a clear error)."""
    return text.isascii() and text.isdigit()


def level(text: str) -> int:
    """A form's level or count field as an int; 0 for anything but ASCII digits (refused downstream)."""
    return int(text) if digits(text) and len(text) < 6 else 0
