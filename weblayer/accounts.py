"""What both apps check of a staff account the same way: its username, name and password."""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidInput

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "display_name", "require_password", "username"]

MIN_PASSWORD = 6
MAX_PASSWORD = 200  # what the login form and POST /api/login take
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def username(text: str) -> str:
    name = text.strip()
    if not _USERNAME.fullmatch(name):
        raise InvalidInput("用户名只能用字母、数字和 - _ .，以字母或数字开头，不超过 40 个字符", field="username")
    return name


def display_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > 40:
        raise InvalidInput("请填写姓名（不超过 40 个字）", field="display_name")
    if any(unicodedata.category(c).startswith("C") for c in name):  # new lines, tabs, direction overrides
        raise InvalidInput("姓名里不能有换行、制表符或其他控制字符", field="display_name")
    return name


def require_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD or "\x00" in password:
        raise InvalidInput(f"密码须为 {MIN_PASSWORD}–{MAX_PASSWORD} 个字符", field="password")
    return password
