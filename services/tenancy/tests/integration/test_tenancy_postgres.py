"""Tenancy against a real PostgreSQL: persistence, outbox, row-level security."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database
from portico_tenancy.adapters.postgres import pg_uow_factory
from portico_tenancy.app import handlers, quotas, reservations
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.quota import Resources
from portico_tenancy.domain.reservations import Amounts, ReservationKind
from portico_tenancy.errors import QuotaNotFoundError, TenantExistsError

pytestmark = pytest.mark.integration


def factory(db: Database) -> UnitOfWorkFactory:
    return pg_uow_factory(db, ManualClock())


async def test_created_tenant_is_persisted_with_its_event_in_the_outbox(
    tenancy_db: Database,
) -> None:
    """The tenant row and its tenant.created outbox row commit together."""
    uow = factory(tenancy_db)
    await handlers.create_tenant(uow, "acme", "Acme")
    assert (await handlers.get_tenant(uow, "acme")).display_name == "Acme"
    async with tenancy_db.pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_type, tenant_id FROM outbox")
    assert [(r["event_type"], r["tenant_id"]) for r in rows] == [("tenant.created", "acme")]


async def test_duplicate_creation_leaves_one_row_and_one_event(tenancy_db: Database) -> None:
    """A refused duplicate adds neither a row nor an event."""
    uow = factory(tenancy_db)
    await handlers.create_tenant(uow, "acme", "Acme")
    with pytest.raises(TenantExistsError):
        await handlers.create_tenant(uow, "acme", "Again")
    async with tenancy_db.transaction(ALL_TENANTS) as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        assert await conn.fetchval("SELECT count(*) FROM tenants") == 1


async def test_a_tenant_transaction_cannot_see_another_tenant(tenancy_db: Database) -> None:
    """Row-level security hides tenant b's row from tenant a, even without a WHERE clause."""
    uow = factory(tenancy_db)
    await handlers.create_tenant(uow, "tenant-a", "A")
    await handlers.create_tenant(uow, "tenant-b", "B")
    async with tenancy_db.transaction("tenant-a") as conn:
        visible = [r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM tenants")]
        updated = await conn.execute("UPDATE tenants SET display_name = 'x'")
    assert visible == ["tenant-a"]
    assert updated == "UPDATE 1"
    async with tenancy_db.transaction("tenant-a") as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO tenants (tenant_id, display_name, created_at)"
                " VALUES ('tenant-c', 'C', now())"
            )


LIMITS = Resources(cpu_millicores=2000, memory_mib=4096, storage_mib=10240)


async def test_quota_and_usage_commit_with_their_events(tenancy_db: Database) -> None:
    """The quota, the usage a live version derives and their outbox events commit together."""
    uow = factory(tenancy_db)
    await handlers.create_tenant(uow, "acme", "Acme")
    quota = await quotas.set_quota(uow, "acme", LIMITS, 5)
    claim = reservations.Claim(
        "r1", ReservationKind.INSTALL, Amounts(1, 0, 500, 512), plugin="a", version="1"
    )
    await reservations.reserve(uow, "acme", claim)
    async with uow("acme") as tx:
        usage = await reservations.refresh_usage(tx, "acme")
        assert usage is None  # nothing is live yet: no usage to announce
        await reservations.went_live(tx, "acme", "a", "1", "ro-1")
    stored, usage, held = await quotas.get_quota(uow, "acme")
    assert (stored, held) == (quota, Amounts())
    assert usage is not None
    assert (usage.used, usage.plugins, usage.revision) == (Resources(500, 512, 0), 1, 1)
    async with tenancy_db.pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_type FROM outbox ORDER BY seq")
    assert [r["event_type"] for r in rows] == [
        "tenant.created",
        "tenant.quota.updated",
        "tenant.usage.updated",
    ]


async def test_concurrent_quota_changes_get_distinct_revisions(tenancy_db: Database) -> None:
    """Racing SetQuota calls serialize on the tenant row, so revisions never repeat."""
    uow = factory(tenancy_db)
    await handlers.create_tenant(uow, "acme", "Acme")
    results = await asyncio.gather(*(quotas.set_quota(uow, "acme", LIMITS, n) for n in range(1, 9)))
    assert sorted(q.revision for q in results) == list(range(1, 9))
    stored, _, _ = await quotas.get_quota(uow, "acme")
    assert stored.revision == 8


async def test_a_tenant_cannot_see_or_write_another_tenants_quota(tenancy_db: Database) -> None:
    """Row-level security hides tenant b's quota from tenant a and refuses a cross-tenant row."""
    uow = factory(tenancy_db)
    for tenant_id in ("tenant-a", "tenant-b"):
        await handlers.create_tenant(uow, tenant_id, tenant_id)
    await quotas.set_quota(uow, "tenant-b", LIMITS, 5)
    claim = reservations.Claim("r1", ReservationKind.INSTALL, Amounts(1), plugin="a", version="1")
    await reservations.reserve(uow, "tenant-b", claim)
    async with uow("tenant-b") as tx:
        await reservations.went_live(tx, "tenant-b", "a", "1", "ro-1")
    with pytest.raises(QuotaNotFoundError):
        await quotas.get_quota(uow, "tenant-a")
    async with tenancy_db.transaction("tenant-a") as conn:
        assert await conn.fetchval("SELECT count(*) FROM tenant_quotas") == 0
        assert await conn.fetchval("SELECT count(*) FROM tenant_usage") == 0
        assert await conn.fetchval("SELECT count(*) FROM tenant_reservations") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO tenant_quotas VALUES ('tenant-b', 1, 1, 1, 1, 99, now())"
                " ON CONFLICT (tenant_id) DO UPDATE SET revision = 99"
            )
