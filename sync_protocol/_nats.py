"""Who may use which NATS subject: the permissions of a node's NATS identity, and the accounts
file the hub keeps for nats-server. Text in, text out; writing the file and reloading the server
is the hub's job.

A node's NATS identity is an nkey of its own (a ``U…`` public key, generated on the node beside
its batch-signing key), in a NATS account of its own. It may publish only its own uplink and
attachment subjects and drive only its own downlink consumer, and send its status (a request the
hub answers); it may subscribe only to its own reply inbox. It sees no other node's traffic,
cannot touch the streams, and no answer to its requests can land outside its own account.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

from nacl.signing import SigningKey

from ._records import DEPARTMENT_STREAM, DOWNLINK_STREAM, blob_subject, department_subject, downlink_subject, uplink_subject
from ._status import lookup_subject, status_subject

ACCOUNT = "YIWANG"
# The access list (the accounts file below) as the hub last wrote it, for the NATS servers of a
# cluster that do not share the hub's disk: a JetStream key-value bucket only the hub's identity
# may read, watched beside each such server by `yiwang hub nats --member` (provisioning/natsfollow.py).
ACCESS_BUCKET = "yiwang_access"
ACCESS_KEY = "accounts"
# How often to signal nats-server to reload a changed access list, RELOAD_GAP_S apart: nats-server
# (2.15) creates an account that is new in the file on the first reload but wires its imports
# only on the next one (every test that enrols a point after the server started fails without it).
RELOADS = 2
RELOAD_GAP_S = 0.5
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


_JS_API = "$JS.API."
_LOCAL_API = "yiwang.api."  # a point's own name for a JetStream API subject it imports (see render_accounts)


@dataclass(frozen=True)
class Service:
    """One subject the federation account (ACCOUNT) serves to a point's or department's account:
    a request to it, and the answers, cross between the two accounts and nowhere else."""

    subject: str  # what the client publishes (and its permission names)
    stream: bool = False  # answered by a stream of messages (a JetStream fetch), not a single reply
    source: str = ""  # the subject in the federation account, when not the same (the hub answers it)


def consumer_request_subject(owner: str) -> str:
    """Where the hub takes a request to create a consumer, for ``node.<id>`` or ``dept.<code>``.
    A point's create request is never JetStream's to answer: its body would choose the consumer's
    settings, and a push consumer with a deliver subject (or its idle heartbeats) would put
    messages on a subject the hub reads. The hub creates the consumer with its own settings and
    passes JetStream's answer back (central/sync.py)."""
    return f"yiwang.consumer.{owner}"


def _consumer_services(stream: str, consumer: str, filter_subject: str, owner: str) -> list[Service]:
    """Drive one pull consumer: create it (only the filtered form, made by the hub), read its
    state, fetch and acknowledge."""
    api = f"{_JS_API}CONSUMER.{{}}.{stream}.{consumer}"
    return [
        Service(api.format("CREATE") + "." + filter_subject, source=consumer_request_subject(owner)),
        Service(api.format("INFO")),
        Service(api.format("MSG.NEXT"), stream=True),
        Service(f"$JS.ACK.{stream}.{consumer}.>"),
    ]


def node_services(node_id: str) -> list[Service]:
    """Everything a node may ask of the federation: publish its own uplink and attachment
    subjects, send its status (a request the hub answers), drive its own downlink consumer."""
    own = [Service(uplink_subject(node_id)), Service(blob_subject(node_id, ">")), Service(status_subject(node_id)), Service(lookup_subject(node_id))]
    return own + _consumer_services(DOWNLINK_STREAM, downlink_consumer(node_id), downlink_subject(node_id), f"node.{node_id}")


def department_services(department: str) -> list[Service]:
    """A department's system reads its own case events and publishes nothing (it acts through the API)."""
    return _consumer_services(DEPARTMENT_STREAM, department_consumer(department), department_subject(department), f"dept.{department}")


def _local(subject: str) -> str:
    """The subject under which a point's account imports a service: a JetStream API subject is
    renamed (an account without JetStream answers ``$JS.API.>`` itself, 'not enabled')."""
    return _LOCAL_API + subject[len(_JS_API) :] if subject.startswith(_JS_API) else subject


