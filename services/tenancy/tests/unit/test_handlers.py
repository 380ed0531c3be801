"""Tenancy use cases and its servicer over the in-memory adapter, wired by `build`."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_common.grpc.interceptor import Context
from portico_common.tenants import InvalidTenantIdError
from portico_tenancy.app import handlers, quotas, reservations
from portico_tenancy.domain.quota import Resources
from portico_tenancy.domain.reservations import Amounts, ReservationKind
from portico_tenancy.errors import (
    InvalidQuotaError,
    QuotaNotFoundError,
    TenantExistsError,
    TenantNotFoundError,
    UsageIsDerivedError,
)
from portico_tenancy.testing import TenancyWorld as World


async def test_create_tenant_persists_and_emits_tenant_created() -> None:
    """Creating a tenant stores it and emits tenant.created once."""
    world = World()
    tenant = await handlers.create_tenant(world.uow, "acme", "Acme Corp")
    assert world.tables.tenants["acme"] == tenant
    assert tenant.created_at == world.clock.now()
    assert world.committed == [
        events_pb2.TenantCreated(tenant_id="acme", display_name="Acme Corp", isolation="pool")
    ]


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


async def test_get_quota_returns_quota_usage_and_what_is_held() -> None:
    """GetQuota answers the quota, the usage derived from live versions, and the holds on top."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    quota = await quotas.set_quota(world.uow, "acme", LIMITS, 12)
    assert await quotas.get_quota(world.uow, "acme") == (quota, None, Amounts())
    await reservations.reserve(world.uow, "acme", _install("r1", "a", cpu=500))
    await reservations.reserve(world.uow, "acme", _install("r2", "b", cpu=300))
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "a", "1.0.0", "ro-1")
    got_quota, usage, held = await quotas.get_quota(world.uow, "acme")
    assert got_quota == quota
    assert usage is not None
    assert (usage.plugins, usage.used.cpu_millicores, usage.revision) == (1, 500, 1)
    assert held == Amounts(plugins=1, cpu_millicores=300)


async def test_get_quota_without_one_is_not_found() -> None:
    """A tenant whose quota was never set has none to return."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    with pytest.raises(QuotaNotFoundError, match="no quota"):
        await quotas.get_quota(world.uow, "acme")


async def test_usage_is_derived_from_versions_going_live_and_emitted_at_each_change() -> None:
    """A completed rollout makes usage, a newer version replaces the older; revisions 1 then 2."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await reservations.reserve(world.uow, "acme", _install("r1", "a", cpu=500, version="1.0.0"))
    await reservations.reserve(world.uow, "acme", _install("r2", "b", cpu=200))
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "a", "1.0.0", "ro-1")
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "b", "1.0.0", "ro-2")
    # An upgrade of `a` to 2.0.0 with more CPU replaces 1.0.0 once live.
    await reservations.reserve(world.uow, "acme", _install("r3", "a", cpu=800, version="2.0.0"))
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "a", "2.0.0", "ro-3")
    usage = world.tables.usage["acme"]
    assert (usage.used, usage.plugins, usage.revision) == (Resources(1000, 0, 0), 2, 3)
    events = [e for e in world.committed if isinstance(e, events_pb2.TenantUsageUpdated)]
    assert [(e.used.cpu_millicores, e.plugins, e.revision) for e in events] == [
        (500, 1, 1),
        (700, 2, 2),
        (1000, 2, 3),
    ]
    assert world.tables.reservations["acme", "r1"].reason == "replaced by a@2.0.0"


async def test_recording_usage_is_refused_because_it_is_derived() -> None:
    """RecordUsage answers FAILED_PRECONDITION and stores nothing: nobody reports usage."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    with pytest.raises(UsageIsDerivedError, match="derived from install and rollout events"):
        await world.servicer.RecordUsage(
            pb.RecordUsageRequest(tenant_id="acme", plugins=1), CONTEXT
        )
    assert world.tables.usage == {}
    assert len(world.committed) == 1


async def test_servicer_refuses_a_quota_without_limits() -> None:
    """SetQuota with no `limits` message is INVALID_ARGUMENT rather than an all-zero quota."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    servicer = world.servicer
    with pytest.raises(InvalidQuotaError, match="limits is required"):
        await servicer.SetQuota(pb.SetQuotaRequest(tenant_id="acme", max_plugins=2), CONTEXT)
    assert world.tables.quotas == {}


async def test_servicer_leaves_usage_unset_until_a_version_went_live() -> None:
    """GetQuota's `usage` is absent before anything went live; `reserved` shows the holds."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    servicer = world.servicer
    limits = pb.Resources(cpu_millicores=1, memory_mib=2, storage_mib=3)
    await servicer.SetQuota(
        pb.SetQuotaRequest(
            tenant_id="acme", limits=limits, max_plugins=5, max_concurrent_rollouts=2
        ),
        CONTEXT,
    )
    await reservations.reserve(world.uow, "acme", _install("r1", "a"))
    before = await servicer.GetQuota(pb.GetQuotaRequest(tenant_id="acme"), CONTEXT)
    assert not before.HasField("usage")
    assert before.quota.limits == limits
    assert before.quota.max_concurrent_rollouts == 2
    assert before.reserved.plugins == 1
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "a", "1.0.0", "ro-1")
    after = await servicer.GetQuota(pb.GetQuotaRequest(tenant_id="acme"), CONTEXT)
    assert (after.usage.plugins, after.usage.used) == (1, pb.Resources())
    assert after.reserved.plugins == 0


def _install(
    request_id: str, plugin: str, *, cpu: int = 0, version: str = "1.0.0"
) -> reservations.Claim:
    return reservations.Claim(
        request_id,
        ReservationKind.INSTALL,
        Amounts(plugins=1, cpu_millicores=cpu),
        plugin=plugin,
        version=version,
    )
