"""The tenant-resources projection's contract, held by the memory and PostgreSQL adapters alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from portico_common.db import Database, create_pool
from portico_common.migrate import migrate
from portico_compat.adapters.memory import RowLevelSecurityError
from portico_compat.adapters.tenant_resources import (
    MemoryTenantResources,
    PgTenantResourcesRepository,
)
from portico_compat.app.tenant_resources import TenantResourcesProjection
from portico_compat.domain.resources import Quota, Resources, TenantResources, Usage

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RLS_REFUSAL = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)

# `open_projection(tenant)`: a projection inside one transaction of that tenant.
OpenProjection = Callable[[str], AbstractAsyncContextManager[TenantResourcesProjection]]


@pytest.fixture
async def pg_projection(database_url: str) -> AsyncIterator[OpenProjection]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, "compat", "portico_compat.migrations")
    finally:
        await conn.close()
    pool = await create_pool(database_url, "compat", min_size=1, max_size=2)
    db = Database(pool, "compat")

    @asynccontextmanager
    async def open_projection(tenant: str) -> AsyncIterator[TenantResourcesProjection]:
        async with db.transaction(tenant) as tx:
            yield PgTenantResourcesRepository(tx)

    yield open_projection
    await pool.close()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def projection(request: pytest.FixtureRequest) -> OpenProjection:
    if request.param == "postgres":
        found: OpenProjection = request.getfixturevalue("pg_projection")
        return found
    rows = MemoryTenantResources()

    @asynccontextmanager
    async def open_projection(tenant: str) -> AsyncIterator[TenantResourcesProjection]:
        yield rows.repository(tenant)

    return open_projection


QUOTA = Quota(Resources(4000, 8192, 1024), max_plugins=5, revision=3)
USAGE = Usage(Resources(1000, 10, 0), plugins=2, revision=7)


async def test_nothing_is_known_of_a_new_tenant(projection: OpenProjection) -> None:
    """A tenant with no events projected has neither quota nor usage."""
    async with projection("acme") as p:
        assert await p.get("acme") == TenantResources()


async def test_quota_and_usage_round_trip(projection: OpenProjection) -> None:
    """Applied quota and usage read back equal, revisions included."""
    async with projection("acme") as p:
        assert await p.apply_quota("acme", QUOTA, T0)
        assert await p.apply_usage("acme", USAGE, T0)
    async with projection("acme") as p:
        assert await p.get("acme") == TenantResources(QUOTA, USAGE)


async def test_only_a_higher_revision_replaces(projection: OpenProjection) -> None:
    """The same or a lower revision is refused (False); a higher one replaces."""
    async with projection("acme") as p:
        await p.apply_quota("acme", QUOTA, T0)
        same = Quota(Resources(), max_plugins=0, revision=3)
        older = Quota(Resources(), max_plugins=0, revision=2)
        newer = Quota(Resources(1, 1, 1), max_plugins=1, revision=4)
        assert not await p.apply_quota("acme", same, T0)
        assert not await p.apply_quota("acme", older, T0)
        assert (await p.get("acme")).quota == QUOTA
        assert await p.apply_quota("acme", newer, T0)
        await p.apply_usage("acme", USAGE, T0)
        assert not await p.apply_usage("acme", Usage(Resources(), 0, revision=1), T0)
        assert await p.get("acme") == TenantResources(newer, USAGE)


async def test_another_tenants_rows_are_invisible_and_unwritable(
    projection: OpenProjection,
) -> None:
    """Tenant beta neither sees acme's quota nor can write a row for acme."""
    async with projection("acme") as p:
        await p.apply_quota("acme", QUOTA, T0)
    async with projection("beta") as p:
        assert await p.get("acme") == TenantResources()
    with pytest.raises(RLS_REFUSAL):
        async with projection("beta") as p:
            await p.apply_usage("acme", USAGE, T0)
    async with projection("acme") as p:
        assert (await p.get("acme")).usage is None
