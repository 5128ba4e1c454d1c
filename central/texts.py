"""What people type and copy down: the words of a form the hub keeps (a question, an answer, an
announcement) — present, not too long, printable, else InvalidInput naming the field, in
Chinese — and the tokens citizens are given to come back with."""

from __future__ import annotations

import secrets

from sync_protocol import hidden_controls
from weblayer.errors import InvalidInput


def required_text(value: str, label: str, field: str, most: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"请填写{label}", field=field)
    if len(value) > most:
        raise InvalidInput(f"{label}不能超过 {most} 字", field=field)
    if hidden_controls(value):
        raise InvalidInput(f"{label}中有无法打印的控制字符，请删除后重新输入", field=field)
    return value


TOKEN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: copied from a phone onto paper and back
TOKEN_LENGTH = 12  # about 59 random bits: not guessable


def citizen_token() -> str:
    """A token a citizen reads back their question, complaint or booking with."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def token_as_typed(value: str) -> str:
    """A token as a person typed it: spaces and case do not matter."""
    return "".join(value.split()).upper()
