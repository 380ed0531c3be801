"""What every adapter of the lifecycle's repositories must do, on memory and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from portico_common.tenants import ALL_TENANTS
from portico_tenancy.domain.tenant import Tenant, TenantQuery, TenantState

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend


async def _add(backend: Backend, tenant_id: str) -> Tenant:
    tenant = Tenant.create(tenant_id, "", backend.clock.now())
    async with backend.uow(tenant_id) as tx:
        assert await tx.tenants.add(tenant)
    return tenant


async def test_a_saved_tenant_round_trips_every_field(backend: Backend) -> None:
    """State, metadata and deletion fields are stored and read back as they were."""
    tenant = await _add(backend, "acme")
    now = backend.clock.now()
    updated, _ = tenant.update(
        now, plan="team", owner_contacts=["ops@acme.example"], labels={"region": "eu"}
    )
    suspended, _ = updated.suspend("unpaid", now)
    deleting, _ = suspended.schedule_deletion(timedelta(days=3), now)
    async with backend.uow("acme") as tx:
        await tx.tenants.save(deleting)
    async with backend.uow("acme") as tx:
        assert await tx.tenants.get_for_update("acme") == deleting


async def test_search_filters_and_pages_by_id(backend: Backend) -> None:
    """Tenants above `after`, matching state, plan and labels, by id, up to the limit."""
    for name in ("t-a", "t-b", "t-c"):
        tenant = await _add(backend, name)
        changed, _ = tenant.update(
            backend.clock.now(), plan="team" if name != "t-b" else "free", labels={"tier": "1"}
        )
        async with backend.uow(name) as tx:
            await tx.tenants.save(changed)
    async with backend.uow(ALL_TENANTS) as tx:
        team = await tx.tenants.search(TenantQuery(plan="team", labels={"tier": "1"}), "", 10)
        assert [t.tenant_id for t in team] == ["t-a", "t-c"]
        assert [t.tenant_id for t in await tx.tenants.search(TenantQuery(), "t-a", 1)] == ["t-b"]
        none = await tx.tenants.search(TenantQuery(state=TenantState.SUSPENDED), "", 10)
        assert none == []


async def test_deletions_due_and_refused_tenants(backend: Backend) -> None:
    """Only a deleting tenant past its grace period is due; refused lists every refused state."""
    tenant = await _add(backend, "acme")
    await _add(backend, "beta")
    deleting, _ = tenant.schedule_deletion(timedelta(hours=1), backend.clock.now())
    async with backend.uow("acme") as tx:
        await tx.tenants.save(deleting)
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.tenants.deletions_due(backend.clock.now(), 10) == []
        due = await tx.tenants.deletions_due(backend.clock.now() + timedelta(hours=1), 10)
        assert [t.tenant_id for t in due] == ["acme"]
        assert [t.tenant_id for t in await tx.tenants.refused()] == ["acme"]


async def test_data_deletion_reports_are_kept_once(backend: Backend) -> None:
    """A service's report is recorded once; the tenant's reports are read back."""
    await _add(backend, "acme")
    async with backend.uow("acme") as tx:
        assert await tx.data_deletions.record("acme", "slo", 3, backend.clock.now())
        assert not await tx.data_deletions.record("acme", "slo", 3, backend.clock.now())
        assert await tx.data_deletions.record("acme", "rollout", 0, backend.clock.now())
    async with backend.uow("acme") as tx:
        assert await tx.data_deletions.reported("acme") == {"slo", "rollout"}
