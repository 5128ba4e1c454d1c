"""Uplink ingest: verify, chain-check, apply and advance the node's cursor in ONE transaction.

The caller (sync.py) acks the NATS message only after ``ingest_batch`` returned, i.e. after the
commit; a crash before the ack means redelivery, which the cursor classifies as Duplicate.
Several workers (processes, machines) may ingest from the same consumer on PostgreSQL: each
transaction first locks the rows of the nodes it is about to advance (``SELECT … FOR UPDATE``).
Anything that fails verification or forks the chain is quarantined with its raw bytes and an
alert — in the same transaction — and never applied.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from sync_protocol import (
    APPLICATION_DISPATCHED,
    APPLICATION_PICKED_UP,
    APPLICATION_RECEIVED,
    APPLICATION_WITHDRAWN,
    APPOINTMENT_MADE,
    APPOINTMENT_UPDATED,
    APPOINTMENTS_OFFERED,
    COMPLAINT_FILED,
    CONSULTATION_RECORDED,
    DECISION_DELEGATED,
    EVALUATION_GIVEN,
    MATERIALS_ATTACHED,
    NODE_HEARTBEAT,
    NODE_KEY_ACCEPTED,
    NODE_KEY_ROTATED,
    NOTICE_GIVEN,
    RESEND_REQUEST,
    STAGE_DECIDED,
    SUPPLEMENT_PROVIDED,
    UNKNOWN_KIND,
    Accepted,
    ChainPos,
    Duplicate,
    Fork,
    Gap,
    IngestCursor,
    Record,
    Rejected,
    Verdict,
    is_user_nkey,
    node_from_subject,
    parse_time,
    verify_key_from_text,
    verify_key_to_text,
)

from . import appointments, documents, forms, ownership, services, sms, supervision
from .actions import record_action
from .approval import decide_township_stage
from .clock import utcnow
from .clocks import accepted_row, supplement_arrived
from .db import insert_rows, retry_conflicts, transaction
from .departments import integrated_departments, notify
from .downlink import queue_downlink
from .fees import FEE_KINDS, apply_fee_record
from .linkstatus import note_clock, note_heartbeat
from .models import (
    Alert,
    Application,
    ApprovalTask,
    CatalogItem,
    HeldBatch,
    Material,
    NatsCredential,
    Node,
    NodeKey,
    OneTimeNotice,
    Quarantine,
    ResendRequest,
    UplinkBatch,
)
from .natsauth import retire
from .procedure import OPEN, allowed, moved
from .stages import assign, deciders, is_township, lead_department, stages_of

log = logging.getLogger("yiwang.hub.ingest")
# how long a node's old NATS identity still works after it rotated (it switches when the hub's
# node.key_accepted reaches it, normally within seconds; a node offline longer tries the new one)
KEY_OVERLAP = timedelta(seconds=int(os.environ.get("YIWANG_KEY_OVERLAP_SECONDS", str(24 * 3600))))
RESEND_INTERVAL = timedelta(seconds=30)


def ingest_batch(engine: Engine, subject: str, raw: bytes, clock_offset_s: int | None = None) -> Verdict:
    """Classify and (if accepted) apply one uplink batch; see ``ingest_batches``."""
    return ingest_batches(engine, [(subject, raw, clock_offset_s)])[0]


def ingest_batches(engine: Engine, messages: list[tuple[str, bytes, int | None]]) -> list[Verdict]:
    """Classify and apply fetched uplink batches — (subject, raw, clock offset) each — in ONE
    transaction, each its own cursor step, and return their verdicts in order. One commit (one
    fsync) for a whole fetch instead of one per batch: the caller acks every message after this
    returns, so a crash before the commit redelivers them all and nothing is half-applied. A batch
    whose records fail to apply is quarantined inside its own savepoint without undoing the rest.
    ``clock_offset_s`` is the node's clock minus the stream's when the batch was published (see
    sync.py)."""
    return retry_conflicts(_ingest_all, engine, messages)


def _ingest_all(engine: Engine, messages: list[tuple[str, bytes, int | None]]) -> list[Verdict]:
    now = utcnow()
    with transaction(engine) as session:
        # Several workers may share the ingest consumer (PostgreSQL): lock the fetch's nodes first,
        # in id order so two workers never wait on each other in a cycle. A worker holding a
        # node's row is the only one reading or moving its cursor until it commits; the other then
        # reads the moved cursor and classifies its copy as Duplicate (or applies the next batch).
        # The strong references keep each node in the identity map: no reload per batch.
        ids = sorted({n for n in (node_from_subject(subject) for subject, _, _ in messages) if n})
        session.info["nodes"] = {
            n.id: n for n in session.exec(select(Node).where(col(Node.id).in_(ids)).order_by(col(Node.id)).with_for_update()).all()
        }
        # asked once per transaction, not per batch (each query was a few % of ingest time), and
        # after the locks, so no other worker can hold a batch for these nodes meanwhile:
        session.info["held"] = set(session.exec(select(HeldBatch.node_id).distinct()).all())  # nodes with batches waiting behind a gap
        session.info["catalog"] = {}  # catalog items by code, as far as looked up
        return [_ingest_one(session, subject, raw, offset, now) for subject, raw, offset in messages]


def _ingest_one(session: Session, subject: str, raw: bytes, clock_offset_s: int | None, now: str) -> Verdict:
    """One batch, then any held batches that now follow the node's cursor."""
    node_id = node_from_subject(subject)
    node = session.info["nodes"].get(node_id) if node_id else None
    if node is None or node.status != "enrolled":
        verdict: Verdict = Rejected("revoked" if node is not None else "unknown_node", f"subject {subject!r}")
        _quarantine(session, node_id, subject, raw, verdict, now)
        return verdict
    verdict = first = _receive(session, node, subject, raw, now)
    if verified(first):  # bytes anyone could have put on this subject say nothing of the point
        node.last_seen_at = now
        if clock_offset_s is not None:
            note_clock(session, node, clock_offset_s, now)
        session.add(node)
    while isinstance(verdict, Accepted) and node.id in session.info["held"]:
        held = session.get(HeldBatch, (node.id, node.up_seq + 1))
        if held is None:
            break
        session.delete(held)
        verdict = _receive(session, node, subject, held.raw, now)
    return first


