"""Quota and usage use cases: set and read a tenant's quota, record its usage.

Usage is reported, not derived: whoever knows what is installed (rollout when
a version goes live or is removed, or the platform team) calls RecordUsage
with the tenant's absolute totals. Each change emits an event
(`tenant.quota.updated`, `tenant.usage.updated`) from the same transaction,
so other services (compat) keep projections instead of calling back.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from portico.events.v1 import events_pb2
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.quota import Quota, Resources, Usage
from portico_tenancy.domain.tenant import validate_tenant_id
from portico_tenancy.errors import QuotaNotFoundError, TenantNotFoundError


async def set_quota(
    uow: UnitOfWorkFactory, tenant_id: str, limits: Resources, max_plugins: int
) -> Quota:
    """Replaces the tenant's quota and emits tenant.quota.updated with the new revision."""
    validate_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        await _lock_tenant(tx, tenant_id)
        previous = await tx.quotas.get(tenant_id)
        quota = Quota.replacing(previous, tenant_id, limits, max_plugins, tx.clock.now())
        await tx.quotas.save(quota)
        await tx.emit(quota_updated(quota), subject=tenant_id)
    return quota


async def get_quota(uow: UnitOfWorkFactory, tenant_id: str) -> tuple[Quota, Usage | None]:
    """The tenant's quota and its last usage report (None if none was recorded)."""
    validate_tenant_id(tenant_id)
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
    validate_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        await _lock_tenant(tx, tenant_id)
        previous = await tx.usage.get(tenant_id)
        usage = Usage.replacing(previous, tenant_id, used, plugins, tx.clock.now())
        await tx.usage.save(usage)
        await tx.emit(usage_updated(usage), subject=tenant_id)
    return usage


async def _lock_tenant(tx: TenancyUnitOfWork, tenant_id: str) -> None:
    if not await tx.tenants.lock(tenant_id):
        raise TenantNotFoundError(f"tenant {tenant_id!r} not found")


def _resources(r: Resources) -> events_pb2.TenantResources:
    return events_pb2.TenantResources(
        cpu_millicores=r.cpu_millicores, memory_mib=r.memory_mib, storage_mib=r.storage_mib
    )


def _timestamp(quota_or_usage: Quota | Usage) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(quota_or_usage.updated_at)
    return stamp


def quota_updated(quota: Quota) -> events_pb2.TenantQuotaUpdated:
    """The `tenant.quota.updated` event of a stored quota."""
    return events_pb2.TenantQuotaUpdated(
        tenant_id=quota.tenant_id,
        limits=_resources(quota.limits),
        max_plugins=quota.max_plugins,
        revision=quota.revision,
        updated_at=_timestamp(quota),
    )


def usage_updated(usage: Usage) -> events_pb2.TenantUsageUpdated:
    """The `tenant.usage.updated` event of a stored usage report."""
    return events_pb2.TenantUsageUpdated(
        tenant_id=usage.tenant_id,
        used=_resources(usage.used),
        plugins=usage.plugins,
        revision=usage.revision,
        updated_at=_timestamp(usage),
    )
