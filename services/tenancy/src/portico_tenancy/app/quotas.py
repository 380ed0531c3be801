"""Quota use cases: set and read a tenant's quota, next to its usage.

Usage is derived, not reported: reservations.py keeps it from what installs
and rollouts hold, as install and rollout events settle them. The kernel's
interceptor admits SetQuota only with quotas.write (platform admins) before
these use cases run. Each change emits an event (`tenant.quota.updated`,
`tenant.usage.updated`) from the same transaction, so other services
(compat) keep projections instead of calling back.
"""

from __future__ import annotations

from collections.abc import Callable

from portico_common.tenants import require_tenant_id
from portico_tenancy.app import jobs, reservations
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.events import TenantQuotaUpdated
from portico_tenancy.domain.jobs import JobSpec
from portico_tenancy.domain.quota import Quota, Resources, Usage
from portico_tenancy.domain.reservations import Amounts
from portico_tenancy.errors import QuotaNotFoundError, TenantNotFoundError


async def set_quota(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    limits: Resources,
    max_plugins: int,
    *,
    max_rollouts: int | None = None,
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
        quota = Quota.replacing(
            previous, tenant_id, limits, max_plugins, tx.clock.now(), max_rollouts
        )
        await tx.quotas.save(quota)
        await tx.publish([TenantQuotaUpdated(quota=quota)])
        if then is not None:
            await jobs.enqueue(tx, then(tenant_id))
    return quota


async def get_quota(uow: UnitOfWorkFactory, tenant_id: str) -> tuple[Quota, Usage | None, Amounts]:
    """The tenant's quota, its usage (None before anything went live) and what is held on top."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        quota = await tx.quotas.get(tenant_id)
        usage = await tx.usage.get(tenant_id)
        _, held = await reservations.usage_of(tx, tenant_id)
    if quota is None:
        raise QuotaNotFoundError(f"no quota is set for tenant {tenant_id!r}")
    return quota, usage, held


async def _lock_tenant(tx: TenancyUnitOfWork, tenant_id: str) -> None:
    if not await tx.tenants.lock(tenant_id):
        raise TenantNotFoundError(f"tenant {tenant_id!r} not found")
