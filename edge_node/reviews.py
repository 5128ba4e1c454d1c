"""Township stages decided at the township node (central/stages.py), offline.

A case reaches a township's review list in one of two ways: the township took it in itself and
the item's first stage is the township's (from intake on, no hub needed), or the hub assigned a
case from a village point below it (``stage.assigned``). The township approver decides it here;
the decision goes up as ``stage.decided`` in the same transaction, signed with this node's key,
and the hub applies it only if this node is the case's township and the stage still open. A
decision that is the case's last (``final``: a 即办件, 宅基地) is its result; on the township's
own case it shows at once, ready to hand over.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from nacl.signing import SigningKey

from sync_protocol import STAGE_DECIDED, seal_delegated_licence, unprintable, verify_key_to_text
from weblayer.errors import Conflict, Forbidden, InvalidInput, NotFound

from .fees import unpaid_fen
from .store import Store, add_outbox, get_meta, next_counter, set_meta, utcnow

APPROVER = "township_approver"
# a township stage's decisions; 不予受理 only on a first stage not yet accepted (the township accepts, 行政许可法 第三十二条)
DECISIONS = {"approved": "同意（通过）", "denied": "不同意", "not_accepted": "不予受理"}
MAX_REASON = 500
MAX_STAGES = 100
COLUMNS = (
    "application_id",
    "stage",
    "stage_name",
    "final",
    "receipt_no",
    "item_code",
    "item_name",
    "from_node",
    "applicant_name",
    "applicant_id_number",
    "applicant_phone",
    "proxy_agent",
    "form_json",
    "materials_json",
    "submitted_at",
    "assigned_at",
)


def _insert(conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    conn.execute(f"INSERT OR IGNORE INTO reviews ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", tuple(row[c] for c in COLUMNS))


def apply_assignment(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """``stage.assigned`` from the hub (inside the downlink transaction); applied once."""
    _insert(
        conn,
        {
            "application_id": data["application_id"],
            "stage": data["stage"],
            "stage_name": data["stage_name"],
            "final": int(data["final"]),
            "receipt_no": data["receipt_no"],
            "item_code": data["item_code"],
            "item_name": data["item_name"],
            "from_node": data.get("from_node", ""),
            "applicant_name": data["applicant_name"],
            "applicant_id_number": data["applicant_id_number"],
            "applicant_phone": data.get("applicant_phone", ""),
            "proxy_agent": data.get("proxy_agent", ""),
            "form_json": json.dumps(data.get("form") or {}, ensure_ascii=False),
            "materials_json": json.dumps(data.get("materials_checked") or [], ensure_ascii=False),
            "submitted_at": data["submitted_at"],
            "assigned_at": utcnow(),
        },
    )


def first_stage_here(conn: sqlite3.Connection, app: Mapping[str, Any], item: Mapping[str, Any]) -> None:
    """At intake on a township node (inside its transaction): a case whose first stage is the
    township's goes on this node's review list at once."""
    stages = item.get("stages") or []
    if not stages or stages[0].get("by") != "township":
        return
    _insert(
        conn,
        {
            "application_id": app["id"],
            "stage": 0,
            "stage_name": stages[0]["name"],
            "final": int(len(stages) == 1),
            "from_node": get_meta(conn, "node_id"),
            "materials_json": app["materials_checked"],
            "submitted_at": app["created_at"],
            "assigned_at": app["created_at"],
        }
        | {
            k: app[k]
            for k in ("receipt_no", "item_code", "item_name", "applicant_name", "applicant_id_number", "applicant_phone", "proxy_agent", "form_json")
        },
    )


def pending(store: Store) -> list[sqlite3.Row]:
    return store.query("SELECT * FROM reviews WHERE status = 'pending' ORDER BY assigned_at")


def decided(store: Store, limit: int = 50) -> list[sqlite3.Row]:
    return store.query("SELECT * FROM reviews WHERE status != 'pending' ORDER BY decided_at DESC LIMIT ?", (limit,))


def get_review(store: Store, application_id: str, stage: int) -> sqlite3.Row:
    if not 0 <= stage < MAX_STAGES:  # (a number SQLite cannot hold is no stage either)
        raise NotFound("没有找到这个待审核的办件")
    row = store.one("SELECT * FROM reviews WHERE application_id = ? AND stage = ?", (application_id, stage))
    if row is None:
        raise NotFound("没有找到这个待审核的办件")
    return row


def may_refuse_acceptance(store: Store, review: sqlite3.Row) -> bool:
    """不予受理 is open on a first stage not yet accepted: a village's case the hub assigned, or this
    township's own case it did not accept at the window."""
    own = store.one("SELECT status FROM applications WHERE id = ?", (review["application_id"],))
    return review["stage"] == 0 and review["status"] == "pending" and (own is None or own["status"] == "submitted")


