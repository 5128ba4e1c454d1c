"""The hub's action log (操作留痕): who did what, when — in the same transaction as the action."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .clock import utcnow
from .models import AuditEntry, User


def record_action(session: Session, actor: User | str, action: str, target: str = "", **detail: Any) -> None:
    name = actor.username if isinstance(actor, User) else actor
    session.add(
        AuditEntry(
            at=utcnow(), actor=name, action=action, target=target, detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else ""
        )
    )


def recent_actions(engine: Engine, limit: int = 200, target: str | None = None) -> list[AuditEntry]:
    with Session(engine) as session:
        query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        if target is not None:
            query = query.where(AuditEntry.target == target)
        return list(session.exec(query).all())
