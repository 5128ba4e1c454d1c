"""Hub staff credentials: Argon2id hashes, sessions that expire."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from central import auth
from central.db import create_schema, make_engine
from central.models import User


def test_passwords_are_argon2id_and_sessions_expire(hub_db_url):
    engine = make_engine(hub_db_url)
    create_schema(engine)
    auth.add_user(engine, "operator", "运维", "operator", "s3cret-pass")
    with Session(engine) as session:
        stored = session.get(User, "operator").password_hash
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    _user, token = auth.log_in(engine, "operator", "s3cret-pass")
    assert auth.user_for_token(engine, token).username == "operator"
    with engine.begin() as conn:  # 12 hours later
        conn.execute(text("UPDATE loginsession SET expires_at = '2020-01-01T00:00:00.000000Z'"))
    assert auth.user_for_token(engine, token) is None
