"""Node status at the hub: the latest word from each point, kept in place — not an audit record.

A node's status request (sync_protocol's ``seal_status``, on ``yiwang.status.<node>``) is its
heartbeat and its question "how far has my uplink, and my file, arrived?". Here it is verified
with the node's key and written over the node's row (versions, outbox depth, the link as the node
measures it, bytes per day, clock offset): an idle point costs the database one row updated in
place, never a row per minute. A backlog entry (``NodeHeartbeat``) is kept only when the depth
changed, for the rising-backlog alert. The answer (``reply_fields``) says what the hub applied;
sync.py adds what the stream holds and signs it.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from sync_protocol import COMPRESSION, MAX_STATUS_BYTES, NODE_STATUS_FIELDS, SyncError, open_status, parse_time, verify_key_from_text

from . import blobs, originals, recovery, sms
from .clock import utcnow
from .db import retry_conflicts, transaction
from .models import Alert, DownlinkBatch, Node, NodeHeartbeat, NodeKey
from .workdays import BEIJING

log = logging.getLogger("yiwang.hub.linkstatus")
BACKLOG_ALERT = 20  # outbox depth rising over three heartbeats past this: alert
HEARTBEATS_KEPT = 100
CLOCK_SKEW_S = 300  # a node clock this far off makes receipts and deadlines wrong: alert
MISSED_HEARTBEATS = 3  # a point is silent after this many of its heartbeat intervals without a word
MAX_INTERVAL_S = 24 * 3600  # a heartbeat interval a status may claim


def note_heartbeat(session: Session, node: Node, app_version: str, catalog_version: int, outbox_depth: int, at: str, now: str) -> None:
    """Versions and outbox depth for the dashboard; a growing backlog alerts. (From a status, or
    from an older node's ``node.heartbeat`` record.)"""
    changed = node.heartbeat_at is None or outbox_depth != node.outbox_depth
    node.app_version, node.catalog_version, node.outbox_depth, node.heartbeat_at = app_version, catalog_version, outbox_depth, now
    session.add(node)
    if not changed:
        return  # an idle point: nothing new to keep
    session.merge(NodeHeartbeat(node_id=node.id, at=at, outbox_depth=outbox_depth, clock_offset_s=node.clock_offset_s or 0))
    session.flush()
    recent = session.exec(
        select(NodeHeartbeat).where(NodeHeartbeat.node_id == node.id).order_by(col(NodeHeartbeat.at).desc()).limit(HEARTBEATS_KEPT + 1)
    ).all()
    for old in recent[HEARTBEATS_KEPT:]:
        session.delete(old)
    depths = [h.outbox_depth for h in recent[:4]]
    # alert once per rising run: the last three rose, and the run did not already rise before them
    rising = len(depths) >= 3 and depths[0] > depths[1] > depths[2] and depths[0] >= BACKLOG_ALERT
    if rising and not (len(depths) == 4 and depths[2] > depths[3] and depths[1] >= BACKLOG_ALERT):
        session.add(
            Alert(
                kind="backlog.growing",
                node_id=node.id,
                message=f"待上传积压持续增长（{depths[2]} → {depths[1]} → {depths[0]} 条）：服务点在联网，但批次没有送达，请检查该点网络和日志",
                created_at=now,
            )
        )


def note_set_aside(session: Session, node: Node, count: int, now: str) -> None:
    """Events the node set aside (no batch can carry them): alert when the number grows."""
    if count > node.set_aside:  # a high-water mark: set-aside events are never deleted at the node
        session.add(
            Alert(
                kind="records.set_aside",
                node_id=node.id,
                created_at=now,
                message=(
                    f"服务点有 {count} 条记录内容超出上限、无法上传，已在该点搁置（其后的记录照常送达）：请查看该点日志中 “cannot be sent” 一行，联系开发人员处理"
                ),
            )
        )
    node.set_aside = max(node.set_aside, count)


def note_needs_upgrade(session: Session, node: Node, what: str, now: str) -> None:
    """The node holds a downlink batch it is too old to apply: alert when that first happens."""
    kind = re.search(r"'([a-z][a-z0-9_.]{0,40})'", what)  # only the record kind, never the node's own prose
    what = kind.group(1) if kind else ("未知记录" if what else "")
    if what and not node.needs_upgrade:  # once per episode, whatever a status alternates between
        session.add(
            Alert(
                kind="node.needs_upgrade",
                node_id=node.id,
                created_at=now,
                message=(f"服务点软件版本过旧，县中枢下发的 {what} 记录它还不能处理：下发已暂停在这一批，请尽快升级该点软件，升级后自动继续"),
            )
        )
    node.needs_upgrade = what


def note_clock(session: Session, node: Node, offset: int, now: str) -> None:
    """Keep the node's clock offset; alert when it first drifts past CLOCK_SKEW_S."""
    was_skewed = node.clock_offset_s is not None and abs(node.clock_offset_s) > CLOCK_SKEW_S
    if abs(offset) > CLOCK_SKEW_S and not was_skewed:
        direction = "快" if offset > 0 else "慢"
        session.add(
            Alert(
                kind="clock.skew",
                node_id=node.id,
                message=f"节点时钟比县中枢{direction} {abs(offset)} 秒：收据和期限时间会出错，请校准该电脑时间",
                created_at=now,
            )
        )
    node.clock_offset_s = offset


def open_from_node(engine: Engine, node_id: str, raw: bytes, fields: dict[str, type], max_bytes: int) -> dict[str, Any]:
    """A signed request from an enrolled node (a county-wide lookup, central/lookup.py), verified
    as a status is; ValueError for a node not enrolled, SyncError for a request that does not verify."""
    with Session(engine) as session:
        node = session.get(Node, node_id)
        if node is None or node.status != "enrolled":
            raise ValueError(f"{node_id!r} is not an enrolled point")
        return _open(session, node, raw, fields, max_bytes)


def _open(
    session: Session, node: Node, raw: bytes, fields: dict[str, type] = NODE_STATUS_FIELDS, max_bytes: int = MAX_STATUS_BYTES
) -> dict[str, Any]:
    """Verify with the node's key, or — during a key rotation — one of its other enrolled keys."""
    keys = [node.public_key] + [
        k
        for k in session.exec(select(NodeKey.public_key).where(NodeKey.node_id == node.id).order_by(col(NodeKey.from_seq).desc()).limit(3)).all()
        if k != node.public_key
    ]
    error: SyncError | None = None
    for key in keys:
        try:
            return open_status(raw, verify_key_from_text(key), fields, node.id, max_bytes)
        except SyncError as exc:
            error = exc
    assert error is not None
    raise error


def receive_status(engine: Engine, node_id: str, raw: bytes, now: datetime | None = None) -> dict[str, Any] | None:
    """Verify and keep a node's status; return the reply's fields (None: unknown, revoked or not
    verifiable — no answer, which the node treats as "no hub to ask")."""
    return receive_statuses(engine, [(node_id, raw)], now)[0]


def receive_statuses(engine: Engine, statuses: list[tuple[str, bytes]], now: datetime | None = None) -> list[dict[str, Any] | None]:
    """The same for everything that arrived together, in ONE transaction: a province's 20,000
    points send 333 heartbeats a second, which one commit each would not keep up with."""
    return retry_conflicts(_receive_all, engine, statuses, now or datetime.now(UTC))


def _receive_all(engine: Engine, statuses: list[tuple[str, bytes]], now: datetime) -> list[dict[str, Any] | None]:
    stamp = utcnow()
    with transaction(engine) as session:
        # in id order, as ingest locks them: a status never waits on ingest in a cycle
        ids = sorted({node_id for node_id, _ in statuses})
        nodes = {n.id: n for n in session.exec(select(Node).where(col(Node.id).in_(ids)).order_by(col(Node.id)).with_for_update()).all()}
        wanted = originals.pending(session, ids)
        replies = []
        for node_id, raw in statuses:
            try:
                with session.begin_nested():  # one point's status that fails to apply never holds up the others'
                    replies.append(_receive(session, nodes.get(node_id), raw, now, stamp, wanted.get(node_id, [])))
            except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError, SQLAlchemyError) as exc:
                log.warning("status from %s not kept: %s", node_id, type(exc).__name__)
                replies.append(None)
        return replies


