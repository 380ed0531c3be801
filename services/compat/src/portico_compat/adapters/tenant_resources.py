"""compat's projection of tenancy's quotas and usage in PostgreSQL (its twin: adapters/memory).

A row is replaced only by a higher revision, so a stale event that arrives
late (a redelivery after a newer one) changes nothing; the inbox already
makes an exact redelivery a no-op.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from portico_common.db import Connection
from portico_compat.domain.resources import Quota, Resources, TenantResources, Usage


class PgTenantResourcesRepository:
    """Reads and updates the projection inside the caller's tenant transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> TenantResources:
        """The tenant's projected quota and usage (None for what has not arrived)."""
        quota_row = await self._conn.fetchrow(
            """SELECT cpu_millicores, memory_mib, storage_mib, max_plugins, revision
                 FROM tenant_quotas WHERE tenant_id = $1""",
            tenant_id,
        )
        usage_row = await self._conn.fetchrow(
            """SELECT cpu_millicores, memory_mib, storage_mib, plugins, revision
                 FROM tenant_usage WHERE tenant_id = $1""",
            tenant_id,
        )
        quota = (
            None
            if quota_row is None
            else Quota(_resources(quota_row), quota_row["max_plugins"], quota_row["revision"])
        )
        usage = (
            None
            if usage_row is None
            else Usage(_resources(usage_row), usage_row["plugins"], usage_row["revision"])
        )
        return TenantResources(quota, usage)

    async def apply_quota(self, tenant_id: str, quota: Quota, updated_at: datetime) -> bool:
        """Stores the quota unless a newer revision is stored; True if it was applied."""
        applied = await self._conn.fetchval(
            """INSERT INTO tenant_quotas AS q (tenant_id, cpu_millicores, memory_mib,
                                                storage_mib, max_plugins, revision, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   cpu_millicores = EXCLUDED.cpu_millicores,
                   memory_mib = EXCLUDED.memory_mib,
                   storage_mib = EXCLUDED.storage_mib,
                   max_plugins = EXCLUDED.max_plugins,
                   revision = EXCLUDED.revision,
                   updated_at = EXCLUDED.updated_at
               WHERE q.revision < EXCLUDED.revision
               RETURNING true""",
            tenant_id,
            quota.limits.cpu_millicores,
            quota.limits.memory_mib,
            quota.limits.storage_mib,
            quota.max_plugins,
            quota.revision,
            updated_at,
        )
        return bool(applied)

    async def apply_usage(self, tenant_id: str, usage: Usage, updated_at: datetime) -> bool:
        """Stores the usage unless a newer revision is stored; True if it was applied."""
        applied = await self._conn.fetchval(
            """INSERT INTO tenant_usage AS u (tenant_id, cpu_millicores, memory_mib,
                                               storage_mib, plugins, revision, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (tenant_id) DO UPDATE SET
                   cpu_millicores = EXCLUDED.cpu_millicores,
                   memory_mib = EXCLUDED.memory_mib,
                   storage_mib = EXCLUDED.storage_mib,
                   plugins = EXCLUDED.plugins,
                   revision = EXCLUDED.revision,
                   updated_at = EXCLUDED.updated_at
               WHERE u.revision < EXCLUDED.revision
               RETURNING true""",
            tenant_id,
            usage.used.cpu_millicores,
            usage.used.memory_mib,
            usage.used.storage_mib,
            usage.plugins,
            usage.revision,
            updated_at,
        )
        return bool(applied)


def _resources(row: asyncpg.Record) -> Resources:
    return Resources(row["cpu_millicores"], row["memory_mib"], row["storage_mib"])
