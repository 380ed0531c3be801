"""Tenancy's quota and usage events into compat's projection (durable "compat-tenancy").

Each handler runs inside the kernel consumer's transaction, with the inbox
row, so a redelivered event changes nothing; a stale one (lower revision)
is ignored by the projection. A malformed event raises, which naks it and,
after max_deliver attempts, parks it in the dead-letter subject.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.consumer import Handler
from portico_common.events.envelope import Envelope
from portico_common.tenants import require_tenant_id
from portico_common.timestamps import timestamp_field
from portico_compat.app.ports import TenantResourcesProjection
from portico_compat.app.tenant_resources import project_quota, project_usage
from portico_compat.domain.resources import Quota, Resources, Usage
from portico_compat.errors import InvalidPluginError, InvalidTenancyEventError

TENANCY_DURABLE = "compat-tenancy"

# The projection inside the consumer's transaction, which also records the inbox row.
ProjectionOn = Callable[[Connection], TenantResourcesProjection]
M = TypeVar("M", bound=Message)


class TenancyEventHandlers:
    """The handlers, bound to how the projection is made on the consumer's connection."""

    def __init__(self, projection_on: ProjectionOn) -> None:
        self._make = projection_on

    def handlers(self) -> dict[str, Handler]:
        return {
            "tenant.quota.updated": self.on_quota_updated,
            "tenant.usage.updated": self.on_usage_updated,
        }

    async def on_quota_updated(self, envelope: Envelope, conn: Connection) -> None:
        payload = _payload(envelope, ev.TenantQuotaUpdated)
        quota = Quota(_resources(payload.limits), payload.max_plugins, payload.revision)
        await project_quota(self._make(conn), envelope.tenant_id, quota, _when(payload, envelope))

    async def on_usage_updated(self, envelope: Envelope, conn: Connection) -> None:
        payload = _payload(envelope, ev.TenantUsageUpdated)
        usage = Usage(_resources(payload.used), payload.plugins, payload.revision)
        await project_usage(self._make(conn), envelope.tenant_id, usage, _when(payload, envelope))


def _payload(envelope: Envelope, cls: type[M]) -> M:
    """The payload, after checking its type and that its tenant matches the header's."""
    require_tenant_id(envelope.tenant_id)
    payload = envelope.payload
    if not isinstance(payload, cls):
        raise InvalidTenancyEventError(f"{envelope.type} carries {type(payload).__name__}")
    tenant = getattr(payload, "tenant_id", "")
    if tenant != envelope.tenant_id:
        raise InvalidTenancyEventError(
            f"{envelope.type}: payload tenant {tenant!r} is not the header's {envelope.tenant_id!r}"
        )
    revision = getattr(payload, "revision", 0)
    if revision < 1:
        raise InvalidTenancyEventError(f"{envelope.type}: revision {revision} is not positive")
    if getattr(payload, "max_plugins", 0) < 0 or getattr(payload, "plugins", 0) < 0:
        raise InvalidTenancyEventError(f"{envelope.type}: a plugin count is negative")
    return payload


def _resources(r: ev.TenantResources) -> Resources:
    try:
        return Resources(r.cpu_millicores, r.memory_mib, r.storage_mib)
    except InvalidPluginError as exc:
        raise InvalidTenancyEventError(f"tenancy event with bad figures: {exc}") from exc


def _when(payload: ev.TenantQuotaUpdated | ev.TenantUsageUpdated, envelope: Envelope) -> datetime:
    # The payload's own time is when tenancy changed it; ce-time is the fallback.
    return timestamp_field(payload, "updated_at") or envelope.time
