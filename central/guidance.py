"""通知公告 and 常见问题 (issue 21 item 2): kept by operators, shown on the public portal, and sent
to every point (``guidance.changed``) so its pages have them offline. Each change goes down as the
entry's new state (or its withdrawal), in the transaction that made it; a newly enrolled point is
sent every current entry (``send_all``)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import GUIDANCE_CHANGED
from weblayer.errors import InvalidInput, NotFound

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .models import Announcement, CatalogItem, FaqEntry, Node, User
from .texts import required_text

TITLE_CHARS, BODY_CHARS = 100, 2000  # a record stays far below the protocol's 16 KB
MAX_LIVE = {"announcement": 50, "faq": 500}  # current entries: what a point holds and each enrolment sends
MAX_QUERY_WORDS = 8
MAX_ID = 2**31 - 1  # the databases' INTEGER: a larger id is no entry, not an overflow


def _record(kind: str, entry: Announcement | FaqEntry) -> dict[str, Any]:
    if isinstance(entry, Announcement):
        return {
            "kind": kind,
            "id": entry.id,
            "title": entry.title,
            "body": entry.body,
            "at": entry.published_at,
            "withdrawn": bool(entry.withdrawn_at),
        }
    data = {
        "kind": kind,
        "id": entry.id,
        "title": entry.question,
        "body": entry.answer,
        "at": entry.updated_at,
        "withdrawn": bool(entry.withdrawn_at),
    }
    return data | ({"item_code": entry.item_code} if entry.item_code else {})


def _send(session: Session, record: dict[str, Any], nodes: list[str] | None = None) -> None:
    for node_id in nodes if nodes is not None else session.exec(select(Node.id).where(Node.status == "enrolled")).all():
        queue_downlink(session, node_id, GUIDANCE_CHANGED, record)


def _live(session: Session, model: type[Announcement] | type[FaqEntry]) -> int:
    return len(session.exec(select(model.id).where(col(model.withdrawn_at).is_(None))).all())


def publish_announcement(engine: Engine, user: User, title: str, body: str) -> Announcement:
    title, body = required_text(title, "公告标题", "title", TITLE_CHARS), required_text(body, "公告内容", "body", BODY_CHARS)
    with transaction(engine) as session:
        if _live(session, Announcement) >= MAX_LIVE["announcement"]:
            raise InvalidInput(f"现行公告已有 {MAX_LIVE['announcement']} 条，请先撤下过时的公告", field="title")
        entry = Announcement(title=title, body=body, published_at=utcnow(), published_by=user.display_name)
        session.add(entry)
        session.flush()
        _send(session, _record("announcement", entry))
        record_action(session, user, "guidance.announcement_published", str(entry.id), title=title)
    return entry


def save_faq(engine: Engine, user: User, question: str, answer: str, item_code: str = "", entry_id: int | None = None) -> FaqEntry:
    """A new FAQ entry, or a change to one (``entry_id``)."""
    question, answer = required_text(question, "问题", "question", TITLE_CHARS * 2), required_text(answer, "答复", "answer", BODY_CHARS)
    item_code = item_code.strip()
    with transaction(engine) as session:
        if item_code and session.get(CatalogItem, item_code) is None:
            raise InvalidInput("事项目录中没有这个事项编码", field="item_code")
        if entry_id is None:
            if _live(session, FaqEntry) >= MAX_LIVE["faq"]:
                raise InvalidInput(f"常见问题已有 {MAX_LIVE['faq']} 条，请先撤下过时的条目", field="question")
            entry = FaqEntry(question=question, answer=answer, item_code=item_code, updated_at=utcnow(), updated_by=user.display_name)
        else:
            found = session.get(FaqEntry, entry_id) if 0 < entry_id <= MAX_ID else None
            if found is None or found.withdrawn_at:
                raise NotFound("没有这条常见问题")
            entry = found
            entry.question, entry.answer, entry.item_code, entry.updated_at, entry.updated_by = (
                question,
                answer,
                item_code,
                utcnow(),
                user.display_name,
            )
        session.add(entry)
        session.flush()
        _send(session, _record("faq", entry))
        record_action(session, user, "guidance.faq_saved", str(entry.id), question=question)
    return entry


KINDS: dict[str, type[Announcement] | type[FaqEntry]] = {"announcement": Announcement, "faq": FaqEntry}


def withdraw(engine: Engine, user: User, kind: str, entry_id: int) -> None:
    model = KINDS.get(kind)
    if model is None:
        raise NotFound("没有这类内容")
    with transaction(engine) as session:
        entry = cast(Announcement | FaqEntry | None, session.get(model, entry_id) if 0 < entry_id <= MAX_ID else None)
        if entry is None or entry.withdrawn_at:
            raise NotFound("没有这条内容，或已撤下")
        entry.withdrawn_at = utcnow()
        session.add(entry)
        _send(session, _record(kind, entry))
        record_action(session, user, f"guidance.{kind}_withdrawn", str(entry_id))


def send_all(session: Session, node_id: str) -> None:
    """Every current entry, to a point just enrolled (in the enrolment's transaction)."""
    for kind, model in KINDS.items():
        for entry in session.exec(select(model).where(col(model.withdrawn_at).is_(None)).order_by(col(model.id))).all():
            _send(session, _record(kind, cast(Announcement | FaqEntry, entry)), [node_id])


def announcements(engine: Engine, limit: int = 50) -> list[Announcement]:
    with Session(engine) as session:
        query = select(Announcement).where(col(Announcement.withdrawn_at).is_(None))
        return list(session.exec(query.order_by(col(Announcement.published_at).desc(), col(Announcement.id).desc()).limit(limit)).all())


def announcement(engine: Engine, entry_id: int) -> Announcement:
    with Session(engine) as session:
        entry = session.get(Announcement, entry_id) if 0 < entry_id <= MAX_ID else None
    if entry is None or entry.withdrawn_at:
        raise NotFound("没有这条公告，或已撤下")
    return entry


def faq(engine: Engine, query: str = "", item_code: str | None = None) -> list[FaqEntry]:
    """Current FAQ entries whose question or answer holds every word of ``query``; or one item's."""
    words = [w[:50] for w in query.split()[:MAX_QUERY_WORDS]]
    with Session(engine) as session:
        rows = session.exec(select(FaqEntry).where(col(FaqEntry.withdrawn_at).is_(None)).order_by(col(FaqEntry.id))).all()
    return [
        e
        for e in rows
        if (item_code is None or e.item_code == item_code) and all(w in e.question or w in e.answer or w == e.item_code for w in words)
    ]
