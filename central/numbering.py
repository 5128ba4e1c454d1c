"""Numbers per county, year and kind — 督办〔2026〕第 12 号 — given once each, in the caller's
transaction: the counter row is created if missing and bumped with one UPDATE … RETURNING, which
both SQLite (BEGIN IMMEDIATE) and PostgreSQL (the row lock) serialise, so two transactions never
get the same number and a rolled-back one gives its number back."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

ORDER_FORMAT = "督办〔{year}〕第 {n} 号"  # a supervision order's (central/cards.py)


def next_number(session: Session, name: str, year: int, form: str) -> str:
    """The next number of the counter ``name`` in ``year``, written as ``form`` says ({year}, {n})."""
    conn = session.connection()
    conn.execute(text("INSERT INTO counter (kind, year, last) VALUES (:k, :y, 0) ON CONFLICT (kind, year) DO NOTHING"), {"k": name, "y": year})
    n = conn.execute(text("UPDATE counter SET last = last + 1 WHERE kind = :k AND year = :y RETURNING last"), {"k": name, "y": year}).scalar_one()
    return form.format(year=year, n=n)
