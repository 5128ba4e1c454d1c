"""The hub's action log (操作留痕): who did what, when — in the same transaction as the action."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from weblayer.display import BEIJING

from .clock import utcnow
from .models import Application, AuditEntry, Department, Node, User


def record_action(session: Session, actor: User | str, action: str, target: str = "", **detail: Any) -> None:
    name = actor.username if isinstance(actor, User) else actor
    said = actor.display_name if isinstance(actor, User) else ACTORS.get(actor, "")
    body = json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else ""
    session.add(AuditEntry(at=utcnow(), actor=name, actor_name=said, action=action, target=target, detail=body))


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
ACTORS = {"system": "系统", "console": "本机命令行", "citizen": "群众"}  # system: what the hub does by itself
DETAIL_NAMES = {
    "kind": "类型",
    "name": "名称",
    "parent": "所属乡镇",
    "items": "事项",
    "valid_until": "有效至",
    "points_held": "暂停下行的服务点",
    "integration": "对接方式",
    "version": "版本",
    "year": "年份",
    "outcome": "结果",
    "follow_up": "回访",
    "metered": "按流量计费",
    "hours": "上传时段",
    "until": "旧身份有效至",
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


CHUNK = 5000  # ids per IN (…) lookup: PostgreSQL takes at most 65,535 parameters in one statement


def _lookup(session: Session, key: Any, value: Any, among: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    items = sorted(among)
    for n in range(0, len(items), CHUNK):
        found.update(dict(session.exec(select(key, value).where(key.in_(items[n : n + CHUNK]))).all()))
    return found


def search(engine: Engine, what: Filter, limit: int = 200) -> list[dict[str, Any]]:
    """Entries newest first, each with its action, person and object in words."""
    with Session(engine) as session:
        return readable(session, _found(session, what, limit))


def find(engine: Engine, what: Filter | None = None, limit: int = 200) -> list[AuditEntry]:
    """Entries newest first, as stored (the API: raw codes)."""
    with Session(engine) as session:
        return _found(session, what or Filter(), limit)


def _found(session: Session, what: Filter, limit: int) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if what.start:
        query = query.where(AuditEntry.at >= what.start)
    if what.end:
        query = query.where(AuditEntry.at < what.end)
    if what.action:
        query = query.where(or_(col(AuditEntry.action) == what.action, col(AuditEntry.action).startswith(what.action + ".")))
    if what.before_id:
        query = query.where(col(AuditEntry.id) < what.before_id)
    if what.actor:  # (autoescape: a typed % or _ is that character, not a wildcard matching everybody)
        named = select(User.username).where(col(User.display_name).contains(what.actor, autoescape=True))
        words = [k for k, v in ACTORS.items() if what.actor in v]
        query = query.where(
            or_(
                col(AuditEntry.actor).in_([what.actor, *words]),
                col(AuditEntry.actor).in_(named),
                col(AuditEntry.actor_name).contains(what.actor, autoescape=True),
            )
        )
    if what.target:  # a receipt number or part of one, a point (its cases too), a person
        wanted = what.target.strip()
        points = select(Node.id).where(or_(col(Node.id) == wanted, col(Node.name).contains(wanted, autoescape=True)))
        cases = select(Application.id).where(or_(col(Application.receipt_no).contains(wanted, autoescape=True), col(Application.node_id).in_(points)))
        people = select(User.username).where(col(User.display_name).contains(wanted, autoescape=True))
        target = col(AuditEntry.target)
        query = query.where(or_(target.contains(wanted, autoescape=True), target.in_(cases), target.in_(points), target.in_(people)))
    return list(session.exec(query).all())


def readable(session: Session, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    targets = {e.target for e in entries}
    actors = {e.actor for e in entries}
    receipts = _lookup(session, col(Application.id), col(Application.receipt_no), targets)
    people = _lookup(session, col(User.username), col(User.display_name), actors | targets)
    points = _lookup(session, col(Node.id), col(Node.name), actors | targets)
    departments = dict(session.exec(select(Department.code, Department.name)).all())
    details = {e.id: json.loads(e.detail) if e.detail else {} for e in entries}
    named = {v for d in details.values() for k, v in d.items() if k in ("parent", "township") and isinstance(v, str)}
    towns = _lookup(session, col(Node.id), col(Node.name), named)
    out = []
    for e in entries:
        detail = details[e.id]
        out.append(
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "actor_name": e.actor_name or people.get(e.actor) or ACTORS.get(e.actor) or points.get(e.actor) or e.actor,
                "action": e.action,
                "action_name": ACTION_NAMES.get(e.action, e.action),
                "target": e.target,
                "target_name": receipts.get(e.target) or points.get(e.target) or people.get(e.target) or e.target,
                "case_id": e.target if e.target in receipts else None,
                "detail": "；".join(
                    f"{DETAIL_NAMES.get(k, k)}：{_word(k, v, departments, towns)}" for k, v in detail.items() if v not in ("", None, [], {})
                ),
            }
        )
    return out


ROLE_NAMES = {"operator": "县级运维", "clerk": "部门审批员"}
KIND_NAMES = {"village": "村代办点", "township": "乡镇便民服务中心"}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")  # a backup's taken_at has +00:00


def _word(key: str, value: Any, departments: dict[str, str], points: dict[str, str]) -> str:
    if value is True or value is False:
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_word(key, v, departments, points) for v in value)
    if key == "department" and isinstance(value, str):
        return departments.get(value, value)
    if key == "role" and isinstance(value, str):
        return ROLE_NAMES.get(value, value)
    if key == "kind" and isinstance(value, str):
        return KIND_NAMES.get(value, value)
    if key in ("parent", "township") and isinstance(value, str):
        return points.get(value, value)
    if isinstance(value, str) and TIME.fullmatch(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    return str(value)
