"""The chaos run's hostile point: enrolled like any other, with a valid signing key and NATS
identity, driven by the harness instead of a node process — a stolen laptop or a dishonest
agent's script. It tries what tests/central/test_ownership.py and
tests/provisioning/test_nats_permissions.py try one by one, against live points mid-run."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import nats

from edge_node.settings import NodeIdentity, Settings
from provisioning.federation import LocalFederation
from sync_protocol import (
    GENESIS,
    Record,
    blob_subject,
    department_subject,
    downlink_subject,
    format_time,
    seal_next,
    seal_status,
    status_subject,
    uplink_subject,
)
from tests.support.polling import run_async

from .invariants import read


def is_answer(data: bytes) -> bool:
    """Whether a message on a watched subject is an answer that leaked there: empty (a status
    message) or a JSON object (JetStream's API answers). Genuine traffic there is signed bytes, whose
    Ed25519 signature comes first and starts with any byte, "{" too: judging by the first byte
    alone flagged one genuine downlink batch in 256 (the 30-minute soak of 2026-12-06 did)."""
    if not data:
        return True
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:  # not UTF-8, or not JSON: signed bytes
        return False


def _attacks(victim: str, app: str, receipt: str | None) -> list[tuple[str, dict]]:
    """Records that reach into ``victim``'s data: its case, its receipt, its id namespace."""
    attacks = [
        ("evaluation.given", {"application_id": app, "level": 1, "comment": "差"}),
        ("application.picked_up", {"application_id": app, "collector_name": "冒领", "agent": "agent"}),
        ("materials.attached", {"application_id": app, "material": "伪造", "sha256": "ab" * 32, "size": 3, "media_type": "image/jpeg"}),
        ("complaint.filed", {"complaint_id": f"{victim}-T000001", "text": "抢先占用投诉编号"}),
        ("complaint.filed", {"complaint_id": "evil-T000001", "text": "挂在别人的办件上", "application_id": app}),
        ("application.withdrawn", {"application_id": app, "reason": "x", "agent": "agent"}),
    ]
    if receipt:
        attacks.append(("fee.voided", {"fee_receipt_no": receipt, "reason": "x", "approved_by": "x", "agent": "agent"}))
    return attacks


class Hostile:
    def __init__(self, fed: LocalFederation, node_id: str) -> None:
        self.fed, self.node_id = fed, node_id
        self.sent = 0  # batches signed and sent
        self.requests = 0  # requests sent with another's subject as their reply subject
        self.leaks: list[str] = []  # answers that arrived on such a subject

    def batches(self, victim_db: Path, victim: str, rng: random.Random) -> list[bytes]:
        """Two batches, each one attack on ``victim``: signed with this point's own key, each at
        the start of its chain (the first is quarantined, so the chain never moves on)."""
        apps = read(victim_db, "SELECT id FROM applications ORDER BY created_at DESC LIMIT 20")
        if not apps:
            return []
        receipts = read(victim_db, "SELECT receipt_no FROM fee_receipts LIMIT 20")
        key = NodeIdentity.load(Settings(data_dir=self.fed.node_dir(self.node_id))).key
        now = format_time(datetime.now(UTC))
        out = []
        for kind, data in rng.sample(_attacks(victim, rng.choice(apps)["id"], rng.choice(receipts)["receipt_no"] if receipts else None), 2):
            self.sent += 1
            wire, _ = seal_next(self.node_id, "up", GENESIS, [Record(kind, f"{self.node_id}-r{self.sent}", now, data)], now, key)
            out.append(wire)
        return out

    def inject_replies(self, victim: str) -> list[bytes]:
        """Every request this point may send, with the reply subject set to a subject ``victim``,
        a department or the hub reads. Watched from the hub's account: a message there that is an
        answer (JSON from JetStream, or empty, a status) is a leak; genuine traffic is signed bytes.
        Returns what went onto this point's own uplink (the hub must quarantine each)."""
        me = self.node_id
        targets = [
            uplink_subject(victim),
            downlink_subject(victim),
            status_subject(victim),
            blob_subject(victim, "ef" * 32),
            department_subject("mzj"),
        ]
        key = NodeIdentity.load(Settings(data_dir=self.fed.node_dir(me))).key
        status = seal_status(
            {"node": me, "at": format_time(datetime.now(UTC)), "up_seq": 0, "outbox_depth": 0, "app_version": "x", "catalog_version": 1}, key
        )
        requests = [
            (f"$JS.API.CONSUMER.INFO.YIWANG_DOWN.node-{me}", b""),
            (f"$JS.API.CONSUMER.MSG.NEXT.YIWANG_DOWN.node-{me}", b'{"batch": 1, "no_wait": true}'),
            (uplink_subject(me), b""),  # its own uplink: stored, and quarantined by the hub
            (status_subject(me), status),
        ]
        uplinked: list[bytes] = []

        async def go() -> None:
            hub = await nats.connect(self.fed.nats_url, connect_timeout=5, max_reconnect_attempts=3, **self.fed.nats_options())
            evil = await nats.connect(self.fed.nats_url, connect_timeout=5, max_reconnect_attempts=3, **self.fed.nats_options(me))
            try:

                async def watch(msg) -> None:
                    if is_answer(msg.data):
                        self.leaks.append(f"{msg.subject}: {msg.data[:60]!r}")

                for target in targets:
                    await hub.subscribe(target, cb=watch)
                await hub.flush()
                for target in targets:
                    for subject, payload in requests:
                        if subject == uplink_subject(me):
                            payload = f"not a batch {len(uplinked)} {victim} {self.sent}".encode()
                            uplinked.append(payload)
                        await evil.publish(subject, payload, reply=target)
                        self.requests += 1
                await evil.flush()
                await asyncio.sleep(1.5)
            finally:
                await evil.close()
                await hub.close()

        try:
            run_async(go(), timeout=60)
        except (nats.errors.Error, OSError, TimeoutError):
            return []  # NATS restarting under another fault: nothing was sent, nothing to check
        return uplinked
