"""Key rotation at the node, with nothing lost and no moment without a working key.

1. ``start``: new keys are generated here — ``node.key.next`` (batch signing) and
   ``nats.nk.next`` (NATS identity), 0600 — and a ``node.key_rotated`` event naming their public
   halves goes into the outbox, in one transaction.
2. Sealing (link.seal_pending) ends a batch at that event and signs it with the old key; in the
   same transaction the meta ``up_key`` names the new key, which signs every later batch.
   ``settle`` then moves ``node.key.next`` over ``node.key`` (also done at start-up, so a crash
   between the commit and the move changes nothing).
3. The hub applies the event in order, verifies later batches with the new key, admits the new
   NATS identity, keeps the old one for an overlap window and answers ``node.key_accepted``;
   on that, or if NATS refuses the old identity, the node moves ``nats.nk.next`` over ``nats.nk``
   and reconnects.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from nacl.signing import SigningKey

from sync_protocol import NODE_KEY_ROTATED, signing_key_from_text, signing_key_to_text, user_nkey_from_seed, user_seed_from_raw, verify_key_to_text

from .errors import Conflict
from .settings import write_private
from .store import Store, add_outbox, get_meta, read_meta, set_meta

log = logging.getLogger("yiwang.node.rotation")

KEY, NEXT_KEY, NATS, NEXT_NATS = "node.key", "node.key.next", "nats.nk", "nats.nk.next"


def start(store: Store, data_dir: Path, by: str) -> dict[str, str]:
    """Begin a rotation (``by``: the staff member, for the log); refused while one is under way."""
    with store.write() as conn:
        if get_meta(conn, "rotation_pending"):
            raise Conflict("上一次密钥轮换尚未完成（等待县中枢确认），请稍后再试")
    for name in (NEXT_KEY, NEXT_NATS):  # left by a start that crashed before its commit
        (data_dir / name).unlink(missing_ok=True)
    key, seed = SigningKey.generate(), user_seed_from_raw(os.urandom(32))
    write_private(data_dir / NEXT_KEY, signing_key_to_text(key))
    write_private(data_dir / NEXT_NATS, seed)
    public_key, nats_public_key = verify_key_to_text(key.verify_key), user_nkey_from_seed(seed)
    with store.write() as conn:
        add_outbox(conn, NODE_KEY_ROTATED, {"public_key": public_key, "nats_public_key": nats_public_key})
        set_meta(conn, "rotation_pending", public_key)
    log.warning("key rotation started by %s", by)
    return {"public_key": public_key, "nats_public_key": nats_public_key}


def status(store: Store, data_dir: Path) -> dict[str, str | bool]:
    """For the home page: the key that signs now, and whether a rotation awaits the hub."""
    current = verify_key_to_text(signing_keys(data_dir)[0].verify_key)
    return {"public_key": current, "pending": bool(read_meta(store, "rotation_pending"))}


def signing_keys(data_dir: Path) -> list[SigningKey]:
    """The keys seal_pending may sign with: the current one, and the next during a rotation."""
    keys = [signing_key_from_text((data_dir / KEY).read_text())]
    if (data_dir / NEXT_KEY).exists():
        keys.append(signing_key_from_text((data_dir / NEXT_KEY).read_text()))
    return keys


def settle(store: Store, data_dir: Path) -> bool:
    """Once the rotation batch is sealed, the next key becomes ``node.key``. Returns whether it moved."""
    nxt = data_dir / NEXT_KEY
    if not nxt.exists():
        return False
    if read_meta(store, "up_key") != verify_key_to_text(signing_key_from_text(nxt.read_text()).verify_key):
        return False
    os.replace(nxt, data_dir / KEY)
    return True


def switch_nats(store: Store, data_dir: Path, refused: bool) -> str | None:
    """Make ``nats.nk.next`` the NATS identity when the hub said so (node.key_accepted) or when
    NATS refuses the old one; returns the new seed, or None when no switch is due."""
    nxt = data_dir / NEXT_NATS
    if not nxt.exists() or (data_dir / NEXT_KEY).exists():
        return None  # no rotation, or its batch not sealed yet: the hub cannot know the new identity
    if not (refused or read_meta(store, "key_accepted")):
        return None
    os.replace(nxt, data_dir / NATS)
    with store.write() as conn:
        set_meta(conn, "rotation_pending", "")
        set_meta(conn, "key_accepted", "")
    return (data_dir / NATS).read_text().strip()
