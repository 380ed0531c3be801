"""PostgreSQL adapters of the tenant and data-deletion repositories."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from portico_common.db import Connection
from portico_tenancy.domain.tenant import (
    REFUSED_STATES,
    Isolation,
    Tenant,
    TenantQuery,
    TenantState,
)

_COLUMNS = """tenant_id, display_name, created_at, state, plan, owner_contacts, labels,
              state_changed_at, suspension_reason, restore_to, delete_after,
              deletion_requested_at, updated_at, isolation, placed_at, placement_location,
              placement_error, placement_attempts, placement_retry_at, provisioned_at"""


class PgTenantRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, tenant: Tenant) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO tenants (tenant_id, display_name, created_at, state, plan,
                                    owner_contacts, labels, state_changed_at, updated_at,
                                    isolation, placed_at, provisioned_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)
               ON CONFLICT (tenant_id) DO NOTHING RETURNING true""",
            tenant.tenant_id,
            tenant.display_name,
            tenant.created_at,
            tenant.state.value,
            tenant.plan,
            list(tenant.owner_contacts),
            json.dumps(dict(tenant.labels)),
            tenant.state_changed_at,
            tenant.updated_at,
            tenant.isolation.value,
            tenant.placed_at,
            tenant.provisioned_at,
        )
        return bool(inserted)

    async def get(self, tenant_id: str) -> Tenant | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM tenants WHERE tenant_id = $1",  # noqa: S608 - constant columns
            tenant_id,
        )
        return None if row is None else _tenant(row)

    async def get_for_update(self, tenant_id: str) -> Tenant | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM tenants WHERE tenant_id = $1 FOR UPDATE",  # noqa: S608 - constant columns
            tenant_id,
        )
        return None if row is None else _tenant(row)

    async def lock(self, tenant_id: str) -> bool:
        locked = await self._conn.fetchval(
            "SELECT true FROM tenants WHERE tenant_id = $1 FOR UPDATE", tenant_id
        )
        return bool(locked)

    async def save(self, tenant: Tenant) -> None:
        await self._conn.execute(
            """UPDATE tenants SET display_name = $2, state = $3, plan = $4,
                      owner_contacts = $5, labels = $6::jsonb, state_changed_at = $7,
                      suspension_reason = $8, restore_to = $9, delete_after = $10,
                      deletion_requested_at = $11, updated_at = $12, provisioned_at = $13
                WHERE tenant_id = $1""",
            tenant.tenant_id,
            tenant.display_name,
            tenant.state.value,
            tenant.plan,
            list(tenant.owner_contacts),
            json.dumps(dict(tenant.labels)),
            tenant.state_changed_at,
            tenant.suspension_reason,
            None if tenant.restore_to is None else tenant.restore_to.value,
            tenant.delete_after,
            tenant.deletion_requested_at,
            tenant.updated_at,
            tenant.provisioned_at,
        )

    async def placed_awaiting(self, limit: int) -> list[str]:
        # The placement columns are the placer's; tenancy only reads them.
        rows = await self._conn.fetch(
            """SELECT tenant_id FROM tenants
                WHERE state = 'provisioning' AND placed_at IS NOT NULL
                ORDER BY tenant_id LIMIT $1""",
            limit,
        )
        return [row["tenant_id"] for row in rows]

    async def search(self, query: TenantQuery, after: str, limit: int) -> list[Tenant]:
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM tenants
                 WHERE tenant_id > $1
                   AND ($2::text IS NULL OR state = $2)
                   AND ($3::text IS NULL OR plan = $3)
                   AND labels @> $4::jsonb
                 ORDER BY tenant_id LIMIT $5""",  # noqa: S608 - constant columns
            after,
            None if query.state is None else query.state.value,
            query.plan,
            json.dumps(dict(query.labels)),
            limit,
        )
        return [_tenant(row) for row in rows]

    async def deletions_due(self, now: datetime, limit: int) -> list[Tenant]:
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM tenants
                 WHERE state = 'deleting' AND deletion_requested_at IS NULL
                   AND delete_after <= $1
                 ORDER BY delete_after LIMIT $2
                 FOR UPDATE SKIP LOCKED""",  # noqa: S608 - constant columns
            now,
            limit,
        )
        return [_tenant(row) for row in rows]

    async def refused(self) -> list[Tenant]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM tenants WHERE state = ANY($1::text[]) ORDER BY tenant_id",  # noqa: S608 - constant columns
            [s.value for s in REFUSED_STATES],
        )
        return [_tenant(row) for row in rows]


class PgDataDeletionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record(self, tenant_id: str, service: str, rows: int, at: datetime) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO tenant_data_deletions (tenant_id, service, rows_deleted, reported_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
            tenant_id,
            service,
            rows,
            at,
        )
        return bool(inserted)

    async def reported(self, tenant_id: str) -> set[str]:
        rows = await self._conn.fetch(
            "SELECT service FROM tenant_data_deletions WHERE tenant_id = $1", tenant_id
        )
        return {row["service"] for row in rows}


def _tenant(row: asyncpg.Record) -> Tenant:
    labels = row["labels"]
    return Tenant(
        tenant_id=row["tenant_id"],
        display_name=row["display_name"],
        created_at=row["created_at"],
        state=TenantState(row["state"]),
        plan=row["plan"],
        owner_contacts=tuple(row["owner_contacts"]),
        labels=json.loads(labels) if isinstance(labels, str) else dict(labels),
        state_changed_at=row["state_changed_at"],
        suspension_reason=row["suspension_reason"],
        restore_to=None if row["restore_to"] is None else TenantState(row["restore_to"]),
        delete_after=row["delete_after"],
        deletion_requested_at=row["deletion_requested_at"],
        updated_at=row["updated_at"],
        isolation=Isolation(row["isolation"]),
        placed_at=row["placed_at"],
        placement_location=row["placement_location"],
        placement_error=row["placement_error"],
        placement_attempts=row["placement_attempts"],
        placement_retry_at=row["placement_retry_at"],
        provisioned_at=row["provisioned_at"],
    )
