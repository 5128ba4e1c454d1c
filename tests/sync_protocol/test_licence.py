"""E-licences verify offline against the hub key; a changed byte or another signer is refused."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from sync_protocol import BadSignature, Malformed, open_licence, seal_licence

HUB = SigningKey(bytes(range(40, 72)))
DOC = {
    "licence_no": "YW-2026-000001",
    "kind": "老年人优待证",
    "item_code": "MZ-004",
    "item_name": "老年人优待证办理",
    "holder_name": "张秀英",
    "holder_id": "11010519491231002X",
    "application_id": "a1",
    "issued_at": "2026-11-23T08:00:00.000000Z",
    "issuer": "县级政务服务中枢",
}


def test_a_sealed_licence_opens_with_the_hub_key():
    text = seal_licence(DOC, HUB)
    assert text.startswith("YWL1.") and open_licence(text, HUB.verify_key) == DOC
    assert open_licence(" " + text[:40] + "\n" + text[40:] + " ", HUB.verify_key) == DOC  # copied with line breaks


def test_a_changed_character_or_another_signer_is_refused():
    text = seal_licence(DOC, HUB)
    flipped = text[:-5] + ("A" if text[-5] != "A" else "B") + text[-4:]
    with pytest.raises((BadSignature, Malformed)):
        open_licence(flipped, HUB.verify_key)
    with pytest.raises(BadSignature):
        open_licence(seal_licence(DOC, SigningKey.generate()), HUB.verify_key)
    with pytest.raises(Malformed):
        open_licence("not a licence", HUB.verify_key)
    with pytest.raises(ValueError):
        seal_licence({"licence_no": "x"}, HUB)
