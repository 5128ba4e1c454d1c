"""Cases at the window: intake, pickup, and decisions arriving from the hub.
Each change commits together with its outbox event."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any, Mapping

from sync_protocol import APPLICATION_PICKED_UP, APPLICATION_RECEIVED

from .errors import Conflict, InvalidInput, NotFound
from .intake import validate_intake
from .store import Store, add_outbox, get_meta, next_counter, utcnow

STATUS_TEXT = {"submitted": "已受理，等待审批", "approved": "已批准，请通知申请人领取", "denied": "不予批准", "picked_up": "已领取"}


def submit_application(store: Store, form: Mapping[str, Any], agent: Mapping[str, str]) -> dict[str, Any]:
    """Validate, then write the application and its outbox event in one transaction."""
    items = {row["code"]: row for row in store.query("SELECT code, name, department_name FROM catalog_items")}
    intake = validate_intake(form, set(items))
    item = items[intake.item_code]
    with store.write() as conn:
        node_id = get_meta(conn, "node_id")
        receipt_no = f"{node_id}-{next_counter(conn, 'receipt'):06d}"
        now = utcnow()
        app = {
            "id": str(uuid.uuid4()),
            "receipt_no": receipt_no,
            "item_code": intake.item_code,
            "item_name": item["name"],
            "department_name": item["department_name"],
            "applicant_name": intake.applicant_name,
            "applicant_id_number": intake.applicant_id_number,
            "applicant_phone": intake.applicant_phone,
            "proxy_agent": agent["display_name"] if intake.by_proxy else "",
            "agent_username": agent["username"],
            "status": "submitted",
            "created_at": now,
        }
        conn.execute(f"INSERT INTO applications ({', '.join(app)}) VALUES ({', '.join('?' * len(app))})", tuple(app.values()))
        add_outbox(
            conn,
            APPLICATION_RECEIVED,
            {k: app[k] for k in ("receipt_no", "item_code", "item_name", "applicant_name", "applicant_id_number", "applicant_phone", "proxy_agent")}
            | {"application_id": app["id"], "agent": agent["username"]},
            at=now,
        )
    return app


def get_application(store: Store, application_id: str) -> sqlite3.Row:
    row = store.one("SELECT * FROM applications WHERE id = ?", (application_id,))
    if row is None:
        raise NotFound("没有找到这个办件")
    return row


def record_pickup(store: Store, application_id: str, collector_name: str, agent: Mapping[str, str]) -> sqlite3.Row:
    collector_name = collector_name.strip()
    if not collector_name:
        raise InvalidInput("请填写领取人姓名", field="collector_name")
    with store.write() as conn:
        row = conn.execute("SELECT status FROM applications WHERE id = ?", (application_id,)).fetchone()
        if row is None:
            raise NotFound("没有找到这个办件")
        if row["status"] not in ("approved", "denied"):
            raise Conflict("结果尚未送达本服务点，暂时不能办理领取")
        now = utcnow()
        conn.execute("UPDATE applications SET status = 'picked_up', picked_up_at = ?, picked_up_by = ? WHERE id = ?", (now, collector_name, application_id))
        add_outbox(conn, APPLICATION_PICKED_UP, {"application_id": application_id, "collector_name": collector_name, "agent": agent["username"]}, at=now)
    return get_application(store, application_id)


def apply_decision(conn: sqlite3.Connection, data: Mapping[str, Any]) -> None:
    """A decision from the hub (inside the downlink transaction). Applied once: a case that
    already carries a decision keeps it; a case already picked up keeps that status."""
    conn.execute(
        "UPDATE applications SET status = CASE WHEN status = 'submitted' THEN ? ELSE status END, "
        "decision_reason = ?, decided_by = ?, decided_at = ? WHERE id = ? AND decided_at IS NULL",
        (data["decision"], data.get("reason", ""), data["decided_by"], data["decided_at"], data["application_id"]),
    )
