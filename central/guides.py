"""Service guides (办事指南) on the public portal (issue 21 item 2): the catalog in force — the one
every point has — by theme, by department, and by search; an item the county has stopped
(停用) is not offered."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.engine import Engine

from weblayer.errors import NotFound

from .catalog import published_catalog

MAX_QUERY_WORDS = 8  # as at the points (edge_node/catalog.py)
SEARCHED = ("code", "name", "theme", "department_name", "conditions", "applicant_scope")  # and the keywords and materials


def in_force(engine: Engine) -> list[dict[str, Any]]:
    return [item for item in published_catalog(engine)["items"] if not item.get("withdrawn")]


def themes(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(theme, how many items) in catalog order of first appearance."""
    return list(Counter(item.get("theme") or "其他" for item in items).items())


def departments(items: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(code, name, how many items)."""
    counts = Counter((item["department"], item.get("department_name") or item["department"]) for item in items)
    return [(code, name, n) for (code, name), n in counts.items()]


def _words(item: dict[str, Any]) -> str:
    materials = " ".join(m["name"] if isinstance(m, dict) else str(m) for m in item.get("materials", []))
    return " ".join([*(str(item.get(k) or "") for k in SEARCHED), *item.get("keywords", []), materials])


def search(items: list[dict[str, Any]], query: str = "", theme: str = "", department: str = "") -> list[dict[str, Any]]:
    """Items of ``theme`` and ``department`` (either may be empty) holding every word of ``query``,
    those whose name holds them first."""
    words = [w[:50].lower() for w in query.split()[:MAX_QUERY_WORDS]]
    found = [
        item
        for item in items
        if (not theme or (item.get("theme") or "其他") == theme)
        and (not department or item["department"] == department)
        and all(w in _words(item).lower() for w in words)
    ]
    return sorted(found, key=lambda item: not all(w in item["name"].lower() for w in words))  # the name's matches first


def guide(items: list[dict[str, Any]], code: str) -> dict[str, Any]:
    for item in items:
        if item["code"] == code:
            return item
    raise NotFound("事项目录中没有这个事项，或已停止办理")
