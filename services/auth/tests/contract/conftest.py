"""auth's repository contract runs against the in-memory and the PostgreSQL adapters alike."""

from __future__ import annotations

import pytest

from portico_auth.adapters.memory import memory_store
from portico_auth.app.ports import UnitOfWorkFactory
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend


@pytest.fixture(params=CONTRACT_BACKENDS)
def uow(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    """The unit-of-work factory of the adapter under test."""
    return contract_backend(request, memory=lambda: memory_store().open, postgres="pg_uow")