def _receive(session: Session, node: Node, subject: str, raw: bytes, now: str) -> Verdict:
    cursor = IngestCursor(node.id, "up", verify_key_from_text(node.public_key), ChainPos(node.up_seq, node.up_head))

    def hash_at(seq: int) -> str | None:
        return session.exec(select(UplinkBatch.hash).where(UplinkBatch.node_id == node.id, UplinkBatch.seq == seq)).first()

    verdict = cursor.receive(raw, hash_at)
    if isinstance(verdict, Rejected) and verdict.reason == "bad_signature":
        verdict = _copy_signed_by_a_retired_key(session, node, raw, hash_at) or verdict
    if isinstance(verdict, Accepted):
        try:
            with session.begin_nested():
                _apply(session, node, verdict.batch.records, now)
        except ownership.Violation as exc:  # another point's data, or a contradiction: the sender's batch stops here
            verdict = Rejected(exc.reason, str(exc))
        except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError, SQLAlchemyError) as exc:
            # signed and linked, but applying it failed (an integer too large for the database
            # is an OverflowError): quarantine the batch and do not advance, so the node's
            # stream halts visibly instead of skipping its data, and no other batch is touched
            # a database error's text carries the statement's parameters (a resident ID): its first line only
            said = str(getattr(exc, "orig", None) or exc).splitlines()
            verdict = Rejected("invalid_record", f"{type(exc).__name__}: {said[0][:300] if said else ''}")
        else:
            insert_rows(session, UplinkBatch, [{"node_id": node.id, "seq": verdict.batch.seq, "hash": verdict.hash, "raw": raw, "received_at": now}])
            node.up_seq, node.up_head = verdict.new_pos.seq, verdict.new_pos.head
            session.add(node)
            session.flush()
    if isinstance(verdict, Gap):
        if session.get(HeldBatch, (node.id, verdict.got)) is None:
            session.add(HeldBatch(node_id=node.id, seq=verdict.got, raw=raw, received_at=now))
            session.info["held"].add(node.id)
        _request_resend(session, node.id, verdict.expected, now)
    if isinstance(verdict, (Rejected, Fork)):
        _quarantine(session, node.id, subject, raw, verdict, now)
    return verdict


def _copy_signed_by_a_retired_key(session: Session, node: Node, raw: bytes, hash_at: Callable[[int], str | None]) -> Duplicate | None:
    """A batch the hub applied before the point rotated its key, arriving again (a resend, a
    redelivery): it verifies with the key in force at its position, not today's, and is a
    duplicate, not a bad signature. Only an exact copy counts: a retired key (perhaps the stolen
    one) can never have anything new applied, or quarantined in its point's name."""
    for key in session.exec(select(NodeKey.public_key).where(NodeKey.node_id == node.id)).all():
        if key == node.public_key:
            continue
        verdict = IngestCursor(node.id, "up", verify_key_from_text(key), ChainPos(node.up_seq, node.up_head)).receive(raw, hash_at)
        if isinstance(verdict, Duplicate):
            return verdict
    return None


