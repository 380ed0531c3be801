"""The tenant-resources projection's contract, held by the memory and PostgreSQL adapters alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from portico_common.db import Database
from portico_common.memory_uow import RowLevelSecurityError
from portico_compat.adapters.memory import memory_store
from portico_compat.adapters.tenant_resources import PgTenantResourcesRepository
from portico_compat.app.ports import TenantResourcesProjection
from portico_compat.domain.resources import Quota, Resources, TenantResources, Usage
from portico_embedded.testing.databases import CONTRACT_BACKENDS, contract_backend

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RLS_REFUSAL = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)

# `open_projection(tenant)`: a projection inside one transaction of that tenant.
OpenProjection = Callable[[str], AbstractAsyncContextManager[TenantResourcesProjection]]


@pytest.fixture
def pg_projection(compat_db: Database) -> OpenProjection:
    @asynccontextmanager
    async def open_projection(tenant: str) -> AsyncIterator[TenantResourcesProjection]:
        async with compat_db.transaction(tenant) as tx:
            yield PgTenantResourcesRepository(tx)

    return open_projection


def memory_projection() -> OpenProjection:
    store = memory_store()

    @asynccontextmanager
    async def open_projection(tenant: str) -> AsyncIterator[TenantResourcesProjection]:
        async with store.open(tenant) as tx:
            yield tx.tenant_resources

    return open_projection


@pytest.fixture(params=CONTRACT_BACKENDS)
def projection(request: pytest.FixtureRequest) -> OpenProjection:
    return contract_backend(request, memory=memory_projection, postgres="pg_projection")


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
