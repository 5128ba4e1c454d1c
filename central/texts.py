"""What a person types into a form the hub keeps (a question, an answer, an announcement): present,
not too long, and printable; else InvalidInput naming the field, in Chinese."""

from __future__ import annotations

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