def _receive(session: Session, node: Node | None, raw: bytes, now: datetime, stamp: str, wanted: list[str]) -> dict[str, Any] | None:
    if node is None or node.status != "enrolled":
        return None
    node_id = node.id
    try:
        status = _open(session, node, raw)
    except SyncError as exc:
        log.warning("status from %s refused: %s", node_id, exc)
        return None
    try:
        note_clock(session, node, round((parse_time(status["at"]) - now).total_seconds()), stamp)
    except ValueError:
        pass
    note_heartbeat(session, node, status["app_version"][:40], _int(status["catalog_version"]), _int(status["outbox_depth"]), stamp, stamp)
    note_set_aside(session, node, _int(status.get("set_aside")), stamp)
    upgrade = status.get("needs_upgrade")
    note_needs_upgrade(session, node, upgrade[:200] if isinstance(upgrade, str) else "", stamp)
    node.last_seen_at = stamp
    node.heartbeat_interval_s = _int(status.get("interval_s"), MAX_INTERVAL_S)
    node.link_kbit_per_s = _int(status.get("kbit_per_s")) or node.link_kbit_per_s
    node.link_rtt_ms = _int(status.get("rtt_ms")) or node.link_rtt_ms
    node.bytes_up_today, node.bytes_down_today = _int(status.get("bytes_up_today")), _int(status.get("bytes_down_today"))
    node.files_waiting, node.file_bytes_waiting = _int(status.get("files_waiting")), _int(status.get("file_bytes_waiting"))
    node.compression = COMPRESSION if COMPRESSION in (status.get("compression") or []) else ""
    session.add(node)
    originals.note_answers(session, node_id, status.get("originals"))
    recovery.adopt_down_head(session, node, status.get("down_applied"), status.get("down_head"))
    sms.results_reached(session, node_id, status.get("down_applied"), stamp)  # 可领取: the point holds the result
    reply: dict[str, Any] = {
        "node": node_id,
        "up_applied": node.up_seq,
        "compression": [COMPRESSION],
        "metered": node.metered,
        "metered_hours": node.metered_hours,
        "files_paused": files_paused(node, now),
    }
    if wanted:
        reply["originals_wanted"] = wanted
    returns = recovery.wanted(session, node_id)
    if returns:
        reply["down_wanted"] = returns  # after a restore: the point's copies of downlink batches this hub lost
    file = status.get("file")
    if isinstance(file, dict) and isinstance(file.get("sha256"), str):
        reply["file"] = {"sha256": file["sha256"], "stored": blobs.uploaded(session, file["sha256"], node_id)}
    reply["down_sealed"] = node.down_seq  # the node compares it with its own cursor (down_from below)
    reply["_republished"] = _republish(session, node_id, status.get("down_from"), now)  # for sync.py: wake the downlink; not sent
    reply["_up_seq"] = status["up_seq"]  # for sync.py: whether to look in the stream; not sent
    reply["_all_published"] = _int(status["outbox_depth"]) == 0  # for sync.py: JetStream took every batch it sealed; not sent
    return reply


