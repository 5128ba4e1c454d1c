"""Citizens told of each step by SMS (issue 21 item 1), from the hub's outbox.

**When.** A step that tells the citizen something writes its message in its own transaction
(``queue``), so no step is told twice or lost: the documents of record (collected, supplement,
accepted, not accepted, decided: ``DOCUMENT_STEPS``, in central/document_texts.py), the result
reaching the point (``ready``: held until the point's status says it applied the downlink batch
carrying the decision, ``results_reached``), a courier dispatch (``dispatched``) and a
complaint's answers (``complaint_answered``). Only a case whose applicant agreed at the window
(``Application.sms_consent``: the point read the number back) gets them; a complaint's contact
number gets its answers (they gave it for that).

**What.** One template per step (``STEPS``): the item, the receipt number, the point, a date or a
result, never a name or an ID number. The gateway adds the county's signature (【示范县政务服务】).

**Sending** (``send_due``, the hub worker): a message is claimed (``sending``, a lease of
``LEASE``), handed to the gateway with its ``key`` as idempotency key, and recorded ``sent`` with
the gateway's id. A crash between the hand-over and the record leaves it ``sending``: after the
lease it is handed over again with the same key, which the gateway answers with the message it
already took (central/sms_gateways.py) — exactly once at the phone as long as the gateway honours
the key. A gateway that cannot take it now is asked again with backoff (``BACKOFF``) up to
``MAX_ATTEMPTS``; one that refuses it (a bad number) fails it at once; both leave the reason on
the case. No number gets more than ``PER_NUMBER`` in a window: later ones wait, never dropped.
The gateway's delivery reports (``report``) record ``delivered`` or ``failed``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from string import Formatter
from typing import Any, NamedTuple

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import format_time, parse_time

from .clock import utcnow
from .db import transaction
from .models import Alert, Application, DownlinkEvent, Node, SmsMessage

log = logging.getLogger("yiwang.hub.sms")

MOBILE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number: the only kind an SMS reaches


class Step(NamedTuple):
    label: str  # on the case page
    text: str  # the body; {params}


STEPS: dict[str, Step] = {
    "collected": Step("收件", "您申请的{item}（受理号{receipt_no}）已由{point}收件报送，预计{date}办结。"),
    "supplement": Step("补正", "您申请的{item}（受理号{receipt_no}）需补正：{materials}。请一次带齐到{point}。"),
    "accepted": Step("受理", "您申请的{item}（受理号{receipt_no}）已受理，承诺{date}办结。"),
    "not_accepted": Step("不予受理", "您申请的{item}（受理号{receipt_no}）不予受理，书面通知和理由请到{point}领取。"),
    "decided": Step("办结", "您申请的{item}（受理号{receipt_no}）办理结果：{result}。结果在{point}领取，到达时另行短信通知。"),
    "ready": Step("可领取", "您申请的{item}（受理号{receipt_no}）结果已到{point}，请带身份证件领取。"),
    "dispatched": Step("已寄出", "您申请的{item}（受理号{receipt_no}）结果已邮寄，请注意查收。"),
    "complaint_answered": Step("投诉答复", "您反映的问题已有{which}答复，请到{point}了解。"),
    "complaint_answered_online": Step("投诉答复", "您在网上反映的问题已有{which}答复，请凭查询码{token}在政务服务网查看。"),
    "verification": Step("验证码", "您的预约验证码是{code}，10分钟内有效，请勿告诉他人。"),
    "appointment_booked": Step("预约成功", "您已预约{when}到{point}（{window}）办理{item}。查看或取消预约请凭查询码{token}。"),
    "consultation_answered": Step("咨询答复", "您在网上的咨询已有答复，请凭查询码{token}在政务服务网查看。"),
}
SECRET_STEPS = ("verification",)  # their words are blanked once sent; not sent once expired
CODE_VALID = timedelta(minutes=10)  # a code's life (central/appointments.py)
# a document of record -> the step its issue tells the citizen of
DOCUMENT_STEPS = {
    "receipt": "collected",
    "supplement": "supplement",
    "acceptance": "accepted",
    "non_acceptance": "not_accepted",
    "decision": "decided",
}
STATUS_LABELS = {
    "held": "等结果送达代办点",
    "queued": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "delivered": "已送达",
    "failed": "发送失败",
    "dropped": "不再发送",
}
MATERIALS_CHARS = 40  # the supplement list in a message: longer ones end in 等 (the written notice has them all)

LEASE = timedelta(seconds=60)  # a claimed message not recorded by then is handed over again (same key)
BACKOFF = (30, 60, 300, 900, 3600, 3600 * 3, 3600 * 6)  # seconds before attempt 2, 3, …
MAX_ATTEMPTS = len(BACKOFF) + 1  # about 11 hours of trying, then failed with an alert
PER_NUMBER = ((timedelta(hours=1), 5), (timedelta(days=1), 10))  # at most n to one number within each window
HELD_FOR = timedelta(days=30)  # a result the point never confirmed (an older node): not announced after this


@dataclass(frozen=True)
class Outgoing:
    """What a gateway is handed (central/sms_gateways.py)."""

    key: str  # idempotency key: the same message handed over again carries the same key
    phone: str
    step: str
    params: dict[str, str]
    text: str  # the body, without the signature


class SmsRetry(Exception):
    """The gateway cannot take the message now (unreachable, busy, 5xx): ask again later."""


class SmsRefused(Exception):
    """The gateway will never take this message (a bad number, a blocked template)."""


def mobile(phone: str) -> bool:
    return bool(MOBILE.match(phone))


def queue(
    session: Session,
    key: str,
    step: str,
    phone: str,
    params: Mapping[str, str],
    application_id: str | None = None,
    node_id: str | None = None,
    after_event: str | None = None,
) -> bool:
    """Write the message of ``step`` in the caller's transaction: once per ``key`` (a step told
    again is not sent again), only to a mobile number. ``after_event``: held until the point has
    that downlink event. True when written."""
    if not mobile(phone) or session.exec(select(SmsMessage.id).where(SmsMessage.key == key)).first() is not None:
        return False
    fields = {name for _, name, _, _ in Formatter().parse(STEPS[step].text) if name}
    values = {k: str(v) for k, v in params.items() if k in fields}  # what the template says, nothing more
    now = utcnow()
    session.add(
        SmsMessage(
            key=key,
            application_id=application_id,
            node_id=node_id,
            step=step,
            phone=phone,
            params_json=json.dumps(values, ensure_ascii=False),
            text=STEPS[step].text.format(**values),
            status="held" if after_event else "queued",
            after_event=after_event,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def for_case(session: Session, app: Application, key: str, step: str, after_event: str | None = None, **params: str) -> bool:
    """``queue`` for a case whose applicant agreed to SMS; the case's item and number go in."""
    if not app.sms_consent:
        return False
    values = {"item": app.item_name, "receipt_no": app.receipt_no} | params
    return queue(session, key, step, app.applicant_phone, values, application_id=app.id, node_id=app.node_id, after_event=after_event)


