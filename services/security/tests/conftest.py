"""Fixtures the security test directories share: the migrated database and a superuser."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from portico_embedded.testing.databases import migrated_database

SCHEMA = "security"
MIGRATIONS = "portico_security.migrations"

# The test's fresh database with the kernel's and security's migrations, as the service's role.
security_db = migrated_database(SCHEMA, MIGRATIONS, name="security_db")


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test's database, which row-level security does not
    restrict: the whole truth."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
