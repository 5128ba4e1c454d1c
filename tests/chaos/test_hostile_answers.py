"""The chaos run's leak detector tells JetStream's answers from genuine signed traffic (the
30-minute soak of 2026-12-06 counted a genuine hub-signed downlink batch as a leak: its signature
began with "{")."""

from __future__ import annotations

import json

from nacl.signing import SigningKey

from sync_protocol import GENESIS, Record, seal_next

from .hostile import is_answer

T = "2026-12-06T20:00:00.000000Z"


def test_an_answer_is_json_or_empty_and_signed_bytes_never_are():
    assert is_answer(b"")
    assert is_answer(json.dumps({"type": "io.nats.jetstream.api.v1.consumer_info_response", "error": {"code": 404}}).encode())
    key, starts_with_brace = SigningKey(bytes(range(32))), 0
    for n in range(2000):
        wire, _ = seal_next("cun09", "down", GENESIS, [Record("catalog.version", f"c{n}", T, {"version": n, "items": []})], T, key)
        starts_with_brace += wire[:1] == b"{"
        assert not is_answer(wire)
    assert starts_with_brace > 0  # the case the old first-byte test got wrong does occur