def materials_text(names: list[str]) -> str:
    text = "、".join(names)
    return text if len(text) <= MATERIALS_CHARS else text[: MATERIALS_CHARS - 1] + f"…等{len(names)}项"


def by_date(iso: str) -> str:
    """A promised date as a message says it: 12月20日前 (this year's, or the next's: a limit is weeks)."""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return "承诺时限内"
    return f"{day.month}月{day.day}日前"


def point_name(session: Session, node_id: str) -> str:
    node = session.get(Node, node_id)
    return node.name if node else node_id


def dispatched(session: Session, app: Application) -> None:
    """The point sent the result by courier: say so, and the held ``ready`` is not needed."""
    for_case(session, app, f"dispatched:{app.id}", "dispatched")
    drop_held(session, app.id)


def drop_held(session: Session, application_id: str) -> None:
    for held in session.exec(select(SmsMessage).where(SmsMessage.application_id == application_id, SmsMessage.status == "held")).all():
        held.status, held.error = "dropped", "结果已交付"
        session.add(held)


def complaint_answered(session: Session, complaint_id: str, node_id: str, contact: str, app: Application | None, final: bool) -> None:
    """A complaint's answer: to the number the complainant gave, else to its case's consenting applicant."""
    number = contact.strip() if mobile(contact.strip()) else (app.applicant_phone if app is not None and app.sms_consent else "")
    params = {"which": "正式" if final else "初步", "point": point_name(session, node_id)}
    stage = "final" if final else "first"
    queue(session, f"complaint:{complaint_id}:{stage}", "complaint_answered", number, params, application_id=app.id if app else None, node_id=node_id)


