"""An item's application form at the window: what the agent typed, read into the values the form
language (sync_protocol ``check_form``) checks, and checked, with the refusal as InvalidInput.

A page posts each field as ``f.<name>``; a list of people posts ``f.<name>.<row>.<column>``, and a
row left blank is no row. Money is typed in yuan and kept in fen; a number must be whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_protocol import FormInvalid, check_form
from weblayer.errors import InvalidInput

NO_FORM: dict[str, Any] = {"fields": []}
MONEY = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def definition(item: Mapping[str, Any]) -> dict[str, Any]:
    """The item's form, or the empty form of an item that has none."""
    form = item.get("form")
    return form if isinstance(form, dict) else NO_FORM


def filled(item: Mapping[str, Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The form as filled in, to show or print: every field of the item's form, in order, with its
    value ("" when left empty)."""
    return [f | {"value": values.get(f["name"], "")} for f in definition(item).get("fields", [])]


def check(item: Mapping[str, Any], values: object) -> dict[str, Any]:
    """The form's values as kept and sent, or InvalidInput naming the field (``form.<name>``)."""
    try:
        return check_form(definition(item), values if values is not None else {})
    except FormInvalid as exc:
        raise InvalidInput(exc.message, field=f"form.{exc.field}") from None


def _typed(kind: str, text: str) -> Any:
    """One typed-in value as the form language reads it; what cannot be read stays text, and
    check_form then refuses it with the field's own message."""
    text = text.strip()
    if kind == "number" and re.fullmatch(r"-?\d{1,12}", text):
        return int(text)
    if kind == "money" and MONEY.match(text.replace(",", "")):
        try:
            return int(Decimal(text.replace(",", "")) * 100)
        except InvalidOperation:
            return text
    return text


def values_from_post(item: Mapping[str, Any], post: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a posted intake page, before they are checked."""
    values: dict[str, Any] = {}
    for field in definition(item)["fields"]:
        name, kind = field["name"], field["type"]
        if kind != "people":
            text = str(post.get(f"f.{name}") or "")
            if text.strip():
                values[name] = _typed(kind, text)
            continue
        prefix = f"f.{name}."
        rows: dict[int, dict[str, Any]] = {}
        for key, raw in post.items():
            parts = key[len(prefix) :].split(".") if key.startswith(prefix) else []
            if len(parts) == 2 and parts[0].isdigit() and len(parts[0]) <= 3 and str(raw).strip():
                rows.setdefault(int(parts[0]), {})[parts[1]] = _typed("money" if parts[1] == "income_fen" else "text", str(raw))
        if rows:
            values[name] = [rows[i] for i in sorted(rows)]
    return values


def people_rows(post: Mapping[str, Any]) -> dict[str, int]:
    """How many rows of each list of people a posted page had (the page shows one more, blank)."""
    rows: dict[str, int] = {}
    for key in post:
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "f" and parts[2].isdigit() and len(parts[2]) <= 3:
            rows[parts[1]] = max(rows.get(parts[1], 0), int(parts[2]) + 1)
    return rows
