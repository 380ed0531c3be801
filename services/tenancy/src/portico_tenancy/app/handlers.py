"""Tenancy use cases: create a tenant, read it."""

from __future__ import annotations

from collections.abc import Callable

from portico_common.tenants import require_tenant_id
from portico_tenancy.app import jobs
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.events import TenantCreated
from portico_tenancy.domain.jobs import JobSpec
from portico_tenancy.domain.tenant import Isolation, Tenant
from portico_tenancy.errors import TenantExistsError, TenantNotFoundError


async def create_tenant(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    display_name: str,
    *,
    then: Callable[[str], JobSpec] | None = None,
    isolation: Isolation = Isolation.POOL,
) -> Tenant:
    """Creates and persists a tenant; emits tenant.created in the same transaction.

    `then` names the job the new tenant needs (its provisioning), enqueued in
    the same transaction as the tenant row: both commit, or neither. A bridge
    or silo tenant waits for the privileged placer, which finds it by its row
    (tenancy never places: it holds no administrator's rights). The tenant is
    `provisioning` until both are done; with neither it is `active` at once.
    """
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        tenant = Tenant.create(
            tenant_id,
            display_name,
            tx.clock.now(),
            provisioned=then is None,
            isolation=isolation,
        )
        if not await tx.tenants.add(tenant):
            raise TenantExistsError(f"tenant {tenant_id!r} already exists")
        await tx.publish(
            [
                TenantCreated(
                    tenant_id=tenant.tenant_id,
                    display_name=tenant.display_name,
                    isolation=tenant.isolation.value,
                )
            ]
        )
        if then is not None:
            await jobs.enqueue(tx, then(tenant.tenant_id))
    return tenant


async def get_tenant(uow: UnitOfWorkFactory, tenant_id: str) -> Tenant:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        tenant = await tx.tenants.get(tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"tenant {tenant_id!r} not found")
    return tenant
