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


TOWNSHIP = SigningKey(bytes(range(1, 33)))
DELEGATION = {
    "kind": "即办件当场办结授权",
    "node_id": "qingshan",
    "node_name": "青山镇便民服务中心",
    "public_key": TOWNSHIP.verify_key.encode().hex(),
    "items": ["WJ-001", "YB-001"],
    "valid_from": "2026-11-01T00:00:00.000000Z",
    "valid_until": "2026-12-01T00:00:00.000000Z",
    "issuer": "县级政务服务中枢",
}
ON_THE_SPOT = DOC | {"licence_no": "YW-qingshan-000001", "item_code": "WJ-001", "item_name": "生育登记", "issuer_node": "qingshan"}


def test_a_township_result_under_the_hubs_delegation_verifies_with_the_hub_key_alone():
    """Issue 19 item 5: an instant approval's result is signed at the township, offline, and any
    point (or anyone with the hub's public key) verifies it."""
    from sync_protocol import delegation_in, open_delegation, open_township_licence, seal_delegated_licence, seal_delegation

    certificate = seal_delegation(DELEGATION, HUB)
    assert certificate.startswith("YWD1.") and open_delegation(certificate, HUB.verify_key) == DELEGATION
    text = seal_delegated_licence(ON_THE_SPOT, TOWNSHIP, certificate)
    assert text.startswith("YWL2.") and open_licence(text, HUB.verify_key) == ON_THE_SPOT
    assert delegation_in(text) == certificate and open_township_licence(text, TOWNSHIP.verify_key) == ON_THE_SPOT

    refused = [
        seal_delegated_licence(ON_THE_SPOT | {"item_code": "MZ-003"}, TOWNSHIP, certificate),  # not a delegated item
        seal_delegated_licence(ON_THE_SPOT | {"issuer_node": "beishan"}, TOWNSHIP, certificate),  # another township's name
        seal_delegated_licence(ON_THE_SPOT | {"issued_at": "2026-12-02T00:00:00.000000Z"}, TOWNSHIP, certificate),  # after it lapsed
        seal_delegated_licence(ON_THE_SPOT, SigningKey.generate(), certificate),  # a key the delegation does not name
        seal_delegated_licence(ON_THE_SPOT, TOWNSHIP, seal_delegation(DELEGATION, SigningKey.generate())),  # a delegation the hub never signed
    ]
    for forged in refused:
        with pytest.raises(BadSignature):
            open_licence(forged, HUB.verify_key)
    with pytest.raises(Malformed):
        open_licence("YWL2.abc", HUB.verify_key)
    with pytest.raises(Malformed):  # a field of the wrong type is no licence (it was a TypeError: a 500 on every check page)
        open_licence(seal_delegated_licence(ON_THE_SPOT | {"issued_at": 5}, TOWNSHIP, certificate), HUB.verify_key)
