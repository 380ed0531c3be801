"""Tenancy's quota and usage events into compat's projection, as `build` subscribes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.consumer import Subscription
from portico_common.events.envelope import Envelope
from portico_common.tenants import InvalidTenantIdError
from portico_common.timestamps import to_timestamp
from portico_compat.adapters.memory import CompatMemoryStore, committed_projection
from portico_compat.app.tenant_resources import check_tenant_resources
from portico_compat.bootstrap import Dependencies, build
from portico_compat.domain.resources import Quota, Resources, Usage
from portico_compat.errors import InvalidTenancyEventError

CHANGED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = ev.TenantResources(cpu_millicores=4000, memory_mib=8192, storage_mib=1024)
QUOTA_UPDATED = "tenant.quota.updated"
USAGE_UPDATED = "tenant.usage.updated"


@pytest.fixture
def tenancy(deps: Dependencies) -> Subscription:
    """compat's one subscription; the consumer's transaction is acme's in every test here."""
    (subscription,) = build(deps).subscriptions
    return subscription


def quota_event(tenant: str = "acme", revision: int = 1, max_plugins: int = 5) -> Envelope:
    payload = ev.TenantQuotaUpdated(
        tenant_id=tenant,
        limits=LIMITS,
        max_plugins=max_plugins,
        revision=revision,
        updated_at=to_timestamp(CHANGED),
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


CONN: Connection = None  # type: ignore[assignment]  # the in-memory projection never touches it


async def deliver(subscription: Subscription, event: Envelope, as_type: str = "") -> None:
    """Runs the handler of the event's type (or of `as_type`) as the kernel consumer would."""
    await subscription.handlers[as_type or event.type](event, CONN)


async def test_the_durable_consumes_exactly_the_two_tenancy_events(tenancy: Subscription) -> None:
    """The "compat-tenancy" consumer filters on tenant.quota.updated and tenant.usage.updated."""
    assert tenancy.durable == "compat-tenancy"
    assert sorted(tenancy.handlers) == [QUOTA_UPDATED, USAGE_UPDATED]


async def test_quota_and_usage_events_feed_the_check(
    tenancy: Subscription, store: CompatMemoryStore
) -> None:
    """Both events land in the projection with their change times, and the check uses them."""
    await deliver(tenancy, quota_event())
    await deliver(tenancy, usage_event())
    quota, quota_time = store.state.tenant_quotas["acme"]
    usage, usage_time = store.state.tenant_usage["acme"]
    assert quota == Quota(Resources(4000, 8192, 1024), 5, 1)
    assert usage == Usage(Resources(1000, 100, 10), 2, 1)
    assert quota_time == usage_time == CHANGED
    projection = committed_projection(store, "acme")
    check = await check_tenant_resources(projection, "acme", Resources(3000, 0, 0))
    assert check.compatible
    over = await check_tenant_resources(projection, "acme", Resources(3001, 0, 0))
    assert over.reasons == (
        "cpu: 3001 millicores requested exceeds the 3000 available (quota 4000, used 1000)",
    )


async def test_a_stale_revision_does_not_overwrite_a_newer_one(
    tenancy: Subscription, store: CompatMemoryStore
) -> None:
    """Revision 1 delivered after revision 2 leaves revision 2 in place."""
    await deliver(tenancy, quota_event(revision=2, max_plugins=9))
    await deliver(tenancy, quota_event(revision=1, max_plugins=1))
    assert store.state.tenant_quotas["acme"][0].max_plugins == 9


async def test_a_payload_for_another_tenant_is_refused(
    tenancy: Subscription, store: CompatMemoryStore
) -> None:
    """A payload whose tenant differs from the header's raises and changes nothing."""
    with pytest.raises(InvalidTenancyEventError, match="not the header's"):
        await deliver(tenancy, quota_event(tenant="globex"))
    assert store.state.tenant_quotas == {}


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (quota_event(revision=0), "revision 0 is not positive"),
        (quota_event(max_plugins=-1), "plugin count is negative"),
        (usage_event(cpu=-5), "bad figures"),
    ],
)
async def test_malformed_figures_are_refused(
    tenancy: Subscription, store: CompatMemoryStore, event: Envelope, problem: str
) -> None:
    """A missing revision, negative counts or amounts raise, so the event is retried then parked."""
    with pytest.raises(InvalidTenancyEventError, match=problem):
        await deliver(tenancy, event)
    assert (store.state.tenant_quotas, store.state.tenant_usage) == ({}, {})


async def test_a_wrong_payload_type_or_platform_tenant_is_refused(tenancy: Subscription) -> None:
    """A usage payload on the quota handler, or the '*' tenant, is refused."""
    with pytest.raises(InvalidTenancyEventError, match="carries TenantUsageUpdated"):
        await deliver(tenancy, usage_event(), as_type=QUOTA_UPDATED)
    wildcard = Envelope.of(
        ev.TenantQuotaUpdated(tenant_id="*", revision=1), source="x", tenant_id="*"
    )
    with pytest.raises(InvalidTenantIdError):
        await deliver(tenancy, wildcard)
