"""The protobuf edge: tenancy's domain events to portico.events.v1 messages, field by field."""

from __future__ import annotations

from datetime import UTC, datetime

from portico.events.v1 import events_pb2 as ev
from portico_common.events.catalog import type_of
from portico_common.timestamps import from_timestamp, to_timestamp
from portico_tenancy.adapters.messages import to_message
from portico_tenancy.domain.events import TenantCreated, TenantQuotaUpdated, TenantUsageUpdated
from portico_tenancy.domain.quota import Quota, Resources, Usage

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_tenant_created_maps_to_its_message() -> None:
    """TenantCreated carries the id, the display name and the isolation, as tenant.created."""
    message = to_message(
        TenantCreated(tenant_id="acme", display_name="Acme Corp", isolation="silo")
    )
    assert message == ev.TenantCreated(tenant_id="acme", display_name="Acme Corp", isolation="silo")
    assert type_of(message) == "tenant.created"


def test_quota_updated_carries_limits_revision_and_time() -> None:
    """The quota event has every limit, the revision and the update time to the microsecond."""
    quota = Quota("acme", Resources(4000, 8192, 20480), 12, 3, NOW)
    message = to_message(TenantQuotaUpdated(quota=quota))
    assert message == ev.TenantQuotaUpdated(
        tenant_id="acme",
        limits=ev.TenantResources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480),
        max_plugins=12,
        revision=3,
        updated_at=to_timestamp(NOW),
    )
    assert type_of(message) == "tenant.quota.updated"
    assert isinstance(message, ev.TenantQuotaUpdated)
    assert from_timestamp(message.updated_at) == NOW


def test_usage_updated_carries_totals_revision_and_time() -> None:
    """The usage event has the totals, the plugin count, the revision and the update time."""
    usage = Usage("acme", Resources(1500, 2048, 100), 2, 1, NOW)
    message = to_message(TenantUsageUpdated(usage=usage))
    assert message == ev.TenantUsageUpdated(
        tenant_id="acme",
        used=ev.TenantResources(cpu_millicores=1500, memory_mib=2048, storage_mib=100),
        plugins=2,
        revision=1,
        updated_at=to_timestamp(NOW),
    )
    assert type_of(message) == "tenant.usage.updated"
