"""The county's 通知公告 and 常见问题 at the point (issue 21 item 2): applied from the signed
downlink, changed and withdrawn in place, and shown on the point's pages with no link at all."""

from __future__ import annotations

from pathlib import Path

from edge_node import guidance, link
from edge_node.store import Store
from sync_protocol import GENESIS, Accepted, Record, seal_next
from tests.support.api import login
from tests.support.builders import HUB_KEY, T


def changed(n: int, kind: str, entry_id: int, title: str, body: str, withdrawn: bool = False, **extra: str) -> Record:
    data = {"kind": kind, "id": entry_id, "title": title, "body": body, "at": T, "withdrawn": withdrawn} | extra
    return Record("guidance.changed", f"g{n}", T, data)


def test_guidance_from_the_county_is_kept_changed_withdrawn_and_shown_offline(client, tmp_path: Path):
    records = [
        changed(1, "announcement", 1, "元旦假期安排", "1月1日放假。"),
        changed(2, "faq", 1, "高龄津贴几岁能领？", "年满80周岁。", item_code="MZ-003"),
        changed(3, "faq", 2, "过时的问题", "过时的答复"),
        changed(4, "faq", 1, "高龄津贴几岁能领？", "年满80周岁的本县户籍老人。", item_code="MZ-003"),
        changed(5, "faq", 2, "过时的问题", "过时的答复", withdrawn=True),
    ]
    wire, _ = seal_next("shangcun", "down", GENESIS, records, T, HUB_KEY)
    store = Store(tmp_path / "node" / "node.sqlite3")
    assert isinstance(link.apply_downlink(store, "shangcun", HUB_KEY.verify_key, wire), Accepted)
    assert [(e["id"], e["body"]) for e in guidance.faq(store)] == [(1, "年满80周岁的本县户籍老人。")]
    assert guidance.faq(store, "户籍 老人")[0]["id"] == 1 and guidance.faq(store, "低保") == []
    store.close()
    login(client)  # the test client's node has no NATS at all: what it shows is what it holds
    home = client.get("/")
    assert "元旦假期安排" in home.text
    page = client.get("/faq")
    assert page.status_code == 200 and "1月1日放假。" in page.text and "本县户籍老人" in page.text and "过时的问题" not in page.text
    assert "本县户籍老人" in client.get("/catalog/MZ-003").text  # beside its item's guide
    assert "没有找到" in client.get("/faq", params={"q": "不存在"}).text
