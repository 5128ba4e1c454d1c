"""Who nats-server lets in: the hub keeps the server's accounts file (``<hub dir>/nats/accounts.conf``,
included by the ``nats.conf`` that `yiwang hub init` wrote) equal to the credentials in its
database, and signals the server to reload it. nats-server then closes the connections of any
identity no longer listed — a revoked node is cut off within seconds, not at its next reconnect.

Call ``apply`` after every change to NatsCredential or to a node's status; it writes and reloads
only when the file's content changes, so calling it often costs one query.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync_protocol import RELOAD_GAP_S, RELOADS, NatsUser, is_user_nkey, render_accounts, user_nkey_from_seed
from weblayer.errors import InvalidInput

from .clock import utcnow
from .models import NatsCredential, Node

log = logging.getLogger("yiwang.hub.natsauth")
_lock = threading.Lock()


def hub_nkey(nats_dir: Path) -> str | None:
    path = nats_dir / "hub.nk"
    if not path.exists():
        return None
    return user_nkey_from_seed(path.read_text())


def check_nkey(nkey: str, field: str = "nats_public_key") -> str:
    nkey = (nkey or "").strip()
    if not is_user_nkey(nkey):
        raise InvalidInput("NATS 公钥格式不正确（应为以 U 开头的 56 位 nkey）", field=field)
    return nkey


def retire(session: Session, until: str, node_id: str | None = None, department: str | None = None, keep: str | None = None) -> None:
    """End the NATS identities of a node or a department at ``until`` (now: a replaced device, a
    withdrawn department key; later: a rotated key's overlap), except ``keep``. An identity
    that already ends sooner keeps its end. In the caller's transaction."""
    query = (
        select(NatsCredential).where(NatsCredential.node_id == node_id)
        if node_id
        else select(NatsCredential).where(NatsCredential.department == department)
    )
    for cred in session.exec(query).all():
        if cred.nkey != keep and (cred.valid_until is None or cred.valid_until > until):
            cred.valid_until = until
            session.add(cred)


def users(session: Session, hub: str) -> list[NatsUser]:
    """The hub, then every credential still valid whose node is enrolled (not revoked)."""
    now = utcnow()
    revoked = set(session.exec(select(Node.id).where(Node.status == "revoked")).all())
    rows = session.exec(
        select(NatsCredential).order_by(col(NatsCredential.node_id), col(NatsCredential.department), col(NatsCredential.created_at))
    ).all()
    live = [r for r in rows if (r.valid_until is None or r.valid_until > now) and r.node_id not in revoked]
    return [NatsUser(hub)] + [NatsUser(r.nkey, node_id=r.node_id, department=r.department) for r in live]


def apply(engine: Engine, nats_dir: Path) -> bool:
    """Bring the accounts file in line with the database; reload nats-server if it changed.
    Returns whether it changed. Without a hub nkey (NATS not set up by `yiwang hub init`), does nothing."""
    hub = hub_nkey(nats_dir)
    if hub is None:
        return False
    with _lock:
        with Session(engine) as session:
            text = render_accounts(users(session, hub))
        path = nats_dir / "accounts.conf"
        if path.exists() and path.read_text() == text:
            return False
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        reload_server(nats_dir)
        return True


def reload_server(nats_dir: Path) -> None:
    """SIGHUP to every nats-server whose pid file is in ``nats_dir``: the single server's
    (``nats.pid``) or each cluster member's on this machine (``cluster/<name>/nats.pid``)."""
    pid_files = [p for p in [nats_dir / "nats.pid", *sorted(nats_dir.glob("cluster/*/nats.pid"))] if p.exists()]
    signalled = []
    for n in range(RELOADS):  # a new account's imports take the second reload (sync_protocol.RELOADS)
        time.sleep(RELOAD_GAP_S if n else 0)
        for pid_file in pid_files:
            try:
                pid = int(pid_file.read_text().strip())
                os.kill(pid, signal.SIGHUP)
                if pid not in signalled:
                    signalled.append(pid)
            except (OSError, ValueError) as exc:
                log.warning("nats-server of %s not signalled (%s)", pid_file, exc)
    if not signalled:
        log.warning(
            "NATS access list written to %s but no nats-server signalled; run `nats-server --signal reload` on each NATS machine",
            nats_dir / "accounts.conf",
        )
        return
    log.info("NATS access list reloaded (nats-server pid %s)", ", ".join(map(str, signalled)))
