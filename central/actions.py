"""The hub's action log (操作留痕): who did what, when — in the same transaction as the action."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .clock import utcnow
from .models import Application, AuditEntry, Node, User


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


# every action the hub logs, in the operator's words (tests/central/test_exports.py checks that
# each record_action in the code has one)
ACTION_NAMES = {
    "case.accepted": "受理",
    "case.not_accepted": "不予受理",
    "case.deemed_accepted": "视为受理（预审超时）",
    "case.supplement_requested": "退回补正",
    "case.approved": "批准",
    "case.denied": "不予批准",
    "case.approved_on_commitment": "告知承诺制当即批准",
    "case.suspended": "中止计时",
    "case.resumed": "恢复计时",
    "case.id_viewed": "查看完整身份证号",
    "case.shared_material": "调取共享材料",
    "case.township_approved": "乡镇审核通过",
    "case.township_denied": "乡镇审核不通过",
    "case.township_not_accepted": "乡镇不予受理",
    "card.yellow": "黄牌预警",
    "card.red": "红牌督办",
    "order.replied": "答复督办单",
    "order.escalated": "督办单升级",
    "postcheck.verified": "事后核查属实",
    "postcheck.false": "事后核查承诺不实",
    "material.original_requested": "调取原图",
    "person.looked_up": "一号申请查询",
    "licence.looked_up": "电子证照查询",
    "complaint.answered_first": "投诉初步答复",
    "complaint.answered_final": "投诉正式答复",
    "complaint.escalated": "投诉超时升级",
    "consultation.answered": "答复网上咨询",
    "evaluation.given": "群众评价",
    "evaluation.followed_up": "差评回访整改",
    "guidance.announcement_published": "发布公告",
    "guidance.announcement_withdrawn": "撤下公告",
    "guidance.faq_saved": "保存常见问题",
    "guidance.faq_withdrawn": "撤下常见问题",
    "catalog.published": "发布事项目录",
    "calendar.loaded": "导入节假日",
    "department.integration": "部门系统对接",
    "delegation.granted": "委托乡镇办理",
    "node.enrolment_code": "生成登记码",
    "node.replacement_code": "生成设备更换码",
    "node.revoked": "吊销服务点",
    "node.key_rotated": "服务点更换密钥",
    "node.link_mode": "设置按流量计费",
    "user.added": "新增账号",
    "user.changed": "修改账号",
    "user.password_reset": "重置密码",
    "hub.restored": "从备份恢复县中枢",
}
ACTORS = {"system": "系统", "citizen": "群众"}
DETAIL_NAMES = {
    "department": "部门",
    "reason": "理由",
    "role": "角色",
    "display_name": "姓名",
    "disabled": "停用",
    "stage": "环节",
    "township": "乡镇",
    "by": "办理人",
    "answer": "答复",
    "sha256": "文件",
    "material": "材料",
    "rule": "规则",
    "from_seq": "起始批次",
    "taken_at": "备份时间",
}


@dataclass(frozen=True)
class Filter:
    """What the action log page and its exports ask for; empty fields do not filter."""

    start: str = ""  # UTC bounds (the caller turns Beijing dates into these)
    end: str = ""
    actor: str = ""  # a username, or part of a person's name
    action: str = ""  # an action or its group ("case", "user", …)
    target: str = ""  # a receipt number, a node id, a username …
    before_id: int | None = None  # paging: entries older than this one


def search(engine: Engine, what: Filter, limit: int = 200) -> list[dict[str, Any]]:
    """Entries newest first, each with its action, person and object in words."""
    with Session(engine) as session:
        query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
        if what.start:
            query = query.where(AuditEntry.at >= what.start)
        if what.end:
            query = query.where(AuditEntry.at < what.end)
        if what.action:
            query = query.where(or_(col(AuditEntry.action) == what.action, col(AuditEntry.action).startswith(what.action + ".")))
        if what.before_id:
            query = query.where(col(AuditEntry.id) < what.before_id)
        if what.actor:
            named = session.exec(select(User.username).where(col(User.display_name).contains(what.actor))).all()
            query = query.where(col(AuditEntry.actor).in_([what.actor, *named]))
        if what.target:
            cases = session.exec(select(Application.id).where(Application.receipt_no == what.target.strip())).all()
            query = query.where(col(AuditEntry.target).in_([what.target.strip(), *cases]))
        entries = list(session.exec(query).all())
        return readable(session, entries)


def readable(session: Session, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    targets = {e.target for e in entries}
    receipts = dict(session.exec(select(Application.id, Application.receipt_no).where(col(Application.id).in_(targets))).all()) if targets else {}
    actors = {e.actor for e in entries}
    people = dict(session.exec(select(User.username, User.display_name).where(col(User.username).in_(actors))).all()) if actors else {}
    points = dict(session.exec(select(Node.id, Node.name).where(col(Node.id).in_(actors | targets))).all()) if entries else {}
    out = []
    for e in entries:
        detail = json.loads(e.detail) if e.detail else {}
        out.append(
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "actor_name": people.get(e.actor) or ACTORS.get(e.actor) or points.get(e.actor) or e.actor,
                "action": e.action,
                "action_name": ACTION_NAMES.get(e.action, e.action),
                "target": e.target,
                "target_name": receipts.get(e.target) or points.get(e.target) or e.target,
                "case_id": e.target if e.target in receipts else None,
                "detail": "；".join(f"{DETAIL_NAMES.get(k, k)}：{_word(v)}" for k, v in detail.items()),
            }
        )
    return out


def _word(value: Any) -> str:
    if value is True or value is False:
        return "是" if value else "否"
    return "—" if value is None else str(value)
