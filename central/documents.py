"""Documents of record (文书): each action on a case that the law asks to be put in writing leaves a
document, numbered per county, year and kind (示范县受字〔2026〕第 12 号), signed with the hub key
(the e-seal's stand-in: YWC1, sync_protocol), kept here and sent to the case's point, where it can
be printed and reprinted and verifies offline.

An action writes a ``DocumentDue`` row in its own transaction (``due``): it needs no key, so a
clerk's action, an ingest worker and the hub all can. The hub worker, which holds the key, makes
the document from the case and that row (central/document_texts.py says what each kind says),
signs it, stores it and queues it for the point, in one transaction (``store``)."""

from __future__ import annotations

import json
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import DOCUMENT_ISSUED, seal_document
from weblayer.display import seal_code
from weblayer.errors import NotFound

from .clock import utcnow
from .downlink import queue_downlink
from .models import Application, Document, DocumentDue
from .numbering import next_number

# kind -> the character its number carries (示范县受字〔2026〕第 12 号); titles are document_texts'
KINDS = {
    "receipt": "收",  # 收件回执: the materials reached the county
    "supplement": "补",  # 补正材料通知书 (行政许可法 第三十二条)
    "acceptance": "受",  # 受理通知书, or 视为受理
    "non_acceptance": "不受",  # 不予受理通知书, with the reason and the rights of review and lawsuit
    "decision": "决",  # 准予 / 不予 …决定书 (第三十八条)
    "suspension": "中",  # 特别程序告知书: what stops the clock and why (第四十五条: 书面告知申请人)
    "service": "送",  # 送达回证: who collected the result, signed on screen
}


def due(session: Session, application_id: str, kind: str, **context: Any) -> None:
    """Ask for a document of ``kind`` on the case, in the caller's transaction."""
    assert kind in KINDS, kind
    session.add(DocumentDue(application_id=application_id, kind=kind, context_json=json.dumps(context, ensure_ascii=False), created_at=utcnow()))


def due_many(session: Session, application_ids: list[str], kind: str, at: str) -> None:
    """``due`` for many cases in one statement (the ingest's batch); the ids are the database's."""
    if application_ids:
        rows = [{"application_id": a, "kind": kind, "context_json": "{}", "created_at": at} for a in application_ids]
        session.connection().execute(insert(DocumentDue.__table__), rows)  # type: ignore[attr-defined]  # SQLModel declares no __table__


def number(session: Session, kind: str, year: int, county: str) -> str:
    return next_number(session, f"document.{kind}", year, f"{county}{KINDS[kind]}字〔{{year}}〕第 {{n}} 号")


def store(session: Session, app: Application, kind: str, doc: dict[str, Any], key: SigningKey) -> str:
    """Sign ``doc`` (its number already in it), keep it and send it to the case's point; returns
    the downlink event that carries it."""
    text = seal_document(doc, key)
    document = Document(
        application_id=app.id, kind=kind, number=doc["number"], title=doc["title"], issued_at=doc["issued_at"], text=text, code=seal_code(text)
    )
    session.add(document)
    return queue_downlink(session, app.node_id, DOCUMENT_ISSUED, {"application_id": app.id, "kind": kind, "number": doc["number"], "text": text})


def documents_of(session: Session, application_id: str) -> list[Document]:
    return list(session.exec(select(Document).where(Document.application_id == application_id).order_by(col(Document.id))).all())


MAX_ID = 2**31 - 1  # the databases' INTEGER: a larger id is no row, not an overflow


def by_code(engine: Engine, code: str) -> Document | None:
    """The document a printed verification code names."""
    with Session(engine) as session:
        return session.exec(select(Document).where(Document.code == code.strip().upper())).first()


def get(engine: Engine, application_id: str, document_id: int) -> Document:
    with Session(engine) as session:
        document = session.get(Document, document_id) if 0 < document_id <= MAX_ID else None
    if document is None or document.application_id != application_id:
        raise NotFound("这个办件没有这份文书")
    return document
