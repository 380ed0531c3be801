"""Domain events to `portico.events.v1` messages: the protobuf edge of the service."""

from __future__ import annotations

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.timestamps import to_timestamp
from portico_tenancy.domain.events import (
    TenantActivated,
    TenantCreated,
    TenantDeleted,
    TenantDeletionCancelled,
    TenantDeletionRequested,
    TenantDeletionScheduled,
    TenantEvent,
    TenantQuotaUpdated,
    TenantReservationExpired,
    TenantResumed,
    TenantSuspended,
    TenantUpdated,
    TenantUsageUpdated,
)
from portico_tenancy.domain.quota import Resources


def to_message(event: TenantEvent) -> Message:
    """The proto payload published for a domain event."""
    match event:
        case TenantCreated():
            return ev.TenantCreated(
                tenant_id=event.tenant_id,
                display_name=event.display_name,
                isolation=event.isolation,
            )
        case TenantQuotaUpdated(quota=quota):
            return ev.TenantQuotaUpdated(
                tenant_id=quota.tenant_id,
                limits=_resources(quota.limits),
                max_plugins=quota.max_plugins,
                revision=quota.revision,
                updated_at=to_timestamp(quota.updated_at),
            )
        case TenantUsageUpdated(usage=usage):
            return ev.TenantUsageUpdated(
                tenant_id=usage.tenant_id,
                used=_resources(usage.used),
                plugins=usage.plugins,
                revision=usage.revision,
                updated_at=to_timestamp(usage.updated_at),
            )
        case TenantReservationExpired():
            return ev.TenantReservationExpired(
                tenant_id=event.tenant_id,
                reservation_id=event.reservation_id,
                kind=event.kind,
                plugin=event.plugin,
                version=event.version,
                reserved_at=to_timestamp(event.reserved_at),
                expired_at=to_timestamp(event.expired_at),
            )
        case _:
            return _lifecycle_message(event)
    raise TypeError(f"no message for {type(event).__name__}")


def _lifecycle_message(event: TenantEvent) -> Message:  # noqa: PLR0911 - one return per type
    match event:
        case TenantActivated():
            return ev.TenantActivated(
                tenant_id=event.tenant_id,
                state=event.state,
                at=to_timestamp(event.at),
                isolation=event.isolation,
            )
        case TenantSuspended():
            return ev.TenantSuspended(
                tenant_id=event.tenant_id,
                state=event.state,
                reason=event.reason,
                at=to_timestamp(event.at),
            )
        case TenantResumed():
            return ev.TenantResumed(
                tenant_id=event.tenant_id, state=event.state, at=to_timestamp(event.at)
            )
        case TenantDeletionScheduled():
            return ev.TenantDeletionScheduled(
                tenant_id=event.tenant_id,
                state=event.state,
                delete_after=to_timestamp(event.delete_after),
                at=to_timestamp(event.at),
            )
        case TenantDeletionCancelled():
            return ev.TenantDeletionCancelled(
                tenant_id=event.tenant_id, state=event.state, at=to_timestamp(event.at)
            )
        case TenantDeletionRequested():
            return ev.TenantDeletionRequested(
                tenant_id=event.tenant_id,
                state=event.state,
                services=list(event.services),
                at=to_timestamp(event.at),
            )
        case TenantDeleted():
            return ev.TenantDeleted(
                tenant_id=event.tenant_id, state=event.state, at=to_timestamp(event.at)
            )
        case TenantUpdated():
            return ev.TenantUpdated(
                tenant_id=event.tenant_id,
                display_name=event.display_name,
                plan=event.plan,
                labels=event.labels,
                at=to_timestamp(event.at),
            )
    raise TypeError(f"no message for {type(event).__name__}")


def _resources(r: Resources) -> ev.TenantResources:
    return ev.TenantResources(
        cpu_millicores=r.cpu_millicores, memory_mib=r.memory_mib, storage_mib=r.storage_mib
    )
