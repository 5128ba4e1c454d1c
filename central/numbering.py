"""Numbers per county, year and kind — 督办〔2026〕第 12 号 — given once each, in the caller's
transaction: the counter row is created if missing and bumped with one UPDATE … RETURNING, which
both SQLite (BEGIN IMMEDIATE) and PostgreSQL (the row lock) serialise, so two transactions never
get the same number and a rolled-back one gives its number back."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

# kind -> how its number is written ({year}, {n})
FORMATS = {
    "supervision_order": "督办〔{year}〕第 {n} 号",
}


def next_number(session: Session, kind: str, year: int) -> str:
    conn = session.connection()
    conn.execute(text("INSERT INTO counter (kind, year, last) VALUES (:k, :y, 0) ON CONFLICT (kind, year) DO NOTHING"), {"k": kind, "y": year})
    n = conn.execute(text("UPDATE counter SET last = last + 1 WHERE kind = :k AND year = :y RETURNING last"), {"k": kind, "y": year}).scalar_one()
    return FORMATS[kind].format(year=year, n=n)
