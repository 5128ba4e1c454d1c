"""How a result is named, by the item's category (the catalog's ``category``): a 低保 is granted
(给付), not licensed (许可); an ID card's issue is confirmed (确认). One table for the documents of
record (central/document_texts.py) and for results publicity (central/public.py)."""

from __future__ import annotations

from typing import NamedTuple


class Words(NamedTuple):
    granted: str  # what a yes grants, after 准予 / 不予 in a decision: 行政许可, 给付 …
    approved_title: str  # the approval's document
    denied_title: str  # the refusal's document
    approved: str  # the result, as publicity and progress say it
    denied: str


RESULT_WORDS = {
    "行政许可": Words("行政许可", "准予行政许可决定书", "不予行政许可决定书", "准予许可", "不予许可"),
    "行政给付": Words("给付", "给付决定书", "不予给付决定书", "准予给付", "不予给付"),
    "行政确认": Words("确认", "行政确认决定书", "不予确认决定书", "予以确认", "不予确认"),
    "行政奖励": Words("奖励", "奖励决定书", "不予奖励决定书", "给予奖励", "不予奖励"),
}
OTHER = Words("办理", "办理结果通知书", "不予办理通知书", "已办结", "不予办理")
OUTCOMES = {"not_accepted": "不予受理", "revoked": "已撤销（告知承诺不实）"}  # the same for every category


def words(category: str) -> Words:
    return RESULT_WORDS.get(category, OTHER)


def result_text(category: str, outcome: str) -> str:
    """The case's result in words (approved, denied, not_accepted, revoked)."""
    if outcome in OUTCOMES:
        return OUTCOMES[outcome]
    w = words(category)
    return {"approved": w.approved, "denied": w.denied}.get(outcome, "")
