"""咨询导办 / 首问负责 at the window (issue 21 item 4): the agent notes, in a few seconds, what a
citizen asked, the answer given, about which item, and whether a case followed; it goes up
(``consultation.recorded``) for the county's figures per point."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from sync_protocol import CONSULTATION_RECORDED, format_time, hidden_controls
from weblayer.errors import InvalidInput

from .fees import BEIJING
from .store import Store, add_outbox, get_meta, next_counter, utcnow

QUESTION_CHARS, ANSWER_CHARS = 200, 500


def _words(value: str, label: str, field: str, most: int, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"请填写{label}", field=field)
    if len(value) > most:
        raise InvalidInput(f"{label}最多 {most} 字", field=field)
    if hidden_controls(value):
        raise InvalidInput(f"{label}中有无法打印的控制字符，请删除后重新输入", field=field)
    return value


def record(store: Store, agent: Mapping[str, str], question: str, answer: str, item_code: str = "", case_followed: bool = False) -> dict[str, Any]:
    question = _words(question, "群众问的事", "question", QUESTION_CHARS)
    answer = _words(answer, "给出的答复", "answer", ANSWER_CHARS, required=False)
    with store.write() as conn:
        if item_code and conn.execute("SELECT 1 FROM catalog_items WHERE code = ?", (item_code,)).fetchone() is None:
            raise InvalidInput("事项目录中没有这个事项", field="item_code")
        row = {
            "id": f"{get_meta(conn, 'node_id')}-Q{next_counter(conn, 'consultation'):06d}",
            "item_code": item_code,
            "question": question,
            "answer": answer,
            "case_followed": int(case_followed),
            "at": utcnow(),
            "agent": agent["username"],
        }
        conn.execute(f"INSERT INTO window_consultations ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        data = {"consultation_id": row["id"], "question": question, "answer": answer, "case_followed": case_followed, "agent": agent["username"]}
        add_outbox(conn, CONSULTATION_RECORDED, data | ({"item_code": item_code} if item_code else {}))
    return row


def of_day(store: Store, day: date) -> list[dict[str, Any]]:
    """The consultations of a Beijing day, newest first."""
    start = datetime.combine(day, time(), BEIJING)
    bounds = (format_time(start), format_time(start + timedelta(days=1)))
    rows = store.query(
        "SELECT q.*, c.name AS item_name FROM window_consultations q LEFT JOIN catalog_items c ON c.code = q.item_code "
        "WHERE q.at >= ? AND q.at < ? ORDER BY q.at DESC",
        bounds,
    )
    return [dict(r) | {"item_name": r["item_name"] or ""} for r in rows]
