"""Tenancy use cases and its servicer over the in-memory adapter, wired by `build`."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_common.grpc.interceptor import Context
from portico_common.tenants import InvalidTenantIdError
from portico_tenancy.app import handlers, quotas
from portico_tenancy.domain.quota import Resources
from portico_tenancy.errors import (
    InvalidQuotaError,
    QuotaNotFoundError,
    TenantExistsError,
    TenantNotFoundError,
)
from portico_tenancy.testing import TenancyWorld as World


async def test_create_tenant_persists_and_emits_tenant_created() -> None:
    """Creating a tenant stores it and emits tenant.created once."""
    world = World()
    tenant = await handlers.create_tenant(world.uow, "acme", "Acme Corp")
    assert world.tables.tenants["acme"] == tenant
    assert tenant.created_at == world.clock.now()
    assert world.committed == [events_pb2.TenantCreated(tenant_id="acme", display_name="Acme Corp")]


async def test_duplicate_tenant_is_refused_and_emits_nothing() -> None:
    """A second tenant with the same id raises and adds no event."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    with pytest.raises(TenantExistsError, match="already exists"):
        await handlers.create_tenant(world.uow, "acme", "Other")
    assert len(world.committed) == 1
    assert world.tables.tenants["acme"].display_name == "Acme"


async def test_invalid_id_changes_nothing() -> None:
    """A malformed id is rejected before any state is touched."""
    world = World()
    with pytest.raises(InvalidTenantIdError):
        await handlers.create_tenant(world.uow, "Not Valid", "x")
    assert world.tables.tenants == {}
    assert world.committed == []


async def test_get_unknown_tenant_is_not_found() -> None:
    """Asking for a tenant that does not exist is NOT_FOUND."""
    with pytest.raises(TenantNotFoundError):
        await handlers.get_tenant(World().uow, "ghost")


# The servicer never looks at its context.
CONTEXT: Context = None  # type: ignore[assignment]
LIMITS = Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)


async def test_set_quota_stores_it_and_emits_the_first_revision() -> None:
    """A tenant's first quota is revision 1 and is announced as tenant.quota.updated."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    quota = await quotas.set_quota(world.uow, "acme", LIMITS, 12)
    assert world.tables.quotas["acme"] == quota
    assert (quota.limits, quota.max_plugins, quota.revision) == (LIMITS, 12, 1)
    event = world.committed[-1]
    assert isinstance(event, events_pb2.TenantQuotaUpdated)
    assert (event.tenant_id, event.max_plugins, event.revision) == ("acme", 12, 1)
    assert (event.limits.cpu_millicores, event.limits.memory_mib, event.limits.storage_mib) == (
        4000,
        8192,
        20480,
    )
    assert event.updated_at.ToDatetime(tzinfo=world.clock.now().tzinfo) == world.clock.now()


async def test_setting_the_quota_again_replaces_it_with_the_next_revision() -> None:
    """A second SetQuota replaces the limits and bumps the revision to 2."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await quotas.set_quota(world.uow, "acme", LIMITS, 12)
    smaller = Resources(cpu_millicores=1000, memory_mib=1024, storage_mib=1024)
    quota = await quotas.set_quota(world.uow, "acme", smaller, 3)
    assert (world.tables.quotas["acme"].limits, quota.revision) == (smaller, 2)
    revisions = [
        e.revision for e in world.committed if isinstance(e, events_pb2.TenantQuotaUpdated)
    ]
    assert revisions == [1, 2]


async def test_quota_for_an_unknown_tenant_is_refused_and_emits_nothing() -> None:
    """A quota needs an existing tenant; otherwise NOT_FOUND and no event."""
    world = World()
    with pytest.raises(TenantNotFoundError):
        await quotas.set_quota(world.uow, "ghost", LIMITS, 1)
    assert world.tables.quotas == {}
    assert world.committed == []


async def test_negative_max_plugins_is_refused_and_changes_nothing() -> None:
    """A negative plugin limit is INVALID_ARGUMENT and leaves the stored quota alone."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    first = await quotas.set_quota(world.uow, "acme", LIMITS, 5)
    with pytest.raises(InvalidQuotaError, match="max_plugins"):
        await quotas.set_quota(world.uow, "acme", LIMITS, -1)
    assert world.tables.quotas["acme"] == first
    assert len(world.committed) == 2


async def test_get_quota_returns_quota_and_last_usage() -> None:
    """GetQuota answers the quota together with the last recorded usage."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    quota = await quotas.set_quota(world.uow, "acme", LIMITS, 12)
    assert await quotas.get_quota(world.uow, "acme") == (quota, None)
    usage = await quotas.record_usage(world.uow, "acme", Resources(500, 256, 100), 2)
    assert await quotas.get_quota(world.uow, "acme") == (quota, usage)


async def test_get_quota_without_one_is_not_found() -> None:
    """A tenant whose quota was never set has none to return."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    with pytest.raises(QuotaNotFoundError, match="no quota"):
        await quotas.get_quota(world.uow, "acme")


async def test_record_usage_replaces_totals_and_emits_each_revision() -> None:
    """Usage reports are absolute totals: the second replaces the first, revisions 1 then 2."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await quotas.record_usage(world.uow, "acme", Resources(500, 256, 100), 2)
    usage = await quotas.record_usage(world.uow, "acme", Resources(200, 128, 50), 1)
    assert world.tables.usage["acme"] == usage
    assert (usage.used, usage.plugins, usage.revision) == (Resources(200, 128, 50), 1, 2)
    events = [e for e in world.committed if isinstance(e, events_pb2.TenantUsageUpdated)]
    assert [(e.used.cpu_millicores, e.plugins, e.revision) for e in events] == [
        (500, 2, 1),
        (200, 1, 2),
    ]


async def test_usage_for_an_unknown_tenant_is_refused() -> None:
    """Usage of a tenant that does not exist is NOT_FOUND and emits nothing."""
    world = World()
    with pytest.raises(TenantNotFoundError):
        await quotas.record_usage(world.uow, "ghost", Resources(), 0)
    assert world.committed == []


async def test_servicer_refuses_a_quota_without_limits() -> None:
    """SetQuota with no `limits` message is INVALID_ARGUMENT rather than an all-zero quota."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    servicer = world.servicer
    with pytest.raises(InvalidQuotaError, match="limits is required"):
        await servicer.SetQuota(pb.SetQuotaRequest(tenant_id="acme", max_plugins=2), CONTEXT)
    assert world.tables.quotas == {}


async def test_servicer_leaves_usage_unset_until_one_is_recorded() -> None:
    """GetQuota's `usage` is absent before any RecordUsage, and present after."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    servicer = world.servicer
    limits = pb.Resources(cpu_millicores=1, memory_mib=2, storage_mib=3)
    await servicer.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=limits), CONTEXT)
    before = await servicer.GetQuota(pb.GetQuotaRequest(tenant_id="acme"), CONTEXT)
    assert not before.HasField("usage")
    assert before.quota.limits == limits
    await servicer.RecordUsage(pb.RecordUsageRequest(tenant_id="acme", plugins=1), CONTEXT)
    after = await servicer.GetQuota(pb.GetQuotaRequest(tenant_id="acme"), CONTEXT)
    assert (after.usage.plugins, after.usage.used) == (1, pb.Resources())