def _rotate_key(session: Session, node: Node, data: dict, now: str) -> None:
    """The batch carrying this record (the one being applied, seq up_seq + 1) was signed by the
    old key; the new key signs from the next one. The new NATS identity is let in now and the old
    one keeps working for KEY_OVERLAP, so a node that has not yet switched is not cut off."""
    public_key = verify_key_to_text(verify_key_from_text(data["public_key"]))
    nkey = data["nats_public_key"]
    if not is_user_nkey(nkey) or session.get(NatsCredential, nkey) is not None:
        raise ValueError("node.key_rotated: the NATS public key is malformed or already in use")
    from_seq = node.up_seq + 2
    until = utcnow(KEY_OVERLAP)
    retire(session, until, node_id=node.id)
    session.add(NatsCredential(nkey=nkey, node_id=node.id, created_at=now))
    session.merge(NodeKey(node_id=node.id, from_seq=from_seq, public_key=public_key, enrolled_at=now))
    node.public_key = public_key
    session.add(node)
    queue_downlink(
        session, node.id, NODE_KEY_ACCEPTED, {"public_key": public_key, "nats_public_key": nkey, "from_seq": from_seq, "old_key_until": until}
    )
    record_action(session, "system", "node.key_rotated", node.id, from_seq=from_seq, old_key_until=until)
    log.info("node %s rotated its key: new key from uplink seq %d, old NATS identity until %s", node.id, from_seq, until)


def ask_for_lost(engine: Engine, node_id: str, their_up_seq: int, stored: int | None) -> None:
    """The point sealed batches this hub has not applied, and the stream holds none of them (the
    hub was restored from an older backup; the messages were acknowledged before the restore):
    ask it to resend from the hub's cursor. A batch that does arrive after a hole asks the same
    (a gap), but a point with nothing new to send would never show one."""
    with transaction(engine) as session:
        node = session.get(Node, node_id)
        if node is None or node.status != "enrolled" or their_up_seq <= node.up_seq or (stored or 0) > node.up_seq:
            return
        _request_resend(session, node_id, node.up_seq + 1, utcnow())


def _request_resend(session: Session, node_id: str, from_seq: int, now: str) -> None:
    """Ask the node (on its signed downlink) to publish again from ``from_seq``; once per gap
    position, again only if the gap is still open after RESEND_INTERVAL."""
    last = session.get(ResendRequest, node_id)
    if last is not None and last.from_seq == from_seq and parse_time(last.requested_at) + RESEND_INTERVAL > parse_time(now):
        return
    queue_downlink(session, node_id, RESEND_REQUEST, {"from_seq": from_seq})
    session.merge(ResendRequest(node_id=node_id, from_seq=from_seq, requested_at=now))
    log.warning("gap on %s: asked the node to resend from seq %d", node_id, from_seq)


# Rejected reasons given only after the batch's signature verified with the point's key: the
# point sent it. Any other rejection (a bad signature, bytes too large or malformed to check) may
# come from anyone who can put bytes on the subject, e.g. a JetStream reply another point aimed
# at it (docs/security.md): it is quarantined under the subject, but the alert names no point.
SIGNED_REJECTIONS = {"invalid_record", "not_owner", "conflict", UNKNOWN_KIND, "wrong_stream"}


def verified(verdict: Verdict) -> bool:
    return not isinstance(verdict, Rejected) or verdict.reason in SIGNED_REJECTIONS


def _quarantine(session: Session, node_id: str | None, subject: str, raw: bytes, verdict: Verdict, now: str) -> None:
    reason = verdict.reason if isinstance(verdict, Rejected) else "fork"
    detail = verdict.detail if isinstance(verdict, Rejected) else f"seq {verdict.seq}: known {verdict.known}, got {verdict.got}"  # type: ignore[union-attr]
    session.add(Quarantine(node_id=node_id, subject=subject, reason=reason, detail=detail, raw=raw, received_at=now))
    if verified(verdict):
        session.add(Alert(kind=f"quarantine.{reason}", node_id=node_id, message=f"批次已隔离（{reason}）：{detail}", created_at=now))
    else:
        session.add(
            Alert(
                kind=f"quarantine.{reason}",
                node_id=None,
                created_at=now,
                message=f"{subject} 上出现未通过验证的字节（{reason}）：来源不明，已隔离，不算作该服务点的消息；{detail}",
            )
        )
    log.warning("quarantined batch on %s: %s %s", subject, reason, detail)


