"""账号管理: operators manage the hub's operators and clerks (issue 22 item 4), on a page and in
the API. Each change is in the action log (central/accounts.py) and nobody can take away the
last working operator."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Response, Template
from sqlmodel import col

from weblayer.auth import requires_role
from weblayer.errors import InvalidInput, ServiceError

from .. import accounts
from ..models import Department, User
from .context import Ctx, HubContext, HubRequest, page


class UserOut(msgspec.Struct):
    username: str
    display_name: str
    role: str  # operator, clerk
    department: str | None
    disabled_at: str | None  # 停用 since (UTC); None while the account works


class UserIn(msgspec.Struct):
    username: str
    display_name: str
    role: str
    password: str
    department: str | None = None


class UserChangeIn(msgspec.Struct):
    display_name: str | None = None
    role: str | None = None
    department: str | None = None
    disabled: bool | None = None


class PasswordIn(msgspec.Struct):
    password: str  # at least 6 characters; the account's open sessions end


def user_out(u: User) -> UserOut:
    return UserOut(u.username, u.display_name, u.role, u.department, u.disabled_at)


class StaffApi(Controller):
    guards = [requires_role("operator")]

    @get("/users", sync_to_thread=True)
    def api_users(self, ctx: Ctx) -> list[UserOut]:
        """Every account of the hub, operators first."""
        return [user_out(u) for u in accounts.all_users(ctx.engine)]

    @post("/users", sync_to_thread=True, status_code=201)
    def api_add(self, request: HubRequest, ctx: Ctx, data: JSONBody[UserIn]) -> UserOut:
        return user_out(accounts.add(ctx.engine, request.user, data.username, data.display_name, data.role, data.password, data.department))

    @put("/users/{username:str}", sync_to_thread=True)
    def api_change(self, request: HubRequest, ctx: Ctx, username: FromPath[str], data: JSONBody[UserChangeIn]) -> UserOut:
        """Change the name, role or department, or disable (停用) or enable the account."""
        change = accounts.Change(data.display_name, data.role, data.department, data.disabled)
        return user_out(accounts.change(ctx.engine, request.user, username, change))

    @post("/users/{username:str}/password", sync_to_thread=True, status_code=204)
    def api_reset(self, request: HubRequest, ctx: Ctx, username: FromPath[str], data: JSONBody[PasswordIn]) -> None:
        """A new password; every open session of the account ends."""
        accounts.reset_password(ctx.engine, request.user, username, data.password)


DONE = {  # what the page says after a change (the redirect names the act and the account)
    "add": "已新增账号 {}",
    "change": "已保存 {} 的修改",
    "disable": "已停用 {}：它已登录的会话全部失效",
    "enable": "已启用 {}",
    "reset": "已重置 {} 的密码：它已登录的会话全部失效",
}


def _staff_page(ctx: HubContext, user: Any, status_code: int = 200, error: str | None = None, done: str = "", who: str = "") -> Template:
    from sqlmodel import Session, select

    with Session(ctx.engine) as session:
        departments = list(session.exec(select(Department).order_by(col(Department.code))).all())
    rows = accounts.all_users(ctx.engine)
    said = DONE[done].format(who) if done in DONE and any(u.username == who for u in rows) else None
    names = {d.code: d.name for d in departments}
    return page(
        "staff.html",
        status_code=status_code,
        user=user,
        rows=rows,
        roles=accounts.ROLES,
        departments=departments,
        dept_names=names,
        error=error,
        done=said,
    )


def _password(data: dict[str, str]) -> str:
    if data.get("password", "") != data.get("password2", ""):
        raise InvalidInput("两次输入的密码不一致", field="password2")
    return data.get("password", "")


class StaffPages(Controller):
    guards = [requires_role("operator")]

    @get("/users", sync_to_thread=True)
    def staff_page(self, request: HubRequest, ctx: Ctx, done: FromQuery[str] = "", who: FromQuery[str] = "") -> Template:
        return _staff_page(ctx, request.user, done=done, who=who)

    @post("/users", sync_to_thread=True)
    def change(self, request: HubRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        """One form per change: add, change (name, role, department), disable, enable or reset."""
        user, act, name = request.user, data.get("act", ""), data.get("username", "")
        try:
            if act == "add":
                name = accounts.add(
                    ctx.engine, user, name, data.get("display_name", ""), data.get("role", ""), _password(data), data.get("department")
                ).username
            elif act == "change":
                accounts.change(ctx.engine, user, name, accounts.Change(data.get("display_name"), data.get("role"), data.get("department")))
            elif act in ("disable", "enable"):
                accounts.change(ctx.engine, user, name, accounts.Change(disabled=act == "disable"))
            elif act == "reset":
                accounts.reset_password(ctx.engine, user, name, _password(data))
            else:
                raise InvalidInput("不认识的操作")
        except ServiceError as exc:
            return _staff_page(ctx, user, exc.status, exc.message)
        return Redirect(f"/users?done={act}&who={quote(name)}")


API = [StaffApi]
PAGES = [StaffPages]