def apply_delegation(conn: sqlite3.Connection, certificate: str, doc: Mapping[str, Any]) -> None:
    """``delegation.granted`` (inside the downlink transaction, verified with the pinned hub key by
    the caller): this township may sign the results of its instant items itself from now on."""
    if doc["node_id"] != get_meta(conn, "node_id"):
        raise ValueError(f"a delegation for {doc['node_id']!r} sent to this node")
    set_meta(conn, "delegation", certificate)
    set_meta(conn, "delegation_doc", json.dumps(dict(doc), ensure_ascii=False))


def _result_on_the_spot(conn: sqlite3.Connection, review: sqlite3.Row, keys: Sequence[SigningKey], now: str) -> str | None:
    """The result of an instant item approved here, signed with this township's key under the
    hub's delegation (sync_protocol seal_delegated_licence), kept like a result from the hub; None
    when there is no delegation covering it yet (the hub's decision record then stands alone)."""
    certificate, doc = get_meta(conn, "delegation"), json.loads(get_meta(conn, "delegation_doc", "{}"))
    key = next((k for k in keys if verify_key_to_text(k.verify_key) == doc.get("public_key")), None)
    if not certificate or key is None or review["item_code"] not in doc["items"] or not doc["valid_from"] <= now <= doc["valid_until"]:
        return None
    node_id = get_meta(conn, "node_id")
    licence_no = f"YW-{node_id}-{next_counter(conn, 'licence'):06d}"
    text = seal_delegated_licence(
        {
            "licence_no": licence_no,
            "kind": "办理结果",
            "item_code": review["item_code"],
            "item_name": review["item_name"],
            "holder_name": review["applicant_name"],
            "holder_id": review["applicant_id_number"],
            "application_id": review["application_id"],
            "issued_at": now,
            "issuer": f"{doc['node_name']}（{doc['issuer']}授权当场办结）",
            "issuer_node": node_id,
        },
        key,
        certificate,
    )
    conn.execute(
        "INSERT INTO licences (licence_no, application_id, text, received_at) VALUES (?, ?, ?, ?)", (licence_no, review["application_id"], text, now)
    )
    return text


def decide(
    store: Store, application_id: str, stage: int, decision: str, reason: str, user: Mapping[str, str], keys: Sequence[SigningKey] = ()
) -> sqlite3.Row:
    """The township approver's decision on a stage; a 不同意 says why (it reaches the citizen)."""
    if user.get("role") != APPROVER:
        raise Forbidden("只有乡镇审批人可以办理乡镇审核环节")
    if decision not in DECISIONS:
        raise InvalidInput("审核意见只能是“同意”“不同意”或“不予受理”", field="decision")
    reason = reason.strip()
    if decision != "approved" and not reason:
        raise InvalidInput(f"{DECISIONS[decision]}必须写明理由，将告知申请人", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"理由不能超过 {MAX_REASON} 字", field="reason")
    if unprintable(reason):
        raise InvalidInput("理由中有无法打印的控制字符，请删除后重新输入", field="reason")
    if not 0 <= stage < MAX_STAGES:
        raise NotFound("没有找到这个待审核的办件")
    with store.write() as conn:
        row = conn.execute("SELECT * FROM reviews WHERE application_id = ? AND stage = ?", (application_id, stage)).fetchone()
        if row is None:
            raise NotFound("没有找到这个待审核的办件")
        if row["status"] != "pending":
            raise Conflict(f"这个环节已经办理过了（{DECISIONS.get(row['status'], row['status'])}），不能重复办理")
        now = utcnow()
        conn.execute(
            "UPDATE reviews SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE application_id = ? AND stage = ?",
            (decision, user["display_name"], now, reason, application_id, stage),
        )
        own = conn.execute("SELECT status FROM applications WHERE id = ?", (application_id,)).fetchone()
        if decision == "approved" and row["final"] and own is not None and (short := unpaid_fen(conn, application_id)):
            raise Conflict(f"本事项还有 {short // 100}.{short % 100:02d} 元费用未收（收费已作废或已退还）：收费后再办结，或不同意并说明理由")
        if decision == "not_accepted" and (stage != 0 or (own is not None and own["status"] != "submitted")):
            raise Conflict("只有受理前才能不予受理：这个办件已经受理，请填写审核意见")
        if own is not None and own["status"] in ("submitted", "accepted"):  # this township's own case: it knows at once
            if row["final"] or decision != "approved":
                conn.execute(
                    "UPDATE applications SET status = ?, decision = ?, decision_reason = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                    (decision, decision, reason, user["display_name"], now, application_id),
                )
            elif own["status"] == "submitted":
                conn.execute("UPDATE applications SET status = 'accepted', accepted_at = ? WHERE id = ?", (now, application_id))
        licence = _result_on_the_spot(conn, row, keys, now) if decision == "approved" and row["final"] else None
        add_outbox(
            conn,
            STAGE_DECIDED,
            {"application_id": application_id, "stage": stage, "decision": decision, "decided_by": user["display_name"], "decided_at": now}
            | ({"reason": reason} if reason else {})
            | ({"licence": licence} if licence else {}),
            at=now,
        )
    return get_review(store, application_id, stage)
