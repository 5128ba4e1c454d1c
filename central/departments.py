"""Departments that decide in their own approval system (docs/integration.md).

Such a department (``Department.integration == "nats"``) receives its cases on the JetStream
subject ``yiwang.dept.<code>.cases`` (stream YIWANG_DEPT) and posts its actions back through the
hub's JSON API with a service account of that department — the same calls, checks and audit
trail as a clerk in the browser. Events are queued in the transaction that causes them and
published with ``Nats-Msg-Id`` = event id, so a retry after a crash is dropped as a duplicate.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from weblayer.errors import Conflict, InvalidInput, NotFound

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .models import Application, ApprovalTask, Department, DepartmentEvent, NatsCredential, User
from .natsauth import check_nkey, retire
from .stages import case_stages

INTEGRATIONS = {"": "在一网中枢审批", "nats": "本部门审批系统（NATS 对接）"}


def case_payload(app: Application, tasks: list[ApprovalTask]) -> dict[str, Any]:
    """What a department's system needs to decide (it is on the county's internal network)."""
    return {
        "application_id": app.id,
        "receipt_no": app.receipt_no,
        "item_code": app.item_code,
        "item_name": app.item_name,
        "lead_department": app.department,
        "departments": [t.department for t in tasks],
        "stages": case_stages(app),  # central/stages.py: a department decides when the case is in its stage
        "stage": app.stage,
        "status": app.status,
        "applicant_name": app.applicant_name,
        "applicant_id_number": app.applicant_id_number,
        "applicant_phone": app.applicant_phone,
        "proxy_agent": app.proxy_agent,
        "materials_checked": json.loads(app.materials_checked),
        "submitted_at": app.submitted_at,
        "node_id": app.node_id,
        "materials_url": f"/api/applications/{app.id}",
    }


def integrated_departments(session: Session) -> set[str]:
    return set(session.exec(select(Department.code).where(Department.integration == "nats")).all())


def notify(session: Session, app: Application, tasks: list[ApprovalTask], event: str, integrated: set[str] | None = None) -> None:
    """Queue ``event`` for every integrated department with a task in this case (caller's
    transaction). Ingest passes ``integrated`` once per batch instead of a query per case."""
    integrated = integrated_departments(session) if integrated is None else integrated
    for task in tasks:
        if task.department in integrated:
            session.add(
                DepartmentEvent(
                    id=str(uuid.uuid4()),
                    department=task.department,
                    event=event,
                    application_id=app.id,
                    payload_json=json.dumps({"event": event, "case": case_payload(app, tasks)}, ensure_ascii=False),
                    created_at=utcnow(),
                )
            )


def set_integration(engine: Engine, operator: User, code: str, integration: str, nats_public_key: str | None = None) -> Department:
    """Switch a department to its own system (``nats``, with the NATS public key its system
    generated: it may read only its own case events) or back to the hub's workspace (its key is
    withdrawn). The caller applies the NATS access list (natsauth.apply)."""
    if integration not in INTEGRATIONS:
        raise InvalidInput("对接方式只能是空（在一网中枢审批）或 nats（本部门审批系统）", field="integration")
    nkey = check_nkey(nats_public_key or "") if integration == "nats" else None
    with transaction(engine) as session:
        dept = session.get(Department, code)
        if dept is None:
            raise NotFound(f"没有部门 {code}")
        holder = session.get(NatsCredential, nkey) if nkey else None
        if holder is not None and holder.department != code:
            raise Conflict("这个 NATS 公钥已属于其他节点或部门；请为本部门系统另行生成", field="nats_public_key")
        dept.integration = integration
        session.add(dept)
        now = utcnow()
        retire(session, now, department=code, keep=nkey)
        if nkey and holder is None:
            session.add(NatsCredential(nkey=nkey, department=code, created_at=now))
        elif holder is not None and holder.valid_until is not None:
            holder.valid_until = None  # the same key given back after the feed was switched off
            session.add(holder)
        record_action(session, operator, "department.integration", code, integration=integration, nats_public_key=nkey)
    return dept


def unpublished(engine: Engine, limit: int = 200) -> list[DepartmentEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(DepartmentEvent).where(col(DepartmentEvent.published_at).is_(None)).order_by(DepartmentEvent.created_at).limit(limit)
            ).all()
        )


def mark_published(engine: Engine, event_id: str) -> None:
    with transaction(engine) as session:
        event = session.get(DepartmentEvent, event_id)
        if event is not None and event.published_at is None:
            event.published_at = utcnow()
            session.add(event)
