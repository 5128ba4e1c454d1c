"""账号管理 at a township point (issue 22 item 4): township staff add, change, disable and reset
the point's accounts, on a page and in the API; each change in the point's account log
(edge_node/accounts.py), and the last working staff account cannot be taken away."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Response, Template

from weblayer.auth import requires_role
from weblayer.errors import InvalidInput, ServiceError

from .. import accounts
from ..auth import ROLES
from .context import Ctx, NodeContext, NodeRequest, page

MANAGERS = requires_role(accounts.MANAGER)


class UserOut(msgspec.Struct):
    username: str
    display_name: str
    role: str  # village_agent, township_staff, township_approver
    disabled_at: str | None  # 停用 since (UTC); None while the account works


class UserIn(msgspec.Struct):
    username: str
    display_name: str
    role: str
    password: str


class UserChangeIn(msgspec.Struct):
    display_name: str | None = None
    role: str | None = None
    disabled: bool | None = None


class PasswordIn(msgspec.Struct):
    password: str  # at least 6 characters; the account's open sessions end


def user_out(row: dict[str, Any]) -> UserOut:
    return UserOut(row["username"], row["display_name"], row["role"], row["disabled_at"])


def _find(ctx: NodeContext, username: str) -> UserOut:
    return next(user_out(u) for u in accounts.all_users(ctx.store) if u["username"] == username)


class StaffApi(Controller):
    path = "/users"
    guards = [MANAGERS]

    @get("/", sync_to_thread=True)
    def api_users(self, ctx: Ctx) -> list[UserOut]:
        """Every account of this point."""
        return [user_out(u) for u in accounts.all_users(ctx.store)]

    @post("/", sync_to_thread=True, status_code=201)
    def api_add(self, request: NodeRequest, ctx: Ctx, data: JSONBody[UserIn]) -> UserOut:
        accounts.add(ctx.store, request.user["username"], data.username, data.display_name, data.role, data.password)
        return _find(ctx, data.username.strip())

    @put("/{username:str}", sync_to_thread=True)
    def api_change(self, request: NodeRequest, ctx: Ctx, username: FromPath[str], data: JSONBody[UserChangeIn]) -> UserOut:
        """Change the name or role, or disable (停用) or enable the account."""
        accounts.change(ctx.store, request.user["username"], username, accounts.Change(data.display_name, data.role, data.disabled))
        return _find(ctx, username)

    @post("/{username:str}/password", sync_to_thread=True, status_code=204)
    def api_reset(self, request: NodeRequest, ctx: Ctx, username: FromPath[str], data: JSONBody[PasswordIn]) -> None:
        """A new password; every open session of the account ends."""
        accounts.reset_password(ctx.store, request.user["username"], username, data.password)


DONE = {
    "add": "已新增账号 {}",
    "change": "已保存 {} 的修改",
    "disable": "已停用 {}：它已登录的会话全部失效",
    "enable": "已启用 {}",
    "reset": "已重置 {} 的密码：它已登录的会话全部失效",
}


def _page(ctx: NodeContext, user: Any, status_code: int = 200, error: str | None = None, done: str = "", who: str = "") -> Template:
    rows = accounts.all_users(ctx.store)
    said = DONE[done].format(who) if done in DONE and any(u["username"] == who for u in rows) else None
    managed = {code: name for code, name in ROLES.items() if code in accounts.MANAGED}
    names = {u["username"]: u["display_name"] for u in rows} | {accounts.SYSTEM: "本机命令行"}
    log = accounts.log(ctx.store, 30)
    return page(
        ctx, "staff.html", status_code=status_code, user=user, rows=rows, roles=ROLES, managed=managed, names=names, log=log, error=error, done=said
    )


def _password(data: dict[str, str]) -> str:
    if data.get("password", "") != data.get("password2", ""):
        raise InvalidInput("两次输入的密码不一致", field="password2")
    return data.get("password", "")


class StaffPages(Controller):
    guards = [MANAGERS]

    @get("/users", sync_to_thread=True)
    def staff_page(self, request: NodeRequest, ctx: Ctx, done: FromQuery[str] = "", who: FromQuery[str] = "") -> Template:
        return _page(ctx, request.user, done=done, who=who)

    @post("/users", sync_to_thread=True)
    def change(self, request: NodeRequest, ctx: Ctx, data: URLEncodedBody[dict[str, str]]) -> Response:
        """One form per change: add, change (name, role), disable, enable or reset."""
        me, act, name = request.user["username"], data.get("act", ""), data.get("username", "").strip()
        try:
            if act == "add":
                accounts.add(ctx.store, me, name, data.get("display_name", ""), data.get("role", ""), _password(data))
            elif act == "change":
                accounts.change(ctx.store, me, name, accounts.Change(data.get("display_name"), data.get("role")))
            elif act in ("disable", "enable"):
                accounts.change(ctx.store, me, name, accounts.Change(disabled=act == "disable"))
            elif act == "reset":
                accounts.reset_password(ctx.store, me, name, _password(data))
            else:
                raise InvalidInput("不认识的操作")
        except ServiceError as exc:
            return _page(ctx, request.user, exc.status, exc.message)
        return Redirect(f"/users?done={act}&who={quote(name)}")


API = [StaffApi]
PAGES = [StaffPages]
