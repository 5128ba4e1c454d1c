"""Staged procedures: an item's procedure is a sequence of stages, each decided by one or more
county departments in parallel (并联审批) or by the township (docs/catalog.md).

A case's stages are frozen when it arrives (``Application.stages_json``): a catalog edit changes
the procedure of new cases only. Each stage's deciders get a task of that stage; the case is in
one stage at a time (``Application.stage``) and a department acts only on its stage's task. A
township stage is decided at the case's township node — the point itself if it is a township,
else the township above the village point (``Node.parent``) — offline, and sent up signed as
``stage.decided``; the hub assigns it there with ``stage.assigned`` when the case reaches it
(a township's own case of a township-first item is in its review list from intake on).
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from sync_protocol import STAGE_ASSIGNED

from .downlink import queue_downlink
from .models import Alert, Application, CatalogItem, Node

TOWNSHIP = "township"  # the decider of a township stage, as a task's department
Stage = dict[str, Any]  # {"name": "审核", "by": "township" | [department codes], "days": its own limit, optional}


def departments_of(item: CatalogItem) -> list[str]:
    """An item without stages (a catalog older than staged procedures): its departments, lead
    first, deciding in one parallel stage."""
    named = json.loads(item.detail_json).get("departments") or []
    return [item.department] + [d for d in named if d != item.department]


def stages_of(item: CatalogItem) -> list[Stage]:
    named = json.loads(item.detail_json).get("stages")
    if named:
        return [
            {"name": s["name"], "by": s["by"] if s["by"] == TOWNSHIP else list(s["by"])} | ({"days": int(s["days"])} if s.get("days") else {})
            for s in named
        ]
    return [{"name": "审批", "by": departments_of(item)}]


def describe(stages: list[Stage], names: dict[str, str]) -> str:
    """The procedure in one line for people: 乡镇初审 → 县残疾人联合会审核 → 县民政局审批."""
    return " → ".join(f"{'乡镇' if is_township(s) else '、'.join(names.get(d, d) for d in s['by'])}{s['name']}" for s in stages)


def deciders(stage: Stage) -> list[str]:
    return [TOWNSHIP] if stage["by"] == TOWNSHIP else list(stage["by"])


def is_township(stage: Stage) -> bool:
    return bool(stage["by"] == TOWNSHIP)


def lead_department(item: CatalogItem, stages: list[Stage]) -> str:
    """The county department a case is filed under: the item's own, unless a county first stage
    (whose lead accepts) does not name it; then that stage's first."""
    first = stages[0]
    return item.department if is_township(first) or item.department in first["by"] else first["by"][0]


def case_stages(app: Application) -> list[Stage]:
    """The stages the case runs: frozen when it arrived; one stage of its tasks for a case older
    than staged procedures."""
    return json.loads(app.stages_json) or [{"name": "审批", "by": []}]


def current(app: Application) -> Stage | None:
    stages = case_stages(app)
    return stages[app.stage] if app.stage < len(stages) else None


def at_township(app: Application) -> bool:
    stage = current(app)
    return stage is not None and is_township(stage)


def township_of(session: Session, node_id: str) -> Node | None:
    """The township node that decides township stages for a case taken in at ``node_id``."""
    node = session.get(Node, node_id)
    if node is None or node.kind == TOWNSHIP:
        return node
    return session.get(Node, node.parent) if node.parent else None


def assign(session: Session, app: Application, now: str, from_intake: bool = False) -> None:
    """The case reached a township stage: send it to its township to decide. A township's own case
    entering its first stage is already on its review list (edge_node/reviews.py): nothing to send."""
    township = township_of(session, app.node_id)
    if township is None or township.status != "enrolled":
        session.add(
            Alert(
                kind="stage.no_township",
                node_id=app.node_id,
                created_at=now,
                message=f"办件 {app.receipt_no} 到了乡镇环节，但收件的服务点没有所属乡镇（或已注销）：请在服务点管理中设置其所属乡镇",
            )
        )
        return
    if from_intake and township.id == app.node_id:
        return
    stages = case_stages(app)
    data = {
        "application_id": app.id,
        "receipt_no": app.receipt_no,
        "item_code": app.item_code,
        "item_name": app.item_name,
        "stage": app.stage,
        "stage_name": stages[app.stage]["name"],
        "final": app.stage == len(stages) - 1,
        "applicant_name": app.applicant_name,
        "applicant_id_number": app.applicant_id_number,
        "submitted_at": app.submitted_at,
        "from_node": app.node_id,
        "materials_checked": json.loads(app.materials_checked),
    }
    optional = {"applicant_phone": app.applicant_phone, "proxy_agent": app.proxy_agent, "form": json.loads(app.form_json)}
    queue_downlink(session, township.id, STAGE_ASSIGNED, data | {k: v for k, v in optional.items() if v})
