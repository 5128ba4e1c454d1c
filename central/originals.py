"""The photo as taken, on a clerk's request (原图). Nodes send material photos optimised for the
link (edge_node/photos.py) and keep the original for their retention period; when a clerk cannot
read a detail, the request rides in the answer to the node's next status, the node queues the
original as a material of its own ("…（原图）", an ordinary materials.attached record and file,
sent even in metered mode), and says so in the status after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from weblayer.errors import Conflict, NotFound

from . import approval
from .actions import record_action
from .clock import utcnow
from .db import transaction
from .models import Material, OriginalRequest

SUFFIX = "（原图）"
PER_REPLY = 10  # requests named in one status answer (a status must stay small)


def request_original(engine: Engine, user: Any, application_id: str, sha256: str) -> OriginalRequest:
    """Ask the sending point for the original behind one material of a case the clerk may see."""
    app = approval.get_application(engine, user, application_id)  # the department check
    with transaction(engine) as session:
        material = session.exec(select(Material).where(Material.application_id == application_id, Material.sha256 == sha256)).first()
        if material is None:
            raise NotFound("这个办件没有这份材料")
        if not material.media_type.startswith("image/") or material.material.endswith(SUFFIX):
            raise Conflict("只有服务点压缩过的照片才有原图；这份材料本身就是原件")
        known = session.get(OriginalRequest, sha256)
        if known is not None and known.state != "gone":
            return known
        request = OriginalRequest(
            sha256=sha256,
            node_id=app.node_id,
            application_id=application_id,
            material=material.material,
            requested_by=getattr(user, "username", str(user)),
            requested_at=utcnow(),
        )
        session.merge(request)
        record_action(session, user, "material.original_requested", application_id, sha256=sha256, material=material.material)
    return request


def pending(session: Session, node_ids: list[str]) -> dict[str, list[str]]:
    """Per node, the sent copies whose originals it has yet to queue (for its status answer)."""
    out: dict[str, list[str]] = {}
    rows = session.exec(
        select(OriginalRequest.node_id, OriginalRequest.sha256)
        .where(col(OriginalRequest.node_id).in_(node_ids), OriginalRequest.state == "pending")
        .order_by(col(OriginalRequest.requested_at))
    ).all()
    for node_id, sha in rows:
        if len(out.setdefault(node_id, [])) < PER_REPLY:
            out[node_id].append(sha)
    return out


def note_answers(session: Session, node_id: str, answers: Any) -> None:
    """What the node's status says of requests: ``{"queued": [sha…], "gone": [sha…]}``."""
    if not isinstance(answers, dict):
        return
    for state in ("queued", "gone"):
        shas = [s for s in answers.get(state) or [] if isinstance(s, str)][:PER_REPLY]
        for request in session.exec(
            select(OriginalRequest).where(
                col(OriginalRequest.sha256).in_(shas), OriginalRequest.node_id == node_id, OriginalRequest.state == "pending"
            )
        ).all():
            request.state, request.answered_at = state, utcnow()
            session.add(request)


def requests_of(session: Session, application_id: str) -> dict[str, str]:
    """sha256 -> state, for the case page."""
    return dict(session.exec(select(OriginalRequest.sha256, OriginalRequest.state).where(OriginalRequest.application_id == application_id)).all())
