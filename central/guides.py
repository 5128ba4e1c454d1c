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


def _fields(item: dict[str, Any]) -> tuple[str, str, str]:
    """(its name; what else names it: keywords and theme; everything else a guide says)."""
    materials = " ".join(m["name"] if isinstance(m, dict) else str(m) for m in item.get("materials", []))
    naming = " ".join([str(item.get("theme") or ""), *item.get("keywords", [])])
    other = " ".join([*(str(item.get(k) or "") for k in SEARCHED), materials])
    return item["name"].lower(), naming.lower(), other.lower()


def _score(words: list[str], item: dict[str, Any]) -> int:
    """How well ``item`` answers the words: a word in its name counts 4, in its keywords 3, elsewhere
    1 (身份证 is a material of nearly every item: that alone is a weak answer); a word found nowhere
    whole — people type 身份证丢了, not 身份证 丢失 — counts its two-character pieces found in the
    name or keywords. 0: some word has no trace at all."""
    name, keywords, other = _fields(item)
    naming = f"{name} {keywords}"
    score = 0
    for word in words:
        if word in name:
            score += 4
        elif word in keywords:
            score += 3
        elif word in other:
            score += 1
        elif hits := sum(word[i : i + 2] in naming for i in range(len(word) - 1)):
            score += hits
        else:
            return 0
    return score


def search(items: list[dict[str, Any]], query: str = "", theme: str = "", department: str = "") -> list[dict[str, Any]]:
    """Items of ``theme`` and ``department`` (either may be empty) answering the words of ``query``,
    best first; where some answer in their name or keywords, those only."""
    words = [w[:50].lower() for w in query.split()[:MAX_QUERY_WORDS]]
    chosen = [i for i in items if (not theme or (i.get("theme") or "其他") == theme) and (not department or i["department"] == department)]
    if not words:
        return chosen
    scored = [(s, i) for i in chosen if (s := _score(words, i))]
    best = max((s for s, _ in scored), default=0)
    floor = 3 * len(words) if best >= 3 * len(words) else 1  # named matches hide the merely mentioned
    return [i for s, i in sorted(scored, key=lambda pair: -pair[0]) if s >= floor]


def guide(items: list[dict[str, Any]], code: str) -> dict[str, Any]:
    for item in items:
        if item["code"] == code:
            return item
    raise NotFound("事项目录中没有这个事项，或已停止办理")
