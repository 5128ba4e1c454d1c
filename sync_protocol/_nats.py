"""Who may use which NATS subject: the permissions of a node's NATS identity, and the accounts
file the hub keeps for nats-server. Text in, text out; writing the file and reloading the server
is the hub's job.

A node's NATS identity is an nkey of its own (a ``U…`` public key, generated on the node beside
its batch-signing key). It may publish only its own uplink and attachment subjects and drive only
its own downlink consumer, and send its status (a request the hub answers); it may subscribe only
to its own reply inbox. It sees no other node's
traffic and cannot touch the streams.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from nacl.signing import SigningKey

from ._status import status_subject
from ._records import DEPARTMENT_STREAM, DOWNLINK_STREAM, blob_subject, department_subject, downlink_subject, uplink_subject

ACCOUNT = "YIWANG"
# The access list (the accounts file below) as the hub last wrote it, for the NATS servers of a
# cluster that do not share the hub's disk: a JetStream key-value bucket only the hub's identity
# may read, watched beside each such server by `yiwang hub nats --member` (provisioning/natsfollow.py).
ACCESS_BUCKET = "yiwang_access"
ACCESS_KEY = "accounts"
_NKEY_USER = re.compile(r"^U[A-Z2-7]{55}$")


def _crc16(data: bytes) -> int:
    """CRC-16/XMODEM, the checksum inside every nkey."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


_USER, _SEED = 20 << 3, 18 << 3  # nkey prefix bytes: base32 "U…" (user), "S…" (seed)


def _b32(data: bytes) -> str:
    return base64.b32encode(data + _crc16(data).to_bytes(2, "little")).decode().rstrip("=")


def user_seed_from_raw(raw: bytes) -> str:
    """The nkey seed (``SU…``) for 32 random bytes, as nats-py's ``nkeys_seed_str`` takes it."""
    if len(raw) != 32:
        raise ValueError("an nkey seed is 32 bytes")
    return _b32(bytes([_SEED | _USER >> 5, (_USER & 31) << 3]) + raw)


def user_nkey_from_seed(seed: str) -> str:
    """The public ``U…`` nkey of a user seed."""
    raw = base64.b32decode(seed.strip() + "=" * (-len(seed.strip()) % 8))
    if len(raw) != 36 or raw[0] != (_SEED | _USER >> 5) or _crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
        raise ValueError("not a NATS user nkey seed")
    return _b32(bytes([_USER]) + bytes(SigningKey(raw[2:34]).verify_key))


def is_user_nkey(text: str) -> bool:
    """True for a well-formed NATS user public nkey (``U`` + base32 of key and CRC)."""
    if not isinstance(text, str) or not _NKEY_USER.match(text):
        return False
    raw = base64.b32decode(text + "=" * (-len(text) % 8))
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    return len(body) == 33 and _crc16(body) == crc


def nats_servers(url: str) -> list[str]:
    """The server URLs in a NATS address as nodes and the hub are given it: one URL, or a
    cluster's as a comma-separated list (``tls://a:4700,tls://b:4700,tls://c:4700``)."""
    servers = [u.strip() for u in url.split(",") if u.strip()]
    if not servers:
        raise ValueError("no NATS server URL given")
    return servers


def inbox_prefix(node_id: str) -> str:
    """The node's private reply inbox: replies to it cannot be read by another node."""
    return f"_INBOX_{node_id}"


def downlink_consumer(node_id: str) -> str:
    return f"node-{node_id}"


def department_consumer(department: str) -> str:
    return f"dept-{department}"


def department_inbox_prefix(department: str) -> str:
    return f"_INBOX_dept-{department}"


def _consumer_rights(stream: str, consumer: str, filter_subject: str) -> list[str]:
    """Drive one pull consumer: create it (only the filtered form: the server checks that the
    filter equals the subject's), read its state, fetch and acknowledge."""
    api = f"$JS.API.CONSUMER.{{}}.{stream}.{consumer}"
    return [api.format("CREATE") + "." + filter_subject, api.format("INFO"), api.format("MSG.NEXT"), f"$JS.ACK.{stream}.{consumer}.>"]


def node_permissions(node_id: str) -> dict[str, dict[str, list[str]]]:
    own = [uplink_subject(node_id), blob_subject(node_id, ">"), status_subject(node_id)]
    return {
        "publish": {"allow": own + _consumer_rights(DOWNLINK_STREAM, downlink_consumer(node_id), downlink_subject(node_id))},
        "subscribe": {"allow": [inbox_prefix(node_id) + ".>"]},
    }


def department_permissions(department: str) -> dict[str, dict[str, list[str]]]:
    """A department's system reads its own case events and publishes nothing (it acts through the API)."""
    return {
        "publish": {"allow": _consumer_rights(DEPARTMENT_STREAM, department_consumer(department), department_subject(department))},
        "subscribe": {"allow": [department_inbox_prefix(department) + ".>"]},
    }


@dataclass(frozen=True)
class NatsUser:
    nkey: str
    node_id: str | None = None  # a node, scoped to its own subjects
    department: str | None = None  # a department's system, scoped to its case events
    # neither: the hub itself, with every subject of the account


def render_accounts(users: list[NatsUser]) -> str:
    """nats-server configuration for the ``accounts`` block: one JetStream account for the
    federation, the hub with full rights and each node scoped. (No one logs in to the system
    account; nats-server keeps its own.)"""
    lines = ["# written by the yiwang hub; every change is made there, not here", "accounts {", f"  {ACCOUNT} {{", "    jetstream: enabled", "    users: ["]
    for user in users:
        if not is_user_nkey(user.nkey):
            raise ValueError(f"not a NATS user nkey: {user.nkey!r}")
        entry: dict[str, object] = {"nkey": user.nkey}
        if user.node_id is not None:
            entry["permissions"] = node_permissions(user.node_id)
        elif user.department is not None:
            entry["permissions"] = department_permissions(user.department)
        who = f"node {user.node_id}" if user.node_id else f"department {user.department}" if user.department else "hub"
        lines.append(f"      {json.dumps(entry)}  # {who}")
    lines += ["    ]", "  }", "}", ""]
    return "\n".join(lines)
