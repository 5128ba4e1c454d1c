"""Key files. A node's private key is generated on the node and never leaves it."""

from __future__ import annotations

import os
from pathlib import Path

from nacl.signing import SigningKey

from sync_protocol import signing_key_from_text, signing_key_to_text


def write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600; refuse to overwrite (a key is never silently replaced)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def ensure_nats_seed(data_dir: Path) -> str:
    """The node's NATS identity (an nkey seed), generated on first use. It is a key of its own,
    not the batch-signing key: nats-server picks the nonce an nkey signs."""
    from .natsd import new_user_seed

    path = data_dir / "nats.nk"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, new_user_seed())
    return path.read_text().strip()


def ensure_node_key(data_dir: Path) -> SigningKey:
    """Load the node's key, generating it on first use."""
    path = data_dir / "node.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, signing_key_to_text(SigningKey.generate()))
    return signing_key_from_text(path.read_text())