def results_reached(session: Session, node_id: str, down_applied: Any, now: str) -> int:
    """The point's status says it applied its downlink up to ``down_applied``: the held ``ready``
    messages whose result it now holds go out (a case handed over meanwhile needs none)."""
    if not isinstance(down_applied, int) or isinstance(down_applied, bool):
        return 0
    held = session.exec(select(SmsMessage).where(SmsMessage.status == "held", SmsMessage.node_id == node_id)).all()
    if not held:
        return 0
    seqs = dict(session.exec(select(DownlinkEvent.id, DownlinkEvent.batch_seq).where(col(DownlinkEvent.id).in_([h.after_event for h in held]))).all())
    released = 0
    for message in held:
        app = session.get(Application, message.application_id) if message.application_id else None
        seq = seqs.get(message.after_event or "")
        if app is None or app.delivered_at is not None or app.handover:
            message.status, message.error = "dropped", "结果已交付"
        elif seq is not None and seq <= down_applied:
            message.status, message.next_attempt_at = "queued", now
            released += 1
        else:
            continue
        session.add(message)
    return released


def _resume_interrupted(engine: Engine) -> None:
    with transaction(engine) as session:
        for message in session.exec(select(SmsMessage).where(SmsMessage.status == "sending")).all():
            message.next_attempt_at = utcnow()
            session.add(message)
            log.warning("SMS %s was being handed over when the hub stopped; handing it over again with the same key", message.key)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF)) - 1])


def same_kind(step: str) -> Any:
    """The messages a number's share counts with one of ``step``: codes with codes, the steps of
    cases with each other — so codes asked for by anyone never hold back a citizen's news."""
    return col(SmsMessage.step).in_(SECRET_STEPS) if step in SECRET_STEPS else col(SmsMessage.step).not_in(SECRET_STEPS)


def _limit_wait(session: Session, phone: str, step: str, now: datetime) -> datetime | None:
    """When ``phone`` may get its next message like ``step``, if it has had its share of a window; else None."""
    for window, most in PER_NUMBER:
        since = format_time(now - window)
        times = session.exec(
            select(SmsMessage.attempted_at)
            .where(SmsMessage.phone == phone, same_kind(step), col(SmsMessage.attempted_at) >= since)
            .where(col(SmsMessage.status).in_(("sending", "sent", "delivered")))
            .order_by(col(SmsMessage.attempted_at))
        ).all()
        if len(times) >= most:
            return parse_time(times[len(times) - most] or since) + window  # when the oldest that counts leaves the window
    return None


def claim(engine: Engine, limit: int = 20) -> list[Outgoing]:
    """Take the messages due now (oldest first) for sending: each ``sending`` under a lease, or
    put off to when its number may get one; held ones past ``HELD_FOR`` are dropped."""
    now_dt = parse_time(utcnow())
    now = format_time(now_dt)
    out: list[Outgoing] = []
    with transaction(engine) as session:
        stale = session.exec(
            select(SmsMessage).where(SmsMessage.status == "held", col(SmsMessage.created_at) < format_time(now_dt - HELD_FOR)).limit(100)
        ).all()
        for message in stale:
            message.status, message.error = "dropped", "代办点未确认收到结果"
            session.add(message)
        due = session.exec(
            select(SmsMessage)
            .where(col(SmsMessage.status).in_(("queued", "sending")), col(SmsMessage.next_attempt_at) <= now)
            .order_by(col(SmsMessage.next_attempt_at), col(SmsMessage.id))
            .limit(limit)
        ).all()
        for message in due:
            if message.step in SECRET_STEPS and parse_time(message.created_at) + CODE_VALID < now_dt:
                message.status, message.error = "dropped", "验证码已过期，不再发送"
                session.add(message)
                continue
            if message.status == "queued":
                wait = _limit_wait(session, message.phone, message.step, now_dt)
                if wait is not None:
                    message.next_attempt_at = format_time(wait)
                    session.add(message)
                    continue
            if message.attempts >= MAX_ATTEMPTS:  # a lease that ran out on the last attempt
                _give_up(session, message, message.error or "网关多次无应答", now)
                continue
            message.status, message.attempts, message.attempted_at = "sending", message.attempts + 1, now
            message.next_attempt_at = format_time(now_dt + LEASE)
            session.add(message)
            session.flush()  # the per-number count of the next one sees this one
            out.append(Outgoing(message.key, message.phone, message.step, json.loads(message.params_json), message.text))
    return out


def _give_up(session: Session, message: SmsMessage, error: str, now: str) -> None:
    message.status, message.error = "failed", error[:200]
    session.add(message)
    session.add(
        Alert(kind="sms.failed", node_id=message.node_id, message=f"短信（{STEPS[message.step].label}）未能发出：{error}"[:500], created_at=now)
    )


