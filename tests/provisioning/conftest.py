"""One NATS + hub per test module (these tests only enrol points and connect as them)."""

from __future__ import annotations

from typing import Iterator

import pytest

from provisioning.federation import LocalFederation, free_port


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[LocalFederation]:  # type: ignore[no-untyped-def]
    fed = LocalFederation(root=tmp_path_factory.mktemp("county"), nats_port=free_port(), hub_port=free_port())
    fed.start_nats()
    fed.start_hub()
    try:
        yield fed
    finally:
        fed.stop_all()
