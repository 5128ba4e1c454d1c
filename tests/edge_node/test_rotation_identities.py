"""The two NATS identities of a rotation (edge_node/rotation.py switch_nats), found by the soak:
a replacement device restored its point's downlink history, and with it an old rotation's
node.key_accepted. At the device's own first rotation it switched on that stale confirmation
at once, to an identity the hub had not admitted, with its admitted one overwritten: refused by
NATS for good, its rotation batch never sent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_node import rotation
from edge_node.store import Store, read_meta, set_meta
from sync_protocol import user_nkey_from_seed, user_seed_from_raw


@pytest.fixture
def point(tmp_path: Path):
    old, new = user_seed_from_raw(os.urandom(32)), user_seed_from_raw(os.urandom(32))
    (tmp_path / "nats.nk").write_text(old)
    (tmp_path / "nats.nk.next").write_text(new)  # the rotation's batch is sealed (no node.key.next)
    store = Store(tmp_path / "node.sqlite3")
    with store.write() as conn:
        set_meta(conn, "rotation_pending", "x")
    yield store, tmp_path, old, new
    store.close()


def accepted(store: Store, seed: str) -> None:
    with store.write() as conn:
        set_meta(conn, "key_accepted", user_nkey_from_seed(seed))


def test_a_confirmation_for_another_identity_switches_nothing(point):
    store, data, old, _ = point
    accepted(store, user_seed_from_raw(os.urandom(32)))  # an earlier rotation's, delivered again
    assert rotation.switch_nats(store, data, refused=False) is None
    assert (data / "nats.nk").read_text().strip() == old and read_meta(store, "rotation_pending") == "x" and read_meta(store, "key_accepted") == ""


def test_the_hubs_confirmation_of_the_new_identity_makes_it_the_one(point):
    store, data, _, new = point
    accepted(store, new)
    assert rotation.switch_nats(store, data, refused=False) == new
    assert (data / "nats.nk").read_text().strip() == new and not (data / "nats.nk.next").exists() and read_meta(store, "rotation_pending") == ""


def test_a_refusal_tries_the_other_identity_and_back_and_never_loses_one(point):
    store, data, old, new = point
    assert rotation.switch_nats(store, data, refused=True) == new  # the old one outlived its window, or ...
    assert rotation.switch_nats(store, data, refused=True) == old  # ... the new one is not admitted yet
    assert {(data / "nats.nk").read_text().strip(), (data / "nats.nk.next").read_text().strip()} == {old, new}
    rotation.switch_nats(store, data, refused=True)  # on the new one again
    accepted(store, new)
    assert rotation.switch_nats(store, data, refused=False) is None  # already on it: the old one goes
    assert (data / "nats.nk").read_text().strip() == new and not (data / "nats.nk.next").exists() and read_meta(store, "rotation_pending") == ""
