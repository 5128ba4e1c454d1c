"""On-the-spot results at the township (即办件; 行政许可法 第三十四条: a decision made on the spot
where the application is complete and lawful). The hub delegates to each township centre's
signing key the issuing of the results of its instant items: a certificate signed by the hub key
(sync_protocol ``seal_delegation``) naming the township, its current public key, the instant items
and a validity, sent down as ``delegation.granted``. The township then signs the result itself,
offline, and anyone holding the hub's public key verifies it (``open_licence``).

``renew`` runs in the hub's downlink loop (the process that holds the hub key): a township gets a
new certificate when it has none, when its key rotated, when the instant items changed, and a week
before the current one lapses. A revoked township gets none, and its last lapses within VALIDITY.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from nacl.signing import SigningKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import (
    DELEGATION_GRANTED,
    RESULT_ISSUED,
    SyncError,
    delegation_in,
    open_township_licence,
    parse_time,
    seal_delegation,
    verify_key_from_text,
)

from .actions import record_action
from .clock import utcnow
from .db import transaction
from .downlink import queue_downlink
from .models import Application, CatalogItem, Delegation, Licence, Node

ISSUER = "县级政务服务中枢"
VALIDITY = timedelta(days=30)
RENEW_BEFORE = timedelta(days=7)
MAX_LICENCE_CHARS = 8 * 1024  # a delegated result is about 1.5 KB; it is passed on to the village point


def instant_items(session: Session) -> list[str]:
    items = session.exec(select(CatalogItem)).all()
    return sorted(i.code for i in items if (d := json.loads(i.detail_json)).get("instant") and not d.get("withdrawn"))


def latest(session: Session, node_id: str) -> Delegation | None:
    return session.exec(select(Delegation).where(Delegation.node_id == node_id).order_by(col(Delegation.issued_at).desc())).first()


def renew(engine: Engine, key: SigningKey) -> int:
    """Grant every enrolled township the delegation it lacks; return how many were granted."""
    granted = 0
    with transaction(engine) as session:
        items = instant_items(session)
        if not items:
            return 0
        now = utcnow()
        for node in session.exec(select(Node).where(Node.kind == "township", Node.status == "enrolled")).all():
            current = latest(session, node.id)
            if (
                current is not None
                and current.public_key == node.public_key
                and json.loads(current.items_json) == items
                and parse_time(current.valid_until) - RENEW_BEFORE > parse_time(now)
            ):
                continue
            until = utcnow(VALIDITY)
            doc = {
                "kind": "即办件当场办结授权",
                "node_id": node.id,
                "node_name": node.name,
                "public_key": node.public_key,
                "items": items,
                "valid_from": now,
                "valid_until": until,
                "issuer": ISSUER,
            }
            certificate = seal_delegation(doc, key)
            sha = hashlib.sha256(certificate.encode()).hexdigest()
            session.add(
                Delegation(
                    sha256=sha,
                    node_id=node.id,
                    public_key=node.public_key,
                    items_json=json.dumps(items),
                    valid_from=now,
                    valid_until=until,
                    certificate=certificate,
                    issued_at=now,
                )
            )
            queue_downlink(session, node.id, DELEGATION_GRANTED, {"certificate": certificate})
            record_action(session, "system", "delegation.granted", node.id, items=items, valid_until=until)
            granted += 1
    return granted


def issued_by_hub(session: Session, certificate: str) -> Delegation | None:
    """The delegation a township's result carries, if the hub issued it."""
    return session.get(Delegation, hashlib.sha256(certificate.encode()).hexdigest())


def keep_township_result(session: Session, app: Application, township: Node, text: str) -> None:
    """A township's on-the-spot result for ``app`` (a stage.decided's ``licence``), in the ingest
    transaction: signed by the key named in a delegation the hub issued to that township, of this
    case, its applicant and its item, within the delegation — what every point checks offline. Kept in the library and sent to the
    village point that took the case in; anything else is refused (the township's batch stops)."""
    if len(text) > MAX_LICENCE_CHARS:
        raise ValueError(f"stage decision for {app.id}: the result is {len(text)} characters; at most {MAX_LICENCE_CHARS}")
    try:
        delegation = issued_by_hub(session, delegation_in(text))
        if delegation is None or delegation.node_id != township.id:
            raise ValueError(f"stage decision for {app.id}: the result carries no delegation the hub issued to this township")
        doc = open_township_licence(text, verify_key_from_text(delegation.public_key))
    except SyncError as exc:
        raise ValueError(f"stage decision for {app.id}: the result does not verify: {exc}") from None
    expected = {"issuer_node": township.id, "application_id": app.id, "holder_id": app.applicant_id_number, "item_code": app.item_code}
    if (
        any(doc.get(k) != v for k, v in expected.items())
        or app.item_code not in json.loads(delegation.items_json)
        or not delegation.valid_from <= doc["issued_at"] <= delegation.valid_until
        or re.fullmatch(rf"YW-{re.escape(township.id)}-\d+", str(doc["licence_no"]))
        is None  # exactly its own numbers: `qing` cannot use `YW-qing-shan-…`
    ):
        raise ValueError(f"stage decision for {app.id}: the result is not one this township's delegation covers")
    if session.exec(select(Licence).where(Licence.licence_no == doc["licence_no"])).first() is not None:
        return
    session.add(
        Licence(
            licence_no=doc["licence_no"],
            holder_id=app.applicant_id_number,
            holder_name=app.applicant_name,
            item_code=app.item_code,
            application_id=app.id,
            issued_at=doc["issued_at"],
            text=text,
        )
    )
    if app.node_id != township.id:
        queue_downlink(session, app.node_id, RESULT_ISSUED, {"application_id": app.id, "licence_no": doc["licence_no"], "licence": text})
