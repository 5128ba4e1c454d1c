"""One NATS + hub per test module (these tests only enrol points and connect as them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioning.federation import LocalFederation
from tests.support.federation import running_federation


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[LocalFederation]:
    with running_federation(tmp_path_factory.mktemp("county")) as fed:
        yield fed
