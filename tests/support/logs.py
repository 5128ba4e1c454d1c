"""What no log may hold: full resident ID numbers (masked ones are fine)."""

from __future__ import annotations

import re

FULL_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")


def full_resident_ids(text: str) -> list[str]:
    """Every valid GB 11643 number in ``text`` (checksum included, so hashes and times do not count;
    region codes of every era, as the window accepts them)."""
    from edge_node.intake import is_resident_id

    return [m for m in FULL_ID.findall(text) if is_resident_id(m)]
