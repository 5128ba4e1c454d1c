"""The hub's signing key on disk: 32-byte seed as hex, mode 0600, created by `yiwang hub init`."""

from __future__ import annotations

import os
from pathlib import Path

from nacl.signing import SigningKey

from sync_protocol import signing_key_from_text


class HubKeyMissing(RuntimeError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"hub key not found at {path}; run `yiwang hub init --dir {path.parent}` first")


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only; refuse to overwrite an existing secret."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def load_hub_key(path: Path) -> SigningKey:
    if not path.exists():
        raise HubKeyMissing(path)
    return signing_key_from_text(path.read_text())
