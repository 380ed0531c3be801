"""compat's view of each tenant's quota and usage, kept from tenancy's events.

The projection is fed by `tenant.quota.updated` / `tenant.usage.updated`
(entrypoints/tenancy_events.py) and read by the resources dimension of a
check: `check_tenant_resources` is the one call a check needs.
"""

from __future__ import annotations

from datetime import datetime

from portico_compat.app.ports import TenantResourcesProjection
from portico_compat.domain.resources import (
    Quota,
    ResourceCheck,
    Resources,
    Usage,
    check_resources,
)


async def project_quota(
    projection: TenantResourcesProjection, tenant_id: str, quota: Quota, updated_at: datetime
) -> bool:
    """Takes in tenancy's new quota for the tenant; a stale revision is ignored (False)."""
    return await projection.apply_quota(tenant_id, quota, updated_at)


async def project_usage(
    projection: TenantResourcesProjection, tenant_id: str, usage: Usage, updated_at: datetime
) -> bool:
    """Takes in tenancy's new usage report for the tenant; a stale revision is ignored."""
    return await projection.apply_usage(tenant_id, usage, updated_at)


async def check_tenant_resources(
    projection: TenantResourcesProjection,
    tenant_id: str,
    requested: Resources,
    *,
    replacing: Resources | None = None,
) -> ResourceCheck:
    """The resources dimension for the tenant, from what the projection holds now."""
    known = await projection.get(tenant_id)
    return check_resources(requested, known.quota, known.usage, replacing=replacing)
