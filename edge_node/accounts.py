"""The point's staff accounts: add, change, disable, reset — each in the point's account log in
the same transaction. Township staff manage them (the 账号管理 page, or `yiwang node user` at the
machine); nobody can take away the last working township staff account (issue 22 item 4)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from weblayer import accounts as fields
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound
from weblayer.passwords import hash_password

from .auth import ROLES
from .store import Store, utcnow

SYSTEM = "system"  # the actor of the command line (at the machine itself)
MANAGER = "township_staff"  # who manages the accounts of a point
# what the point's staff may create, change and reset: an approver (乡镇审批人) decides township
# stages, so a staff member who could make one could approve their own intake; those accounts are
# kept at the machine (`yiwang node user`), by whoever the county gives that console to
MANAGED = {"village_agent", "township_staff"}
ROLES_AT = {"village": {"village_agent"}, "township": set(ROLES)}  # who works at which kind of point
ACTIONS = {"user.added": "新增账号", "user.changed": "修改账号", "user.password_reset": "重置密码"}


@dataclass(frozen=True)
class Change:
    """What may change of an account; None leaves it as it is."""

    display_name: str | None = None
    role: str | None = None
    disabled: bool | None = None


def all_users(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT username, display_name, role, disabled_at FROM users ORDER BY role, username")]


def log(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    rows = store.query("SELECT * FROM account_log ORDER BY id DESC LIMIT ?", (limit,))
    return [{**dict(r), "action_name": ACTIONS.get(r["action"], r["action"]), "detail": json.loads(r["detail"] or "{}")} for r in rows]


def add(store: Store, actor: str, username: str, display_name: str, role: str, password: str, kind: str = "") -> None:
    """``kind``: the point's (village, township), where it is known: a village has agents only."""
    username = fields.username(username)
    _check_role(role)
    if role not in ROLES_AT.get(kind, ROLES):
        raise InvalidInput(f"村代办点只有村代办员（village_agent）；{ROLES[role]}在乡镇便民服务中心", field="role")
    _may_manage(actor, role)
    fields.require_password(password, username)
    name = fields.display_name(display_name)
    digest = hash_password(password)
    with store.write() as conn:
        if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
            raise Conflict(f"账号 {username} 已存在：要改密码请用“重置密码”", field="username")
        conn.execute("INSERT INTO users (username, display_name, role, password_hash) VALUES (?, ?, ?, ?)", (username, name, role, digest))
        _log(conn, actor, "user.added", username, role=role)


def change(store: Store, actor: str, username: str, what: Change) -> None:
    with store.write() as conn:
        row = _get(conn, username)
        role = what.role or row["role"]
        _check_role(role)
        _may_manage(actor, row["role"], role)
        disabled_at = row["disabled_at"] if what.disabled is None else (row["disabled_at"] or utcnow()) if what.disabled else None
        if row["role"] == MANAGER and not row["disabled_at"] and (role != MANAGER or disabled_at):
            _keep_a_manager(conn, username)
        detail: dict[str, Any] = {}
        if what.display_name is not None and fields.display_name(what.display_name) != row["display_name"]:
            detail["display_name"] = fields.display_name(what.display_name)
        if role != row["role"]:
            detail["role"] = role
        if bool(disabled_at) != bool(row["disabled_at"]):
            detail["disabled"] = bool(disabled_at)
        if not detail:
            return
        conn.execute(
            "UPDATE users SET display_name = ?, role = ?, disabled_at = ? WHERE username = ?",
            (detail.get("display_name", row["display_name"]), role, disabled_at, username),
        )
        if detail.get("disabled") or "role" in detail:
            conn.execute("DELETE FROM login_sessions WHERE username = ?", (username,))
        _log(conn, actor, "user.changed", username, **detail)


def reset_password(store: Store, actor: str, username: str, password: str) -> None:
    """A new password, and every session of the account ends (a stolen login stops working)."""
    fields.require_password(password, username)
    digest = hash_password(password)
    with store.write() as conn:
        _may_manage(actor, _get(conn, username)["role"])
        conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (digest, username))
        conn.execute("DELETE FROM login_sessions WHERE username = ?", (username,))
        _log(conn, actor, "user.password_reset", username)


def _may_manage(actor: str, *roles: str) -> None:
    if actor != SYSTEM and not set(roles) <= MANAGED:
        raise Forbidden("乡镇审批人账号不在这里管理：请在本机命令行用 yiwang node user（县里指定的管理员）", field="role")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"角色只能是：{'、'.join(f'{k}（{v}）' for k, v in ROLES.items())}", field="role")


def _get(conn: sqlite3.Connection, username: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        raise NotFound(f"没有账号 {username}")
    return row


def _keep_a_manager(conn: sqlite3.Connection, username: str) -> None:
    """A township point keeps one working staff account (a village point has none: its accounts
    are managed at the machine, with `yiwang node user`)."""
    if conn.execute("SELECT 1 FROM users WHERE role = ? AND disabled_at IS NULL AND username != ?", (MANAGER, username)).fetchone() is None:
        raise Conflict("这是最后一个在用的乡镇窗口人员账号：先另设一个，再停用或改变这个", field="username")


def _log(conn: sqlite3.Connection, actor: str, action: str, username: str, **detail: Any) -> None:
    conn.execute(
        "INSERT INTO account_log (at, actor, action, username, detail) VALUES (?, ?, ?, ?, ?)",
        (utcnow(), actor, action, username, json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else ""),
    )
