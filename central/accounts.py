"""The hub's staff accounts: add, change, disable, reset — each in the action log of the same
transaction. Nobody can take the hub's last working operator away (issue 22 item 4)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from weblayer import accounts as fields
from weblayer.errors import Conflict, InvalidInput, NotFound
from weblayer.passwords import hash_password

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .models import Department, LoginSession, User

ROLES = {"operator": "县级运维", "clerk": "部门审批员"}
SYSTEM = "console"  # the actor of the command line (a county IT officer at the server's console; 本机命令行 in the log)


@dataclass(frozen=True)
class Change:
    """What an operator may change of an account; None leaves it as it is."""

    display_name: str | None = None
    role: str | None = None
    department: str | None = None
    disabled: bool | None = None


def all_users(engine: Engine) -> list[User]:
    with Session(engine) as session:
        return list(session.exec(select(User).order_by(col(User.role).desc(), col(User.username))).all())


def _check(session: Session, role: str, department: str | None) -> None:
    if role not in ROLES:
        raise InvalidInput(f"角色只能是：{'、'.join(f'{k}（{v}）' for k, v in ROLES.items())}", field="role")
    if role == "clerk" and not department:
        raise InvalidInput("部门审批员须属于一个部门", field="department")
    if department and session.get(Department, department) is None:
        known = "、".join(d.code for d in session.exec(select(Department)).all())
        raise InvalidInput(f"没有部门 {department}（目录中的部门：{known}）", field="department")


def add(engine: Engine, actor: User | str, username: str, display_name: str, role: str, password: str, department: str | None = None) -> User:
    username = fields.username(username)
    fields.require_password(password, username)
    department = (department or None) if role == "clerk" else None
    with transaction(engine) as session:
        _check(session, role, department)
        if session.get(User, username) is not None:
            raise Conflict(f"账号 {username} 已存在：要改密码请用“重置密码”", field="username")
        user = User(
            username=username, display_name=fields.display_name(display_name), role=role, department=department, password_hash=hash_password(password)
        )
        session.add(user)
        record_action(session, actor, "user.added", username, role=role, department=department)
    return user


def change(engine: Engine, actor: User | str, username: str, what: Change) -> User:
    with transaction(engine) as session:
        # the operators' rows first, locked (PostgreSQL): two operators disabling each other at
        # once are taken one after the other, so the second sees the first's change
        session.exec(select(User).where(User.role == "operator").order_by(col(User.username)).with_for_update()).all()
        user = _get(session, username)
        role = what.role or user.role
        department = (what.department if what.department is not None else user.department) or None
        department = department if role == "clerk" else None
        _check(session, role, department)
        disabled_at = user.disabled_at if what.disabled is None else (user.disabled_at or utcnow()) if what.disabled else None
        if user.role == "operator" and not user.disabled_at and (role != "operator" or disabled_at):
            _keep_an_operator(session, username)
        detail: dict[str, object] = {}
        if what.display_name is not None and fields.display_name(what.display_name) != user.display_name:
            detail["display_name"] = user.display_name = fields.display_name(what.display_name)
        if role != user.role:
            detail["role"] = user.role = role
        if department != user.department:
            detail["department"] = user.department = department
        if bool(disabled_at) != bool(user.disabled_at):
            detail["disabled"] = bool(disabled_at)
            user.disabled_at = disabled_at
        if detail:
            session.add(user)
            if detail.get("disabled") or "role" in detail:
                _end_sessions(session, username)
            record_action(session, actor, "user.changed", username, **detail)
        session.flush()
        session.refresh(user)
        session.expunge(user)
    return user


def reset_password(engine: Engine, actor: User | str, username: str, password: str) -> None:
    """A new password, and every session of the account ends (a stolen login stops working)."""
    fields.require_password(password, username)
    with transaction(engine) as session:
        user = _get(session, username)
        user.password_hash = hash_password(password)
        session.add(user)
        _end_sessions(session, username)
        record_action(session, actor, "user.password_reset", username)


def _get(session: Session, username: str) -> User:
    user = session.get(User, username)
    if user is None:
        raise NotFound(f"没有账号 {username}")
    return user


def _keep_an_operator(session: Session, username: str) -> None:
    others = session.exec(select(User).where(User.role == "operator", col(User.disabled_at).is_(None), User.username != username)).first()
    if others is None:
        raise Conflict("这是最后一个在用的县级运维账号：先另设一个运维账号，再停用或改变这个", field="username")


def _end_sessions(session: Session, username: str) -> None:
    session.exec(delete(LoginSession).where(col(LoginSession.username) == username))
