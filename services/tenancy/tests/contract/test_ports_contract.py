"""What every adapter of tenancy's ports must do, checked on the in-memory and the Pg adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import pytest

from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_tenancy.domain.events import TenantCreated, TenantQuotaUpdated, TenantUsageUpdated
from portico_tenancy.domain.quota import Quota, Resources, Usage
from portico_tenancy.domain.tenant import Tenant

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend

LIMITS = Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)
# What each adapter raises when a row's tenant is not the transaction's.
RLS_ERRORS = (RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)


def tenant(backend: Backend, tenant_id: str = "acme") -> Tenant:
    return Tenant(tenant_id, tenant_id.title(), backend.clock.now())


def quota(backend: Backend, tenant_id: str = "acme", revision: int = 1) -> Quota:
    return Quota(tenant_id, LIMITS, 12, revision, backend.clock.now())


def usage(backend: Backend, tenant_id: str = "acme", revision: int = 1) -> Usage:
    return Usage(tenant_id, Resources(1500, 2048, 100), 2, revision, backend.clock.now())


async def add_tenant(backend: Backend, tenant_id: str = "acme") -> Tenant:
    added = tenant(backend, tenant_id)
    async with backend.uow(tenant_id) as tx:
        assert await tx.tenants.add(added)
    return added


async def test_tenant_round_trips_and_locks(backend: Backend) -> None:
    """A stored tenant reads back equal, and locking it says it exists."""
    acme = await add_tenant(backend)
    async with backend.uow("acme") as tx:
        assert await tx.tenants.get("acme") == acme
        assert await tx.tenants.lock("acme")


async def test_duplicate_tenant_is_not_added(backend: Backend) -> None:
    """A second tenant with a taken id is refused (False) and the first stays as it was."""
    acme = await add_tenant(backend)
    async with backend.uow("acme") as tx:
        again = await tx.tenants.add(Tenant("acme", "Other", backend.clock.advance(hours=1)))
    async with backend.uow("acme") as tx:
        stored = await tx.tenants.get("acme")
    assert (again, stored) == (False, acme)


async def test_missing_tenant_is_neither_found_nor_locked(backend: Backend) -> None:
    """get and lock of a tenant that does not exist answer None and False."""
    async with backend.uow("ghost") as tx:
        assert (await tx.tenants.get("ghost"), await tx.tenants.lock("ghost")) == (None, False)
        assert (await tx.quotas.get("ghost"), await tx.usage.get("ghost")) == (None, None)


async def test_quota_and_usage_are_replaced_whole(backend: Backend) -> None:
    """Saving a quota or usage again replaces the tenant's one row; reads return the last."""
    await add_tenant(backend)
    async with backend.uow("acme") as tx:
        await tx.quotas.save(quota(backend))
        await tx.usage.save(usage(backend))
    later = backend.clock.advance(minutes=5)
    second_quota = Quota("acme", Resources(1, 2, 3), 0, 2, later)
    second_usage = Usage("acme", Resources(), 0, 2, later)
    async with backend.uow("acme") as tx:
        await tx.quotas.save(second_quota)
        await tx.usage.save(second_usage)
    async with backend.uow("acme") as tx:
        stored = (await tx.quotas.get("acme"), await tx.usage.get("acme"))
    assert stored == (second_quota, second_usage)


async def test_quota_and_usage_need_their_tenant(backend: Backend) -> None:
    """A quota or usage row for a tenant that does not exist breaks the foreign key."""

    async def save_quota() -> None:
        async with backend.uow("ghost") as tx:
            await tx.quotas.save(quota(backend, "ghost"))

    async def save_usage() -> None:
        async with backend.uow("ghost") as tx:
            await tx.usage.save(usage(backend, "ghost"))

    # The adapters raise their own error types; the message names the rule.
    with pytest.raises(Exception, match="foreign key"):
        await save_quota()
    with pytest.raises(Exception, match="foreign key"):
        await save_usage()


async def test_a_tenant_sees_only_its_own_rows(backend: Backend) -> None:
    """Another tenant's unit of work finds none of our rows; the platform scope finds them all."""
    acme = await add_tenant(backend)
    async with backend.uow("acme") as tx:
        await tx.quotas.save(quota(backend))
        await tx.usage.save(usage(backend))

    async with backend.uow("globex") as tx:
        seen = [
            await tx.tenants.get("acme"),
            await tx.tenants.lock("acme"),
            await tx.quotas.get("acme"),
            await tx.usage.get("acme"),
        ]
    async with backend.uow(ALL_TENANTS) as tx:
        platform = await tx.tenants.get("acme")

    assert seen == [None, False, None, None]
    assert platform == acme


async def test_rows_of_another_tenant_are_refused(backend: Backend) -> None:
    """A unit of work cannot write a tenant, quota or usage row of another tenant."""
    await add_tenant(backend)
    with pytest.raises(RLS_ERRORS):
        async with backend.uow("globex") as tx:
            await tx.tenants.add(tenant(backend, "initech"))
    with pytest.raises(RLS_ERRORS):
        async with backend.uow("globex") as tx:
            await tx.quotas.save(quota(backend, "acme"))
    with pytest.raises(RLS_ERRORS):
        async with backend.uow("globex") as tx:
            await tx.usage.save(usage(backend, "acme"))
    async with backend.uow(ALL_TENANTS) as tx:
        left = [await tx.tenants.get("initech"), await tx.quotas.get("acme")]
    assert left == [None, None]


async def test_failed_unit_of_work_leaves_nothing(backend: Backend) -> None:
    """An exception inside a unit of work discards its rows and its events."""

    async def write_then_fail() -> None:
        async with backend.uow("acme") as tx:
            await tx.tenants.add(tenant(backend))
            await tx.quotas.save(quota(backend))
            await tx.publish([TenantCreated(tenant_id="acme", display_name="Acme")])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    async with backend.uow("acme") as tx:
        assert (await tx.tenants.get("acme"), await tx.quotas.get("acme")) == (None, None)
    assert await backend.committed_events() == []


async def test_events_commit_with_the_transaction(backend: Backend) -> None:
    """Published events commit in order, each under its tenant with the tenant as subject."""
    await add_tenant(backend)
    async with backend.uow("acme") as tx:
        await tx.publish(
            [
                TenantCreated(tenant_id="acme", display_name="Acme"),
                TenantQuotaUpdated(quota=quota(backend)),
                TenantUsageUpdated(usage=usage(backend)),
            ]
        )

    assert await backend.committed_events() == [
        ("tenant.created", "acme", "acme"),
        ("tenant.quota.updated", "acme", "acme"),
        ("tenant.usage.updated", "acme", "acme"),
    ]
