"""Canonical encoding: the one byte string a value signs as.

Rules (docs/protocol.md): JSON, UTF-8, object keys sorted by code point, no insignificant
whitespace, non-ASCII written as itself (not \\u escapes). Only str, int, bool, None, list and
dict with str keys are allowed: floats are refused because money is integer fen and two
implementations may print the same float differently.
"""

from __future__ import annotations

import json
from typing import Any

from ._errors import UnencodableValue


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnencodableValue(f"{path}.<key>", key)
            _check(item, f"{path}.{key}")
        return
    raise UnencodableValue(path, value)


def canonical_bytes(value: Any) -> bytes:
    """Encode ``value`` canonically; raise UnencodableValue for anything outside the contract."""
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
