"""一号申请 across the county (issue 19 item 6): a point asks what the county holds of one person —
their cases at every point and their e-licences — so the agent need not ask the citizen again, and
an e-licence from another township stands in for paper.

The request comes on the point's own subject (``yiwang.lookup.<node>``, which only that point may
use), signed with its key; the hub answers, signed with the hub key (sync_protocol seal_status,
MAX_LOOKUP_BYTES). What goes back is what the window needs and no more: for each case the point,
item, state and dates (no phone, no form, no materials); the e-licences in full (they are the
citizen's, and verify offline). Every lookup is in the action log, under the point, with the ID
masked, and each point may ask at most RATE lookups a minute (a dishonest agent cannot walk the
county's register).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from weblayer.display import mask_id

from .actions import record_action
from .db import transaction
from .models import Application, CatalogItem, Licence, Node
from .procedure import STATES

MAX_CASES = 20
MAX_LICENCES = 10
RATE = 30  # lookups per point per minute


class PerPointRate:
    """At most RATE lookups per point in any minute (the hub's answering loop, one process)."""

    def __init__(self, per_minute: int = RATE) -> None:
        self.per_minute = per_minute
        self.seen: defaultdict[str, deque[float]] = defaultdict(deque)

    def allow(self, node_id: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        recent = self.seen[node_id]
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return False
        recent.append(now)
        return True


def answer(engine: Engine, node_id: str, id_number: str) -> dict[str, Any]:
    """What the county holds of ``id_number``, for the point ``node_id``; logged."""
    id_number = id_number.strip().upper()
    with transaction(engine) as session:
        node = session.get(Node, node_id)
        if node is None or node.status != "enrolled":
            raise ValueError(f"lookup from {node_id!r}: not an enrolled point")
        apps = session.exec(
            select(Application).where(Application.applicant_id_number == id_number).order_by(col(Application.submitted_at).desc()).limit(MAX_CASES)
        ).all()
        licences = session.exec(  # a revoked result (a commitment found false) stands in for nothing
            select(Licence)
            .where(Licence.holder_id == id_number, col(Licence.revoked_at).is_(None))
            .order_by(col(Licence.issued_at).desc())
            .limit(MAX_LICENCES)
        ).all()
        points = {n.id: n.name for n in session.exec(select(Node).where(col(Node.id).in_({a.node_id for a in apps}))).all()}
        items = {
            i.code: i.name for i in session.exec(select(CatalogItem).where(col(CatalogItem.code).in_({lic.item_code for lic in licences}))).all()
        }
        record_action(session, node_id, "person.looked_up", mask_id(id_number), cases=len(apps), licences=len(licences))
        return {
            "id_number": id_number,
            "applicant_name": apps[0].applicant_name if apps else "",
            "cases": [
                {
                    "receipt_no": a.receipt_no,
                    "item_code": a.item_code,
                    "item_name": a.item_name,
                    "status": a.status,
                    "status_text": STATES.get(a.status, a.status),
                    "submitted_at": a.submitted_at,
                    "decided_at": a.decided_at or "",
                    "point": points.get(a.node_id, a.node_id),
                }
                for a in apps
            ],
            "licences": [
                {
                    "licence_no": lic.licence_no,
                    "item_code": lic.item_code,
                    "item_name": items.get(lic.item_code, lic.item_code),
                    "issued_at": lic.issued_at,
                    "text": lic.text,
                }
                for lic in licences
            ],
        }
