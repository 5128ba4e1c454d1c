"""Staff accounts at the node: Argon2id hashes (PyNaCl) and server-side sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sync_protocol import format_time
from weblayer.errors import InvalidInput, NotAuthenticated
from weblayer.passwords import check_password, hash_password

from .store import Store, utcnow

SESSION_LIFETIME = timedelta(hours=12)
ROLES = {"village_agent": "村代办员", "township_staff": "乡镇窗口人员", "township_approver": "乡镇审批人"}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(store: Store, username: str, display_name: str, role: str, password: str) -> None:
    """Seed an account unless the name exists (the demo, tests); staff are managed with
    edge_node/accounts.py, which refuses an existing name and logs who did it."""
    if role not in ROLES:
        raise InvalidInput(f"角色只能是 {', '.join(ROLES)}", field="role")
    with store.write() as conn:
        conn.execute(
            "INSERT INTO users (username, display_name, role, password_hash) VALUES (?, ?, ?, ?) ON CONFLICT(username) DO NOTHING",
            (username, display_name, role, hash_password(password)),
        )


def log_in(store: Store, username: str, password: str) -> tuple[dict[str, str], str]:
    row = store.one("SELECT * FROM users WHERE username = ?", (username.strip(),))
    if not check_password(row["password_hash"] if row else None, password) or row is None:
        raise NotAuthenticated("用户名或密码不正确")
    if row["disabled_at"]:
        raise NotAuthenticated("这个账号已停用：请找乡镇便民服务中心的工作人员")
    token = secrets.token_urlsafe(32)
    expires = format_time(datetime.now(UTC) + SESSION_LIFETIME)
    with store.write() as conn:
        conn.execute("INSERT INTO login_sessions (token_hash, username, expires_at) VALUES (?, ?, ?)", (_token_hash(token), row["username"], expires))
    return _user(row), token


def user_for_token(store: Store, token: str | None) -> dict[str, str] | None:
    if not token:
        return None
    row = store.one(
        "SELECT u.* FROM login_sessions s JOIN users u ON u.username = s.username WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
        (_token_hash(token), utcnow()),
    )
    return _user(row) if row else None


def log_out(store: Store, token: str | None) -> None:
    if token:
        with store.write() as conn:
            conn.execute("DELETE FROM login_sessions WHERE token_hash = ?", (_token_hash(token),))


def _user(row) -> dict[str, str]:
    return {"username": row["username"], "display_name": row["display_name"], "role": row["role"], "role_name": ROLES.get(row["role"], row["role"])}
