"""Operator follow-up on what citizens said: complaints answered within 24 hours, poor evaluations
(差评, level ≤ 2) followed up (整改). Each answer is kept with who and when, and audit-logged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from weblayer.errors import Conflict, InvalidInput, NotFound

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .models import Complaint, Evaluation, User

POOR = 2  # evaluation levels up to this one need a follow-up
ANSWER_WITHIN = timedelta(hours=24)  # a complaint's answer is due this long after its filing


def _text(value: str, message: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(message, field=field)
    if len(value) > 1000:
        raise InvalidInput("内容不能超过 1000 字", field=field)
    return value


def answer_complaint(engine: Engine, operator: User, complaint_id: str, answer: str) -> Complaint:
    answer = _text(answer, "请填写答复内容（如何处理、结果如何）", "answer")
    with transaction(engine) as session:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            raise NotFound("没有这条投诉")
        if complaint.answered_at:
            raise Conflict("这条投诉已经答复过")
        complaint.answer, complaint.answered_at, complaint.answered_by = answer, utcnow(), operator.username
        session.add(complaint)
        record_action(session, operator, "complaint.answered", complaint_id, answer=answer)
    return complaint


def follow_up_evaluation(engine: Engine, operator: User, application_id: str, note: str) -> Evaluation:
    note = _text(note, "请填写回访和整改情况", "follow_up")
    with transaction(engine) as session:
        evaluation = session.get(Evaluation, application_id)
        if evaluation is None:
            raise NotFound("这个办件没有评价")
        if evaluation.level > POOR:
            raise Conflict("只有差评需要整改回访")
        if evaluation.followed_up_at:
            raise Conflict("这条差评已经回访过")
        evaluation.follow_up, evaluation.followed_up_at, evaluation.followed_up_by = note, utcnow(), operator.username
        session.add(evaluation)
        record_action(session, operator, "evaluation.followed_up", application_id, note=note)
    return evaluation