def _permissions(services: list[Service], inbox: str) -> dict[str, dict[str, list[str]]]:
    allowed = [s.subject for s in services] + [_local(s.subject) for s in services if _local(s.subject) != s.subject]
    return {"publish": {"allow": allowed}, "subscribe": {"allow": [inbox + ".>"]}}


def node_permissions(node_id: str) -> dict[str, dict[str, list[str]]]:
    return _permissions(node_services(node_id), inbox_prefix(node_id))


def department_permissions(department: str) -> dict[str, dict[str, list[str]]]:
    return _permissions(department_services(department), department_inbox_prefix(department))


@dataclass(frozen=True)
class NatsUser:
    nkey: str
    node_id: str | None = None  # a node, scoped to its own subjects
    department: str | None = None  # a department's system, scoped to its case events
    # neither: the hub itself, with every subject of the account

    @property
    def account(self) -> str:
        """The NATS account this identity logs in to: the federation's for the hub, else one of
        the point's (or department's) own."""
        return f"NODE_{self.node_id}" if self.node_id else f"DEPT_{self.department}" if self.department else ACCOUNT

    def services(self) -> list[Service]:
        return node_services(self.node_id) if self.node_id else department_services(self.department) if self.department else []

    def permissions(self) -> dict[str, dict[str, list[str]]] | None:
        return node_permissions(self.node_id) if self.node_id else department_permissions(self.department) if self.department else None


def render_accounts(users: list[NatsUser]) -> str:
    """nats-server configuration for the ``accounts`` block.

    The hub's identities log in to the federation account (ACCOUNT, with JetStream). Every node
    and every department system logs in to an account of its own, which holds nothing but that
    identity and the services it imports from the federation account (``node_services``), each
    exported to that one account alone. A reply subject cannot cross accounts: whatever reply
    subject a point names on a request — another point's uplink, a department's feed — the
    answer (JetStream's, or the hub's) is delivered inside the point's own account, where no one
    else listens and no stream stores it (tests/provisioning/test_nats_permissions.py). Inside its account
    the identity keeps its old publish/subscribe permissions, and the ``$JS.API`` subjects an
    older node uses are mapped onto the imports, so nodes need no change, old or new. (No one
    logs in to the system account; nats-server keeps its own.)"""
    for user in users:
        if not is_user_nkey(user.nkey):
            raise ValueError(f"not a NATS user nkey: {user.nkey!r}")
    accounts: dict[str, list[NatsUser]] = {ACCOUNT: []}
    for user in users:
        accounts.setdefault(user.account, []).append(user)
    scoped = {name: members[0] for name, members in accounts.items() if name != ACCOUNT}

    lines = ["# written by the yiwang hub; every change is made there, not here", "accounts {"]
    for name, members in accounts.items():
        lines += [f"  {json.dumps(name)} {{"]
        owner = scoped.get(name)
        if owner is None:
            lines.append("    jetstream: enabled")
            exports = [
                {"service": s.source or s.subject, "accounts": [other]} | ({"response_type": "stream"} if s.stream else {})
                for other, who in scoped.items()
                for s in who.services()
            ]
            lines += ["    exports: ["] + [f"      {json.dumps(e)}" for e in exports] + ["    ]"]
        else:
            services = owner.services()
            imports = [
                {"service": {"account": ACCOUNT, "subject": s.source or s.subject}}
                | ({"to": _local(s.subject)} if _local(s.subject) != (s.source or s.subject) else {})
                for s in services
            ]
            lines += ["    imports: ["] + [f"      {json.dumps(i)}" for i in imports] + ["    ]"]
            mappings = {s.subject: _local(s.subject) for s in services if _local(s.subject) != s.subject}
            lines += ["    mappings: {"] + [f"      {json.dumps(k)}: {json.dumps(v)}" for k, v in mappings.items()] + ["    }"]
        lines.append("    users: [")
        for user in members:
            entry: dict[str, object] = {"nkey": user.nkey}
            if (permissions := user.permissions()) is not None:
                entry["permissions"] = permissions
            who = f"node {user.node_id}" if user.node_id else f"department {user.department}" if user.department else "hub"
            lines.append(f"      {json.dumps(entry)}  # {who}")
        lines += ["    ]", "  }"]
    lines += ["}", ""]
    return "\n".join(lines)
