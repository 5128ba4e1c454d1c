"""Staff accounts: Argon2id password hashes (PyNaCl) and server-side login sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from weblayer.errors import NotAuthenticated
from weblayer.passwords import check_password, hash_password

from .clock import utcnow
from .db import transaction
from .models import LoginSession, User

SESSION_LIFETIME = timedelta(hours=12)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def log_in(engine: Engine, username: str, password: str) -> tuple[User, str]:
    """Return the user and a new session token, or raise NotAuthenticated (same message either way)."""
    with Session(engine) as session:
        user = session.get(User, username.strip())
    if not check_password(user.password_hash if user else None, password) or user is None:
        raise NotAuthenticated("用户名或密码不正确")
    if user.disabled_at:
        raise NotAuthenticated("这个账号已停用：请找县级运维人员")
    token = secrets.token_urlsafe(32)
    with transaction(engine) as session:
        session.add(LoginSession(token_hash=_token_hash(token), username=user.username, expires_at=utcnow(SESSION_LIFETIME)))
    return user, token


def user_for_token(engine: Engine, token: str | None) -> User | None:
    if not token:
        return None
    with Session(engine) as session:
        login = session.get(LoginSession, _token_hash(token))
        if login is None or login.expires_at < utcnow():
            return None
        user = session.get(User, login.username)
        return None if user is None or user.disabled_at else user


def log_out(engine: Engine, token: str | None) -> None:
    if not token:
        return
    with transaction(engine) as session:
        login = session.get(LoginSession, _token_hash(token))
        if login is not None:
            session.delete(login)


def add_user(
    engine: Engine, username: str, display_name: str, role: str, password: str, department: str | None = None, password_hash: str | None = None
) -> None:
    """Seed an account unless the name exists (`hub init`, the demo, tests); staff are managed with
    central/accounts.py, which refuses an existing name and logs who did it. ``password_hash``: the
    hash of ``password`` already worked out (the demo's clerks share one: 0.1 s of Argon2 each)."""
    with transaction(engine) as session:
        if session.get(User, username) is None:
            digest = password_hash or hash_password(password)
            session.add(User(username=username, display_name=display_name, role=role, department=department, password_hash=digest))
