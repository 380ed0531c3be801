"""Migrated databases and the two-adapter parametrisation of contract suites."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import asyncpg
import pytest

from portico_common.db import Database, create_pool
from portico_common.migrate import migrate

T = TypeVar("T")

# `@pytest.fixture(params=CONTRACT_BACKENDS)`: every contract test runs against
# the in-memory adapter (a unit test) and the PostgreSQL one (an integration test).
CONTRACT_BACKENDS: list[Any] = ["memory", pytest.param("postgres", marks=pytest.mark.integration)]


async def migrate_database(url: str, schema: str, migrations: str | None) -> None:
    """Applies the kernel's and a service's migrations to the database at `url`."""
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, schema, migrations)
    finally:
        await conn.close()


def migrated_database(schema: str, migrations: str | None, *, name: str, max_size: int = 8) -> Any:
    """A fixture `name`: the test's fresh database migrated into `schema`, as a Database.

    In a conftest: `rollout_db = migrated_database("rollout", MIGRATIONS, name="rollout_db")`.
    """

    @pytest.fixture(name=name)
    async def fixture(database_url: str) -> AsyncIterator[Database]:
        await migrate_database(database_url, schema, migrations)
        pool = await create_pool(database_url, schema, max_size=max_size)
        try:
            yield Database(pool, schema)
        finally:
            await pool.close()

    return fixture


def contract_backend(
    request: pytest.FixtureRequest, *, memory: Callable[[], T], postgres: str
) -> T:
    """The backend of a test parametrised by CONTRACT_BACKENDS.

    `memory` builds the in-memory one; `postgres` names the fixture that
    builds the PostgreSQL one (requested only when that parameter runs, so
    unit runs never start a server).
    """
    if request.param == "postgres":
        found: T = request.getfixturevalue(postgres)
        return found
    return memory()
