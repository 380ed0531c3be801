"""Fixtures shared by auth's contract and integration tests: its schema and PostgreSQL adapters."""

from __future__ import annotations

import pytest

from portico_auth.adapters.key_encryption import KeyEncryptor
from portico_auth.adapters.postgres import AuthPgUnitOfWork
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.bootstrap import MIGRATIONS, SERVICE
from portico_auth.sensitive import AUTH_SENSITIVE_FIELDS
from portico_common.clock import SystemClock
from portico_common.crypto.keyring import FieldCipher, StaticDataKeys
from portico_common.db import Database
from portico_common.uow import uow_factory
from portico_embedded.testing.databases import migrated_database

KEK = "kek-for-tests-0123456789-0123456789"

auth_db = migrated_database(SERVICE, MIGRATIONS, name="auth_db")


@pytest.fixture
def pg_uow(auth_db: Database, data_keys: StaticDataKeys) -> UnitOfWorkFactory:
    """Auth's Postgres unit of work, sealing keys under the test KEK and client metadata
    under `data_keys`."""
    encryptor = KeyEncryptor(KEK)
    cipher = FieldCipher(AUTH_SENSITIVE_FIELDS, data_keys)
    return uow_factory(
        auth_db,
        lambda conn, _t: AuthPgUnitOfWork(
            conn, encryptor=encryptor, clock=SystemClock(), cipher=cipher
        ),
    )


@pytest.fixture
def data_keys() -> StaticDataKeys:
    """Tenants' data keys for the PostgreSQL adapter (shred one to crypto-shred it)."""
    return StaticDataKeys()


@pytest.fixture
def kek() -> str:
    """The key-encryption key secret the tests seal signing keys with."""
    return KEK