def record(engine: Engine, key: str, provider_id: str | None = None, retry: str | None = None, refused: str | None = None) -> None:
    """What the gateway said of a claimed message: taken (``provider_id``), ``retry`` later, or ``refused``."""
    with transaction(engine) as session:
        message = session.exec(select(SmsMessage).where(SmsMessage.key == key)).first()
        if message is None or message.status != "sending":
            return
        now = utcnow()
        if provider_id is not None:
            message.status, message.provider_id, message.sent_at, message.error = "sent", provider_id[:100], now, ""
            if message.step in SECRET_STEPS:  # sent: the code is no one's business any more, here included
                message.params_json, message.text = "{}", STEPS[message.step].text.replace("{code}", "******")
        elif refused is not None:
            _give_up(session, message, refused, now)
            return
        elif message.attempts >= MAX_ATTEMPTS:
            _give_up(session, message, retry or "", now)
            return
        else:
            message.status, message.error = "queued", (retry or "")[:200]
            message.next_attempt_at = format_time(parse_time(now) + backoff(message.attempts))
        session.add(message)


def send_due(engine: Engine, gateway: Any, limit: int = 20) -> int:
    """Claim what is due and hand it to ``gateway`` one by one (blocking: run it in a thread);
    returns how many were handed over."""
    batch = claim(engine, limit)
    for message in batch:
        try:
            provider_id = gateway.send(message)
        except SmsRefused as exc:
            log.warning("SMS %s refused by the gateway: %s", message.key, exc)
            record(engine, message.key, refused=str(exc) or "网关拒收")
        except SmsRetry as exc:
            log.info("SMS %s not taken now (%s); will retry", message.key, exc)
            record(engine, message.key, retry=str(exc) or "网关暂时不可用")
        except Exception as exc:  # a gateway's own failure: this message waits, the others go on
            log.exception("SMS %s: the gateway failed", message.key)
            record(engine, message.key, retry=f"网关出错：{type(exc).__name__}")
        else:
            record(engine, message.key, provider_id=provider_id)
    return len(batch)


POLL_S = 5.0  # how often the sender looks for messages due (a clerk's action is told within seconds)


async def run(engine: Engine, gateway: Any, poll_s: float = POLL_S) -> None:
    """The sender, beside the hub's sync worker and independent of NATS: until cancelled. What a
    killed sender left ``sending`` goes again at once, with its key (one sender per hub)."""
    await asyncio.to_thread(_resume_interrupted, engine)
    while True:
        try:
            handed = await asyncio.to_thread(send_due, engine, gateway)
        except Exception:  # the database away for a moment: log it, keep the sender alive
            log.exception("SMS sender failed; trying again in %g s", poll_s)
            handed = 0
        if not handed:
            await asyncio.sleep(poll_s)


REPORT_STATES = {"delivered": "delivered", "failed": "failed"}  # what a delivery report may say


def report(engine: Engine, reports: list[Mapping[str, Any]]) -> int:
    """The gateway's delivery reports: ``{id, status: delivered | failed, error?}`` where ``id``
    is our key or the gateway's id. Unknown ids are ignored; returns how many were recorded."""
    recorded = 0
    with transaction(engine) as session:
        for item in reports:
            ident, state = str(item.get("id") or ""), REPORT_STATES.get(str(item.get("status") or ""))
            if not ident or state is None:
                continue
            message = session.exec(select(SmsMessage).where((SmsMessage.key == ident) | (SmsMessage.provider_id == ident))).first()
            if message is None or message.status not in ("sent", "sending", "delivered", "failed"):
                continue
            now = utcnow()
            message.status = state
            if state == "delivered":
                message.delivered_at, message.error = str(item.get("at") or now)[:40], ""
            else:
                message.error = str(item.get("error") or "未送达")[:200]
            session.add(message)
            recorded += 1
    return recorded


def of_case(engine: Engine, application_id: str) -> list[dict[str, Any]]:
    """The case's messages as its page and API show them (the number masked)."""
    with Session(engine) as session:
        rows = session.exec(select(SmsMessage).where(SmsMessage.application_id == application_id).order_by(col(SmsMessage.id))).all()
    return [
        {
            "step": m.step,
            "step_label": STEPS[m.step].label,
            "phone": m.phone[:3] + "****" + m.phone[-4:],
            "status": m.status,
            "status_label": STATUS_LABELS.get(m.status, m.status),
            "text": m.text,
            "attempts": m.attempts,
            "created_at": m.created_at,
            "sent_at": m.sent_at,
            "delivered_at": m.delivered_at,
            "error": m.error,
        }
        for m in rows
    ]


def backlog(engine: Engine) -> dict[str, int]:
    """Messages by status, for the dashboard and metrics."""
    with Session(engine) as session:
        return dict(session.exec(select(SmsMessage.status, func.count()).group_by(SmsMessage.status)).all())
