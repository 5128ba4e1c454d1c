"""The catalog search at the window (issue 18 finding 4): a thousand words were an SQLite
expression too deep, a 500. A search reads its first words only."""

from __future__ import annotations

from pathlib import Path

from edge_node.catalog import install_catalog, list_items
from edge_node.store import Store

CATALOG = {
    "version": 1,
    "items": [{"code": "MZ-003", "name": "高龄津贴申领", "department": "mzj", "department_name": "县民政局", "time_limit_days": 10, "fee_fen": 0}],
}


def test_a_search_of_a_thousand_words_answers(tmp_path: Path):
    store = Store(tmp_path / "node.sqlite3")
    install_catalog(store, CATALOG)
    assert [i["code"] for i in list_items(store, "高龄 " * 1000)] == ["MZ-003"]
    assert list_items(store, "x" * 100_000) == []
    store.close()
