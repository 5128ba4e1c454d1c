"""Special procedures that stop a case's clock (行政许可法 第四十五条): a clerk whose department
holds the case's current stage starts one — 听证, 检验检测, 专家评审, 现场勘验, 公示 — with the
reason, and ends it when it is over. The days between do not count (central/clocks.py); the point
is told both, so the applicant hears how long the procedure takes, in writing, as art. 45 asks."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import CLOCK_RESUMED, CLOCK_SUSPENDED, unprintable
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from . import documents
from .actions import record_action
from .clock import utcnow
from .clocks import MAX_REASON, PAUSES
from .db import transaction
from .downlink import queue_downlink
from .models import Application, ApprovalTask, ClockPause, User
from .procedure import move

SPECIAL = tuple(k for k in PAUSES if k != "supplement")  # what a clerk may start


def _own_stage(session: Session, user: User, application_id: str, action: str) -> Application:
    """The case, if the clerk's department has a pending task in its current stage."""
    app = session.get(Application, application_id)
    if app is None:
        raise NotFound("没有找到这个办件")
    task = session.get(ApprovalTask, (application_id, user.department or ""))
    if user.role != "clerk" or task is None:
        raise Forbidden("只能处理本部门的办件")
    move(app.status, action, "不能中止或恢复计时")
    if task.stage != app.stage or task.status != "pending":
        raise Conflict("只有正在办理当前环节的部门可以中止或恢复计时")
    return app


def open_pause(session: Session, application_id: str) -> ClockPause | None:
    return session.exec(select(ClockPause).where(ClockPause.application_id == application_id, col(ClockPause.ended_at).is_(None))).first()


def suspend(engine: Engine, user: User, application_id: str, kind: str, reason: str) -> ClockPause:
    if kind not in SPECIAL:
        raise InvalidInput("请选择中止计时的特别程序：" + "、".join(PAUSES[k] for k in SPECIAL), field="kind")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"请说明需要{PAUSES[kind]}的原因和预计所需时间（不超过 {MAX_REASON} 字）", field="reason")
    if unprintable(reason):
        raise InvalidInput("原因中有无法打印的控制字符，请删除后重新输入", field="reason")
    with transaction(engine) as session:
        app = _own_stage(session, user, application_id, "suspend")
        if open_pause(session, app.id):
            raise Conflict("这个办件已在中止计时中：请先结束当前的特别程序")
        pause = ClockPause(application_id=app.id, kind=kind, reason=reason, started_at=utcnow(), started_by=user.username)
        session.add(pause)
        queue_downlink(
            session,
            app.node_id,
            CLOCK_SUSPENDED,
            {"application_id": app.id, "kind": kind, "name": PAUSES[kind], "reason": reason, "at": pause.started_at, "by": user.display_name},
        )
        documents.due(session, app.id, "suspension", procedure=kind, name=PAUSES[kind], reason=reason, at=pause.started_at)  # 书面告知 (第四十五条)
        record_action(session, user, "case.suspended", app.id, kind=kind, reason=reason)
    return pause


def resume(engine: Engine, user: User, application_id: str) -> ClockPause:
    with transaction(engine) as session:
        app = _own_stage(session, user, application_id, "resume")
        pause = open_pause(session, app.id)
        if pause is None or pause.kind not in SPECIAL:
            raise Conflict("这个办件没有进行中的特别程序")
        pause.ended_at, pause.ended_by = utcnow(), user.username
        session.add(pause)
        queue_downlink(
            session, app.node_id, CLOCK_RESUMED, {"application_id": app.id, "kind": pause.kind, "name": PAUSES[pause.kind], "at": pause.ended_at}
        )
        record_action(session, user, "case.resumed", app.id, kind=pause.kind)
    return pause
