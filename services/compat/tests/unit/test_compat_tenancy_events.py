"""Tenancy's quota and usage events into compat's projection, on the in-memory adapter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.envelope import Envelope
from portico_compat.adapters.tenant_resources import MemoryTenantResources
from portico_compat.app.tenant_resources import check_tenant_resources
from portico_compat.domain.resources import Quota, Resources, Usage
from portico_compat.entrypoints.tenancy_events import (
    TENANCY_DURABLE,
    InvalidTenancyEventError,
    TenancyEventHandlers,
)
from portico_compat.errors import InvalidTenantError

CHANGED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = ev.TenantResources(cpu_millicores=4000, memory_mib=8192, storage_mib=1024)


@pytest.fixture
def projection() -> MemoryTenantResources:
    return MemoryTenantResources()


@pytest.fixture
def handlers(projection: MemoryTenantResources) -> TenancyEventHandlers:
    # The consumer's transaction is acme's in every test here.
    return TenancyEventHandlers(lambda _conn: projection.repository("acme"))


def stamp(when: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(when)
    return result


def quota_event(tenant: str = "acme", revision: int = 1, max_plugins: int = 5) -> Envelope:
    payload = ev.TenantQuotaUpdated(
        tenant_id=tenant,
        limits=LIMITS,
        max_plugins=max_plugins,
        revision=revision,
        updated_at=stamp(CHANGED),
    )
    return Envelope.of(payload, source="portico/tenancy", tenant_id="acme")


def usage_event(revision: int = 1, cpu: int = 1000) -> Envelope:
    payload = ev.TenantUsageUpdated(
        tenant_id="acme",
        used=ev.TenantResources(cpu_millicores=cpu, memory_mib=100, storage_mib=10),
        plugins=2,
        revision=revision,
    )
    return Envelope.of(payload, source="portico/tenancy", tenant_id="acme", time=CHANGED)


CONN: Connection = None  # type: ignore[assignment]  # the fake projection never touches it


async def test_the_durable_consumes_exactly_the_two_tenancy_events(
    handlers: TenancyEventHandlers,
) -> None:
    """The "compat-tenancy" consumer filters on tenant.quota.updated and tenant.usage.updated."""
    assert TENANCY_DURABLE == "compat-tenancy"
    assert sorted(handlers.handlers()) == ["tenant.quota.updated", "tenant.usage.updated"]


async def test_quota_and_usage_events_feed_the_check(
    handlers: TenancyEventHandlers, projection: MemoryTenantResources
) -> None:
    """Both events land in the projection with their change times, and the check uses them."""
    await handlers.on_quota_updated(quota_event(), CONN)
    await handlers.on_usage_updated(usage_event(), CONN)
    quota, quota_time = projection.quotas["acme"]
    usage, usage_time = projection.usage["acme"]
    assert quota == Quota(Resources(4000, 8192, 1024), 5, 1)
    assert usage == Usage(Resources(1000, 100, 10), 2, 1)
    assert quota_time == usage_time == CHANGED
    check = await check_tenant_resources(
        projection.repository("acme"), "acme", Resources(3000, 0, 0)
    )
    assert check.compatible
    over = await check_tenant_resources(
        projection.repository("acme"), "acme", Resources(3001, 0, 0)
    )
    assert over.reasons == (
        "cpu: 3001 millicores requested exceeds the 3000 available (quota 4000, used 1000)",
    )


async def test_a_stale_revision_does_not_overwrite_a_newer_one(
    handlers: TenancyEventHandlers, projection: MemoryTenantResources
) -> None:
    """Revision 1 delivered after revision 2 leaves revision 2 in place."""
    await handlers.on_quota_updated(quota_event(revision=2, max_plugins=9), CONN)
    await handlers.on_quota_updated(quota_event(revision=1, max_plugins=1), CONN)
    assert projection.quotas["acme"][0].max_plugins == 9


async def test_a_payload_for_another_tenant_is_refused(
    handlers: TenancyEventHandlers, projection: MemoryTenantResources
) -> None:
    """A payload whose tenant differs from the header's raises and changes nothing."""
    with pytest.raises(InvalidTenancyEventError, match="not the header's"):
        await handlers.on_quota_updated(quota_event(tenant="globex"), CONN)
    assert projection.quotas == {}


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (quota_event(revision=0), "revision 0 is not positive"),
        (quota_event(max_plugins=-1), "plugin count is negative"),
        (usage_event(cpu=-5), "bad figures"),
    ],
)
async def test_malformed_figures_are_refused(
    handlers: TenancyEventHandlers, projection: MemoryTenantResources, event: Envelope, problem: str
) -> None:
    """A missing revision, negative counts or amounts raise, so the event is retried then parked."""
    handle = (
        handlers.on_quota_updated
        if isinstance(event.payload, ev.TenantQuotaUpdated)
        else handlers.on_usage_updated
    )
    with pytest.raises(InvalidTenancyEventError, match=problem):
        await handle(event, CONN)
    assert (projection.quotas, projection.usage) == ({}, {})


async def test_a_wrong_payload_type_or_platform_tenant_is_refused(
    handlers: TenancyEventHandlers,
) -> None:
    """A usage payload on the quota handler, or the '*' tenant, is refused."""
    with pytest.raises(InvalidTenancyEventError, match="carries TenantUsageUpdated"):
        await handlers.on_quota_updated(usage_event(), CONN)
    wildcard = Envelope.of(
        ev.TenantQuotaUpdated(tenant_id="*", revision=1), source="x", tenant_id="*"
    )
    with pytest.raises(InvalidTenantError):
        await handlers.on_quota_updated(wildcard, CONN)
