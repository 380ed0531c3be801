"""Fixtures shared by auth's contract and integration tests: its schema and PostgreSQL adapters."""

from __future__ import annotations

import pytest

from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.adapters.postgres import AuthPgUnitOfWork
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.bootstrap import MIGRATIONS, SERVICE
from portico_common.clock import SystemClock
from portico_common.db import Database
from portico_common.uow import uow_factory
from portico_embedded.testing.databases import migrated_database

KEK = "kek-for-tests-0123456789-0123456789"

auth_db = migrated_database(SERVICE, MIGRATIONS, name="auth_db")


@pytest.fixture
def pg_uow(auth_db: Database) -> UnitOfWorkFactory:
    """Auth's Postgres unit of work, sealing keys under the test KEK."""
    encryptor = KeyEncryptor(KEK)
    return uow_factory(
        auth_db, lambda conn, _t: AuthPgUnitOfWork(conn, encryptor=encryptor, clock=SystemClock())
    )


@pytest.fixture
def kek() -> str:
    """The key-encryption key secret the tests seal signing keys with."""
    return KEK
