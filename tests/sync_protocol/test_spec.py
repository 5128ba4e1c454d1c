"""docs/protocol.md is the contract a second team implements from: its record table must say
exactly what RECORD_SPECS enforces."""

from __future__ import annotations

import re
from pathlib import Path

from sync_protocol import RECORD_SPECS

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"
ROW = re.compile(r"^\| `([a-z_.]+)` \| (up|down) \|\s*(.*?)\s*\|\s*(.*?)\s*\|$")


def parse_fields(cell: str) -> dict[str, str]:
    return dict(re.findall(r"`([a-z0-9_]+)` ([a-z]+)", cell))


def test_record_table_matches_the_code():
    rows = {m[1]: m for line in DOC.read_text(encoding="utf-8").splitlines() if (m := ROW.match(line))}
    assert set(rows) == set(RECORD_SPECS)
    for kind, spec in RECORD_SPECS.items():
        _, direction, required, optional = rows[kind].groups()
        assert direction == spec.direction, kind
        assert parse_fields(required) == {k: t.__name__ for k, t in spec.required.items()}, kind
        assert parse_fields(optional) == {k: t.__name__ for k, t in spec.optional.items()}, kind