def _json_list(value: list | None) -> str:
    return json.dumps(value, ensure_ascii=False) if value else "[]"  # most have none: skip the encoder


def _apply(session: Session, node: Node, records: tuple[Record, ...], now: str) -> None:
    """Apply one batch's records. Lookups are one query per batch, not per record: per-record
    ``session.get`` autoflushed every row and made ingest 0.6% of raw SQLite (bench/ingest.py)."""
    received = [r for r in records if r.kind == APPLICATION_RECEIVED]
    ids = [r.data["application_id"] for r in received]
    table = Application.__table__.c  # type: ignore[attr-defined]
    # Core: a third the cost of the ORM query; what ownership.check_application compares
    held = (
        {
            row.id: row._asdict()
            for row in session.connection().execute(
                core_select(table.id, table.node_id, table.receipt_no, table.applicant_id_number, table.item_code).where(table.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    codes = {r.data["item_code"] for r in received}
    catalog = session.info["catalog"]
    if codes - catalog.keys():
        catalog.update(
            {i.code: (i, stages_of(i)) for i in session.exec(select(CatalogItem).where(col(CatalogItem.code).in_(codes - catalog.keys()))).all()}
        )
    if received and "integrated" not in session.info:
        session.info["integrated"] = integrated_departments(session)
    integrated = session.info.get("integrated", set())
    apps: list[dict] = []
    tasks: list[dict] = []
    to_assign: list[dict] = []  # cases whose first stage is the township's
    for record in received:
        data = record.data
        if not ownership.check_application(node.id, record, held.get(data["application_id"])):
            continue  # the same application again, unchanged: applied once
        held[data["application_id"]] = {"node_id": node.id} | {k: data[k] for k in ("receipt_no", "applicant_id_number", "item_code")}
        # routing: the hub's catalog decides the stages and their departments, not the node's claim
        item, stages = catalog.get(data["item_code"], (None, [{"name": "审批", "by": ["unrouted"]}]))
        row = {
            "id": data["application_id"],
            "node_id": node.id,
            "receipt_no": data["receipt_no"],
            "item_code": data["item_code"],
            "item_name": item.name if item else data.get("item_name", data["item_code"]),
            "department": lead_department(item, stages) if item else "unrouted",
            "stages_json": json.dumps(stages, ensure_ascii=False),
            "applicant_name": data["applicant_name"],
            "applicant_id_number": data["applicant_id_number"],
            "applicant_phone": data.get("applicant_phone", ""),
            "proxy_agent": data.get("proxy_agent", ""),
            "sms_consent": data.get("sms_consent") is True and bool(data.get("applicant_phone")),
            "home_visit": str(data.get("home_visit") or "")[:100],
            "materials_checked": _json_list(data.get("materials_checked")),
            "licences_json": _json_list(data.get("licences")),
            "submitted_at": record.at,
            "received_at": now,
            "updated_at": now,
        }
        if (
            data.get("accepted_by")
            and item is not None
            and node.kind == "township"
            and forms.item_detail(item.detail_json).get("accepts") == "township"
        ):
            # 受理 at the township window that took it in, under the county's delegation (accepts: township)
            row |= accepted_row(item, data["accepted_by"], record.at)
        if data.get("commitment"):  # 告知承诺制, only for an item the catalog marks for it
            if item is not None and forms.item_detail(item.detail_json).get("commitment"):
                row["commitment"] = True
            else:
                row["intake_problem"] = "申请人作了告知承诺，但本事项不实行告知承诺制：须核对全部材料"
        form = forms.form_for(session, item, data.get("catalog_version"))
        if form["fields"] or data.get("form"):  # checked again, as the point did, against the form it filled in
            row["form_json"] = json.dumps(data.get("form") or {}, ensure_ascii=False)
            row["intake_problem"] = "；".join(p for p in (row.get("intake_problem", ""), forms.problem_of(form, data.get("form"))) if p)
            row["form_version"] = data.get("catalog_version") or 0
        if wrong := forms.taken_in_wrongly(item, node.kind, bool(row["proxy_agent"])):
            row["intake_problem"] = "；".join(p for p in (wrong, row.get("intake_problem", "")) if p)
            # its own software refuses this: the point's software or its agent is not what it should be
            session.add(Alert(kind="intake.out_of_scope", node_id=node.id, created_at=now, message=f"{node.name} 收件 {data['receipt_no']}：{wrong}"))
        apps.append(row)
        routed = [{"application_id": row["id"], "department": d, "stage": i} for i, stage in enumerate(stages) for d in deciders(stage)]
        tasks.extend(routed)
        if is_township(stages[0]):
            to_assign.append(row)
        if integrated.intersection(t["department"] for t in routed):  # a department system hears of it (rare: build the objects)
            notify(session, Application(**row), [ApprovalTask(**t) for t in routed], "case.routed", integrated)
    if apps:
        # Core executemany, not one ORM object per row: building SQLModel objects was most of the
        # ingest time (bench/ingest.py). Inserted before the batch's other records, which may name them.
        insert_rows(session, Application, apps)
        insert_rows(session, ApprovalTask, tasks)
        # documents of record: a 收件回执, or a 受理通知书 for what a township window accepted at intake
        for kind in ("receipt", "acceptance"):
            documents.due_many(session, [a["id"] for a in apps if (a.get("status") == "accepted") == (kind == "acceptance")], kind, now)
        for row in to_assign:
            assign(session, Application(**row), now, from_intake=True)
    for record in records:
        if record.kind == APPLICATION_RECEIVED or not ownership.check(session, node.id, record):
            continue  # (an object already held, unchanged: applied once)
        handler = HANDLERS.get(record.kind)
        if handler is None:
            log.info("record kind %s from %s not handled yet; kept in the raw batch", record.kind, node.id)
            continue
        handler(session, node, record, now)


def _own_case(session: Session, node: Node, data: dict) -> Application | None:
    """The case a record names, if the sending point took it in (ownership.check has refused one
    of another point's already); None for a case the hub does not hold."""
    app = session.get(Application, data["application_id"])
    return app if app is not None and app.node_id == node.id else None


def _materials_attached(session: Session, node: Node, record: Record, now: str) -> None:
    data = record.data
    if session.get(Material, (data["application_id"], data["sha256"], data["material"])) is None:
        session.add(
            Material(
                application_id=data["application_id"],
                sha256=data["sha256"],
                material=data["material"],
                size=data["size"],
                media_type=data["media_type"],
                filename=data.get("filename", ""),
            )
        )


def _decision_delegated(session: Session, node: Node, record: Record, now: str) -> None:
    """An older township node's 即办件 decision on a case it took in: its township stage."""
    data = record.data
    app = _own_case(session, node, data)
    item = session.get(CatalogItem, app.item_code) if app is not None else None
    if app is None or item is None or not forms.item_detail(item.detail_json).get("instant") or node.kind != "township":
        raise ValueError(f"decision.delegated for {data['application_id']}: not an instant item delegated to this township")
    if app.status == "received":
        decide_township_stage(session, node.id, data | {"stage": app.stage}, now)


def _stage_decided(session: Session, node: Node, record: Record, now: str) -> None:
    decide_township_stage(session, node.id, record.data, now)


def _supplement_provided(session: Session, node: Node, record: Record, now: str) -> None:
    app = _own_case(session, node, record.data)
    if app is not None and app.status == "supplement_requested":
        app.status = moved(app.status, "provide_supplement")  # back in the clerk's queue; the new materials follow
        app.supplement_rounds += 1
        supplement_arrived(session, app, now)  # the pre-review starts again


def _dispatched(session: Session, node: Node, record: Record, now: str) -> None:
    app = _own_case(session, node, record.data)
    if app is not None:
        app.status = moved(app.status, "dispatch")
        app.handover = "courier"
        session.add(app)
        sms.dispatched(session, app)


def _picked_up(session: Session, node: Node, record: Record, now: str) -> None:
    data = record.data
    app = _own_case(session, node, data)
    # only a result (or a notice why not) can be handed over: a pickup of an undecided case changes nothing
    if app is None or app.delivered_at is not None or not (allowed(app.status, "pick_up") or allowed(app.status, "hand_over_notice")):
        return
    app.status = moved(moved(app.status, "pick_up"), "hand_over_notice")  # a notice why not: the outcome stays
    app.handover, app.handed_to_applicant = "pickup", bool(data.get("collector_is_applicant"))
    app.delivered_at = record.at
    session.add(app)
    sms.drop_held(session, app.id)  # collected: no "result ready" message any more
    # the signature and the 授权委托书 as the 送达回证 names them: materials of this case, or nothing
    held = {m.sha256 for m in session.exec(select(Material).where(Material.application_id == app.id)).all()}
    signature, authorisation = data.get("signature", ""), data.get("authorisation", "")
    context = {
        "collector_name": data["collector_name"],
        "collector_id_number": data.get("collector_id_number", ""),
        "signature": signature if signature in held else "",
        "authorisation": authorisation if authorisation in ("applicant", "proxy") or authorisation in held else "",
    }
    documents.due(session, app.id, "service", at=record.at, **context)  # 送达回证


def _evaluation(session: Session, node: Node, record: Record, now: str) -> None:
    data = record.data  # the point's rating screen; a rating given on the citizen's phone first stays
    app = _own_case(session, node, data)
    # a rating is 1 to 5 and comes after the result (the node's own check): anything else is kept nowhere
    if app is None or app.status in OPEN or data["level"] not in supervision.LEVELS:
        log.warning(
            "evaluation of %s from %s ignored: level %r, case %s", data["application_id"], node.id, data["level"], app.status if app else "unknown"
        )
        return
    supervision.evaluation_received(session, node.id, app.id, data["level"], data.get("comment", ""), record.at, "window")


def _notice(session: Session, node: Node, record: Record, now: str) -> None:
    data = record.data
    names = (data["item_code"], data["item_name"], data["applicant_name"], data["applicant_id_number"], data["agent"])
    missing = data["missing"]
    if any(len(n) > 200 for n in names) or len(missing) > 100 or not all(isinstance(m, str) and len(m) <= 200 for m in missing):
        raise ValueError(f"notice {data['notice_no']}: fields beyond what a point's intake takes")
    if session.get(OneTimeNotice, data["notice_no"]) is None:  # ownership: in the sender's namespace
        session.add(
            OneTimeNotice(
                notice_no=data["notice_no"],
                node_id=node.id,
                item_code=data["item_code"],
                item_name=data["item_name"],
                applicant_name=data["applicant_name"],
                applicant_id_number=data["applicant_id_number"],
                missing_json=_json_list(data["missing"]),
                agent=data["agent"],
                given_at=record.at,
            )
        )


def _complaint(session: Session, node: Node, record: Record, now: str) -> None:
    supervision.complaint_received(session, node.id, record.data, record.at, now)


def _data(apply: Callable[[Session, str, dict[str, Any], str], None]) -> Handler:
    """A handler that needs the point, the record's data and its time."""
    return lambda session, node, record, now: apply(session, node.id, record.data, record.at)  # when it happened at the point


def _heartbeat(session: Session, node: Node, record: Record, now: str) -> None:
    # an older node's heartbeat record (newer ones send a status instead, linkstatus.py)
    data = record.data
    note_heartbeat(session, node, data["app_version"], data["catalog_version"], data["outbox_depth"], record.at, now)


def _withdrawn(session: Session, node: Node, record: Record, now: str) -> None:
    log.info("application.withdrawn from %s for %s: kept in the raw batch (withdrawal is not offered yet)", node.id, record.data["application_id"])


def _fee(session: Session, node: Node, record: Record, now: str) -> None:
    apply_fee_record(session, node.id, record)


def _key_rotated(session: Session, node: Node, record: Record, now: str) -> None:
    _rotate_key(session, node, record.data, now)


# every uplink record kind and what applies it (application.received: in bulk, in _apply);
# tests/weblayer/test_state_machine.py checks that no kind is missing
Handler = Callable[[Session, Node, Record, str], None]
HANDLERS: dict[str, Handler] = {
    MATERIALS_ATTACHED: _materials_attached,
    DECISION_DELEGATED: _decision_delegated,
    STAGE_DECIDED: _stage_decided,
    SUPPLEMENT_PROVIDED: _supplement_provided,
    APPLICATION_DISPATCHED: _dispatched,
    APPLICATION_PICKED_UP: _picked_up,
    APPLICATION_WITHDRAWN: _withdrawn,
    EVALUATION_GIVEN: _evaluation,
    COMPLAINT_FILED: _complaint,
    NOTICE_GIVEN: _notice,
    NODE_HEARTBEAT: _heartbeat,
    NODE_KEY_ROTATED: _key_rotated,
    APPOINTMENTS_OFFERED: _data(appointments.offered),
    APPOINTMENT_MADE: _data(appointments.made),
    APPOINTMENT_UPDATED: _data(appointments.updated),
    CONSULTATION_RECORDED: _data(services.consultation_recorded),
}
HANDLERS.update(dict.fromkeys(FEE_KINDS, _fee))