DOWNLINK_RESEND_BATCHES = 20  # republished per request
DOWNLINK_RESEND_INTERVAL = timedelta(seconds=60)  # per point, at most one request this often is answered
MAX_DOWNLINK_RESENDS = 3  # per batch: a point that asks again and again cannot grow its stream without bound
_last_resend: dict[str, datetime] = {}  # (one hub process answers statuses)


def _republish(session: Session, node_id: str, down_from: Any, now: datetime) -> int:
    """The node's downlink lags the hub's and nothing arrives (messages gone from the stream, or
    dropped by an older node): publish its stored batches again from ``down_from``. Bounded per
    request and per minute, so a point cannot make the hub flood its own link."""
    if not isinstance(down_from, int) or isinstance(down_from, bool) or down_from < 1:
        return 0
    last = _last_resend.get(node_id)
    if last is not None and now - last < DOWNLINK_RESEND_INTERVAL:
        return 0
    _last_resend[node_id] = now
    batches = session.exec(
        select(DownlinkBatch)
        .where(
            DownlinkBatch.node_id == node_id,
            col(DownlinkBatch.seq) >= down_from,
            col(DownlinkBatch.published_at).is_not(None),
            col(DownlinkBatch.resends) < MAX_DOWNLINK_RESENDS,
        )
        .order_by(col(DownlinkBatch.seq))
        .limit(DOWNLINK_RESEND_BATCHES)
    ).all()
    for batch in batches:
        batch.published_at, batch.resends = None, batch.resends + 1
        session.add(batch)
    if batches:
        log.warning("downlink of %s: republishing %d batches from seq %d at its request", node_id, len(batches), down_from)
    return len(batches)


INT_MAX = 2**31 - 1  # what a status may say of any count: PostgreSQL's INTEGER (2 GB of traffic a day reads as 2 GB)


def _int(value: Any, most: int = INT_MAX) -> int:
    """A status's number, clamped: a lie never breaks the row, the dashboard or the database."""
    return min(value, most) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def files_paused(node: Node, now: datetime) -> bool:
    """Metered mode: files go only in the operator's hours (Beijing time, ``HH-HH``) or when a
    clerk asked for one; records always go."""
    if not node.metered:
        return False
    try:
        start, end = (int(h) for h in (node.metered_hours or "").split("-"))
    except ValueError:
        return True  # metered with no hours: files only on request
    hour = now.astimezone(BEIJING).hour
    return not (start <= hour < end if start <= end else hour >= start or hour < end)


def silent(node: Node, now: datetime, silent_after: timedelta) -> bool:
    """A point is silent after MISSED_HEARTBEATS of its own heartbeat intervals without a word
    (a point that never said its interval: after ``silent_after``)."""
    if node.status != "enrolled":
        return False
    if node.last_seen_at is None:
        return True
    interval = min(node.heartbeat_interval_s, MAX_INTERVAL_S)
    limit = timedelta(seconds=MISSED_HEARTBEATS * interval) if interval else silent_after
    return now - parse_time(node.last_seen_at) > limit
