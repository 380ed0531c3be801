"""A suspended (or deleting) tenant's rollouts pause; they go on once it is active again.

Tenancy's state events arrive through the "rollout-tenant-states" durable
consumer; each records, in the consumer's transaction, whether the tenant's
rollouts are paused. The scheduler advances no rollout of a paused tenant:
its phases stay where they are (a rollback on an SLO violation still runs).
"""

from __future__ import annotations

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.events.consumer import Handler
from portico_common.events.envelope import Envelope
from portico_rollout.app.tenants import set_tenant_state
from portico_rollout.entrypoints.events import ConsumerUnitOfWork, payload_of

TENANT_STATES_DURABLE = "rollout-tenant-states"

# Each carries the state the tenant is now in.
TenantStateEvent = (
    ev.TenantSuspended | ev.TenantResumed | ev.TenantDeletionScheduled | ev.TenantDeletionCancelled
)

_PAYLOADS: dict[str, type[TenantStateEvent]] = {
    "tenant.suspended": ev.TenantSuspended,
    "tenant.resumed": ev.TenantResumed,
    "tenant.deletion_scheduled": ev.TenantDeletionScheduled,
    "tenant.deletion_cancelled": ev.TenantDeletionCancelled,
}


def tenant_state_handlers(consumer_uow: ConsumerUnitOfWork, clock: Clock) -> dict[str, Handler]:
    """The handler table for the tenant state events (each carries the tenant's state)."""

    async def on_tenant_state(envelope: Envelope, conn: Connection) -> None:
        payload: TenantStateEvent = payload_of(envelope, _PAYLOADS[envelope.type])
        async with consumer_uow(conn, envelope.tenant_id) as tx:
            await set_tenant_state(tx, envelope.tenant_id, payload.state, clock.now())

    return dict.fromkeys(_PAYLOADS, on_tenant_state)
