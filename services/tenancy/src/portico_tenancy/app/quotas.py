"""Quota and usage use cases: set and read a tenant's quota, record its usage.

Usage is reported, not derived: whoever knows what is installed (rollout when
a version goes live or is removed, or the platform team) calls RecordUsage
with the tenant's absolute totals. Never the tenant itself: the kernel's
interceptor admits RecordUsage only with usage.record (the `service` role of
Portico's own identities, or a platform admin), and SetQuota only with
quotas.write (platform admins), before these use cases run. Each change emits an event
(`tenant.quota.updated`, `tenant.usage.updated`) from the same transaction,
so other services (compat) keep projections instead of calling back.
"""

from __future__ import annotations

from collections.abc import Callable

from portico_common.tenants import require_tenant_id
from portico_tenancy.app import jobs
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.events import TenantQuotaUpdated, TenantUsageUpdated
from portico_tenancy.domain.jobs import JobSpec
from portico_tenancy.domain.quota import Quota, Resources, Usage
from portico_tenancy.errors import QuotaNotFoundError, TenantNotFoundError


async def set_quota(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    limits: Resources,
    max_plugins: int,
    *,
    then: Callable[[str], JobSpec] | None = None,
) -> Quota:
    """Replaces the tenant's quota and emits tenant.quota.updated with the new revision.

    `then` names the job that carries the new quota on (re-provisioning), enqueued
    in the same transaction.
    """
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        await _lock_tenant(tx, tenant_id)
        previous = await tx.quotas.get(tenant_id)
        quota = Quota.replacing(previous, tenant_id, limits, max_plugins, tx.clock.now())
        await tx.quotas.save(quota)
        await tx.publish([TenantQuotaUpdated(quota=quota)])
        if then is not None:
            await jobs.enqueue(tx, then(tenant_id))
    return quota


async def get_quota(uow: UnitOfWorkFactory, tenant_id: str) -> tuple[Quota, Usage | None]:
    """The tenant's quota and its last usage report (None if none was recorded)."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        quota = await tx.quotas.get(tenant_id)
        usage = await tx.usage.get(tenant_id)
    if quota is None:
        raise QuotaNotFoundError(f"no quota is set for tenant {tenant_id!r}")
    return quota, usage


async def record_usage(
    uow: UnitOfWorkFactory, tenant_id: str, used: Resources, plugins: int
) -> Usage:
    """Replaces the tenant's usage with these totals and emits tenant.usage.updated."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        await _lock_tenant(tx, tenant_id)
        previous = await tx.usage.get(tenant_id)
        usage = Usage.replacing(previous, tenant_id, used, plugins, tx.clock.now())
        await tx.usage.save(usage)
        await tx.publish([TenantUsageUpdated(usage=usage)])
    return usage


async def _lock_tenant(tx: TenancyUnitOfWork, tenant_id: str) -> None:
    if not await tx.tenants.lock(tenant_id):
        raise TenantNotFoundError(f"tenant {tenant_id!r} not found")
