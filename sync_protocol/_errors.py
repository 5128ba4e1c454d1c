"""Errors of the wire contract.

SyncError
├── LocalProtocolError      we were asked to send something the contract forbids
│   └── UnencodableValue    a float, NaN or non-JSON type in a record
└── RemoteProtocolError     the peer sent something the contract forbids
    ├── BadSignature        the bytes were not signed by the key we expected
    ├── Malformed           signed, but not a well-formed batch
    ├── UnsupportedVersion  a version this code does not speak
    └── TooLarge            over MAX_BATCH_BYTES before anything was decoded
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error raised by sync_protocol."""


class LocalProtocolError(SyncError):
    """Our own mistake: the caller tried to build something the contract forbids."""


class UnencodableValue(LocalProtocolError):
    def __init__(self, path: str, value: object) -> None:
        super().__init__(f"cannot encode {type(value).__name__} at {path}: money is integer fen, times are strings")
        self.path = path
        self.value = value


class RemoteProtocolError(SyncError):
    """The peer's mistake (or an attacker's): what arrived breaks the contract."""

    reason = "malformed"


class BadSignature(RemoteProtocolError):
    reason = "bad_signature"


class Malformed(RemoteProtocolError):
    reason = "malformed"


class UnsupportedVersion(RemoteProtocolError):
    reason = "unsupported_version"

    def __init__(self, got: object) -> None:
        super().__init__(f"unsupported protocol version {got!r}")
        self.got = got


class TooLarge(RemoteProtocolError):
    reason = "too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"batch is {size} bytes, the limit is {limit}")
        self.size = size
        self.limit = limit
