"""Tenancy use cases."""

from __future__ import annotations

from portico.events.v1 import events_pb2
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.tenant import Tenant, validate_tenant_id
from portico_tenancy.errors import TenantExistsError, TenantNotFoundError


async def create_tenant(uow: UnitOfWorkFactory, tenant_id: str, display_name: str) -> Tenant:
    """Creates and persists a tenant; emits tenant.created in the same transaction."""
    validate_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        tenant = Tenant.create(tenant_id, display_name, tx.clock.now())
        if not await tx.tenants.add(tenant):
            raise TenantExistsError(f"tenant {tenant_id!r} already exists")
        await tx.emit(
            events_pb2.TenantCreated(tenant_id=tenant.tenant_id, display_name=tenant.display_name),
            subject=tenant.tenant_id,
        )
    return tenant


async def get_tenant(uow: UnitOfWorkFactory, tenant_id: str) -> Tenant:
    validate_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        tenant = await tx.tenants.get(tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"tenant {tenant_id!r} not found")
    return tenant
