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
from weblayer.errors import Conflict

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
    """During a rotation the node holds two NATS identities: ``nats.nk``, in use, and
    ``nats.nk.next``, the other one. Returns the seed to connect with now, or None to go on.

    - When the hub names the new one (``node.key_accepted``), it becomes ``nats.nk`` for good
      and the other is deleted. A key_accepted that names neither (an earlier rotation's, as a
      replacement device restores them with its point's history) is forgotten: switching on it
      left a point with an identity the hub had not admitted and its only admitted one
      overwritten, wedged for good (the chaos soak: a replaced device's first rotation).
    - When NATS refuses the one in use, they swap: either the old one outlived its overlap
      window or the new one is not admitted yet, and one of the two is always valid.
    """
    nxt = data_dir / NEXT_NATS
    if not nxt.exists() or (data_dir / NEXT_KEY).exists():
        return None  # no rotation, or its batch not sealed yet: the hub cannot know the new identity
    current, other = (data_dir / NATS).read_text().strip(), nxt.read_text().strip()
    accepted = read_meta(store, "key_accepted")
    if accepted:
        with store.write() as conn:
            set_meta(conn, "key_accepted", "")
            if accepted in (user_nkey_from_seed(current), user_nkey_from_seed(other)):
                set_meta(conn, "rotation_pending", "")
        if accepted == user_nkey_from_seed(other):
            os.replace(nxt, data_dir / NATS)
            return other
        if accepted == user_nkey_from_seed(current):
            nxt.unlink()  # already on the new one (swapped in after a refusal)
            return None
        log.warning("ignored a key confirmation for another NATS identity (%s…)", accepted[:12])
    if refused:
        write_private(data_dir / (NEXT_NATS + ".tmp"), current)
        os.replace(nxt, data_dir / NATS)
        os.replace(data_dir / (NEXT_NATS + ".tmp"), nxt)
        log.warning("NATS refused this node's identity during a key rotation: trying the other one")
        return other
    return None
