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


# what is tried first against any login: the most common passwords, in China and anywhere
GUESSED = frozenset(
    {"123456", "1234567", "12345678", "123456789", "1234567890", "654321", "123123", "123321", "112233", "666666", "888888", "000000", "111111"}
    | {"520520", "5201314", "147258", "147258369", "qwerty", "qwe123", "abc123", "abcdef", "a123456", "password", "passw0rd", "iloveyou", "admin123"}
    | {
        "password1",
        "password123",
        "woaini",
        "woaini1314",
        "5201314520",
        "1q2w3e4r",
        "1qaz2wsx",
        "q1w2e3r4",
        "qwerty123",
        "qweasd",
        "123qwe",
        "qwer1234",
    }
    | {"1234qwer", "a123456789", "a1234567", "abc123456", "abcd1234", "1234abcd", "123abc", "123456a", "123456abc", "aa123456", "qq123456", "zxcvbnm"}
    | {"asdfghjkl", "11223344", "12341234", "987654321", "147852369", "159357", "111222", "admin", "admin888", "root123", "test123", "iloveyou1"}
)


def require_password(password: str, username: str = "") -> str:
    """6–200 characters, not the account's name, not one of the first a guesser tries (a
    stolen laptop's browser goes to the login page first)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD or "\x00" in password:
        raise InvalidInput(f"密码须为 {MIN_PASSWORD}–{MAX_PASSWORD} 个字符", field="password")
    plain = unicodedata.normalize("NFKC", password).strip().lower()  # １２３４５６ and "123456 " are 123456
    if plain in GUESSED or len(set(plain)) <= 1 or (username and plain == username.strip().lower()):
        raise InvalidInput("这个密码太容易猜到（常用密码、同一字符重复或与用户名相同）：请换一个", field="password")
    return password
