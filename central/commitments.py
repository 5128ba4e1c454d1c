"""告知承诺制 (issue 19 item 7; the seed: 申请人书面承诺符合相关条件并进行公示，办事部门先予以办理，再相应
加强事后核查).

For an item the catalog marks (``commitment``: the materials it replaces, the post-check limit in
days, what the applicant commits to), the point takes the applicant's signed commitment instead of
those materials. At the hub:
- **decided at once**: ``decide_pending`` (the hub's downlink loop, which holds the key) accepts
  and approves such a case as soon as it arrives — 先予办理 — with its e-licence, and opens its
  post-check (事后核查) due ``check_days`` after;
- **published**: the commitments are listed on the public results page (承诺公示), the applicant's
  name masked;
- **post-checked**: a clerk of the item's department records the outcome before the due date:
  ``verified``, or ``false`` with the reason, which revokes the decision (its state becomes
  已撤销, its e-licence is marked revoked in the library, and the point is told with
  ``decision.revoked``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import COMMITMENT_MATERIAL, DECISION_REVOKED, parse_time
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from .actions import record_action
from .approval import approve_on_commitment, reason_given, tasks_of
from .clock import utcnow
from .db import transaction
from .departments import notify
from .downlink import queue_downlink
from .models import Application, CatalogItem, Licence, Material, PostCheck, User
from .procedure import move

BY = "告知承诺制（先予办理）"
OUTCOMES = {"verified": "核查属实", "false": "承诺不实"}


def commitment_of(item: CatalogItem | None) -> dict[str, Any] | None:
    commitment = json.loads(item.detail_json).get("commitment") if item is not None else None
    return commitment if isinstance(commitment, dict) else None


def decide_pending(engine: Engine, key: SigningKey) -> int:
    """Approve every commitment case that has arrived and is not yet decided; open its post-check."""
    done = 0
    with transaction(engine) as session:
        # a case with an intake problem (taken in where it may not be, a form that fails) waits for the clerk
        # and only with the signed commitment among its materials: the point's claim alone is not enough
        signed = select(Material.application_id).where(Material.material == COMMITMENT_MATERIAL)
        waiting = session.exec(
            select(Application)
            .where(
                col(Application.commitment).is_(True),
                Application.status == "received",
                Application.intake_problem == "",
                col(Application.id).in_(signed),
            )
            .limit(100)
        ).all()
        for app in waiting:
            commitment = commitment_of(session.get(CatalogItem, app.item_code))
            if commitment is None:  # (ingest takes a commitment only for an item marked for it)
                continue
            now = utcnow()
            approve_on_commitment(session, app, BY, now, key)
            session.add(
                PostCheck(
                    application_id=app.id,
                    department=app.department,
                    replaced_json=json.dumps(commitment["replaces"], ensure_ascii=False),
                    due_at=utcnow(timedelta(days=int(commitment["check_days"]))),
                )
            )
            record_action(session, "system", "case.approved_on_commitment", app.id, replaces=commitment["replaces"])
            done += 1
    return done


def post_checks(engine: Engine, user: User) -> list[tuple[PostCheck, Application]]:
    """The clerk's department's post-checks: open ones first, the soonest due first."""
    if user.role != "clerk" or not user.department:
        raise Forbidden("只有部门审批人员可以办理事后核查")
    with Session(engine) as session:
        rows = session.exec(
            select(PostCheck, Application)
            .join(Application, col(Application.id) == col(PostCheck.application_id))
            .where(PostCheck.department == user.department)
        ).all()
        return sorted(((c, a) for c, a in rows), key=lambda r: (r[0].state != "pending", r[0].due_at))


def record_outcome(engine: Engine, user: User, application_id: str, outcome: str, reason: str) -> PostCheck:
    """核查属实, or 承诺不实 with the reason: the decision is revoked and the point told."""
    if outcome not in OUTCOMES:
        raise InvalidInput("核查结果只能是“核查属实”或“承诺不实”", field="outcome")
    reason = reason_given(reason, "承诺不实须写明核查发现的情况，将告知申请人" if outcome == "false" else None)
    with transaction(engine) as session:
        check = session.get(PostCheck, application_id)
        if check is None:
            raise NotFound("没有这个办件的事后核查")
        if user.role != "clerk" or user.department != check.department:
            raise Forbidden("只能核查本部门的办件")
        if check.state != "pending":
            raise Conflict(f"这个办件已经核查过了（{OUTCOMES[check.state]}）")
        app = session.get(Application, application_id)
        assert app is not None
        now = utcnow()
        check.state, check.checked_by, check.checked_at, check.reason = outcome, user.username, now, reason
        session.add(check)
        record_action(session, user, f"postcheck.{outcome}", app.id, reason=reason)
        if outcome == "false":
            app.status = move(app.status, "revoke", "不能撤销")
            app.outcome = "revoked"
            app.decision_reason = f"告知承诺不实，撤销办理结果：{reason}"
            session.add(app)
            for licence in session.exec(select(Licence).where(Licence.application_id == app.id)).all():
                licence.revoked_at = now
                session.add(licence)
            queue_downlink(session, app.node_id, DECISION_REVOKED, {"application_id": app.id, "reason": reason, "by": user.display_name, "at": now})
            notify(session, app, tasks_of(session, app.id), "case.revoked")
        session.flush()
        session.expunge(check)
    return check


def overdue(check: PostCheck, now: str | None = None) -> bool:
    return check.state == "pending" and parse_time(check.due_at) < parse_time(now or utcnow())


def published(engine: Engine, limit: int = 200) -> list[dict[str, Any]]:
    """承诺公示: the commitments made, newest first — item, masked name, date, what was committed
    and what the post-check found; no ID, no address."""
    with Session(engine) as session:
        apps = session.exec(
            select(Application).where(col(Application.commitment).is_(True)).order_by(col(Application.submitted_at).desc()).limit(limit)
        ).all()
        items = {i.code: i for i in session.exec(select(CatalogItem).where(col(CatalogItem.code).in_({a.item_code for a in apps}))).all()}
        checks = {c.application_id: c for c in session.exec(select(PostCheck).where(col(PostCheck.application_id).in_([a.id for a in apps]))).all()}
    out = []
    for a in apps:
        commitment = commitment_of(items.get(a.item_code)) or {}
        check = checks.get(a.id)
        out.append(
            {
                "receipt_no": a.receipt_no,
                "item_name": a.item_name,
                "applicant": a.applicant_name[:1] + "*" * max(len(a.applicant_name) - 1, 1),
                "committed_on": a.submitted_at[:10],
                "commitment": commitment.get("text", ""),
                "replaces": commitment.get("replaces", []),
                "post_check": OUTCOMES.get(check.state, "核查中") if check else "待办理",
            }
        )
    return out
