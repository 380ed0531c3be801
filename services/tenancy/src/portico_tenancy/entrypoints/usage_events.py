"""Install and rollout events settle quota reservations (durable "tenancy-usage").

security's record of an install request and rollout's of a rollout confirm
the hold taken for it (it no longer expires); security's rejections and
expiries, and rollout declining an approved install's rollout, release an
install's hold, and an uninstall the install request's reservation; rollout's
completion turns the version's install hold into usage (and frees the
rollout's own hold); a refusal or a rollback releases both. Each runs in the
consumer's transaction with its inbox row, so a redelivered event settles
nothing twice; settling an already settled reservation changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.consumer import Handler
from portico_common.events.envelope import Envelope
from portico_common.tenants import require_tenant_id
from portico_tenancy.app import reservations
from portico_tenancy.app.ports import TenancyUnitOfWork
from portico_tenancy.errors import InvalidReservationError

USAGE_DURABLE = "tenancy-usage"

ConsumerUnitOfWork = Callable[[Connection, str], AbstractAsyncContextManager[TenancyUnitOfWork]]
M = TypeVar("M", bound=Message)


def usage_handlers(consumer_uow: ConsumerUnitOfWork) -> dict[str, Handler]:
    """The handler table for the consumer of the events that settle reservations."""

    async def on_install_ended(envelope: Envelope, conn: Connection) -> None:
        payload = envelope.payload
        if isinstance(payload, ev.InstallRejected | ev.InstallExpired):
            reason = f"install {envelope.type.rsplit('.', 1)[-1]}"
        elif isinstance(payload, ev.RolloutInstallDeclined):
            reason = f"install declined by rollout: {payload.reason}"
        else:
            raise InvalidReservationError(f"{envelope.type} carries {type(payload).__name__}")
        tenant = _tenant(envelope, payload)
        async with consumer_uow(conn, tenant) as tx:
            await reservations.release_install(tx, tenant, payload.request_id, reason)

    async def on_completed(envelope: Envelope, conn: Connection) -> None:
        payload = _payload(envelope, ev.RolloutCompleted)
        tenant = _tenant(envelope, payload)
        async with consumer_uow(conn, tenant) as tx:
            await reservations.went_live(
                tx, tenant, payload.plugin, payload.version, payload.rollout_id
            )

    async def on_withdrawn(envelope: Envelope, conn: Connection) -> None:
        payload = envelope.payload
        if not isinstance(payload, ev.RolloutRefused | ev.RolloutRolledBack):
            raise InvalidReservationError(f"{envelope.type} carries {type(payload).__name__}")
        tenant = _tenant(envelope, payload)
        async with consumer_uow(conn, tenant) as tx:
            await reservations.withdrawn(
                tx,
                tenant,
                payload.plugin,
                payload.version,
                payload.rollout_id,
                reason=envelope.type.removeprefix("rollout."),
            )

    async def on_uninstalled(envelope: Envelope, conn: Connection) -> None:
        payload = _payload(envelope, ev.InstallUninstalled)
        tenant = _tenant(envelope, payload)
        reason = f"uninstalled by {payload.uninstalled_by}: {payload.reason}"
        async with consumer_uow(conn, tenant) as tx:
            await reservations.uninstalled(tx, tenant, payload.request_id, reason)

    async def on_recorded(envelope: Envelope, conn: Connection) -> None:
        payload = envelope.payload
        if isinstance(payload, ev.InstallRequested):
            reservation_id = payload.request_id
        elif isinstance(payload, ev.RolloutRequested):
            reservation_id = payload.rollout_id
        else:
            raise InvalidReservationError(f"{envelope.type} carries {type(payload).__name__}")
        tenant = _tenant(envelope, payload)
        async with consumer_uow(conn, tenant) as tx:
            await reservations.confirm(tx, tenant, reservation_id)

    return {
        "plugin.install.requested": on_recorded,
        "rollout.requested": on_recorded,
        "plugin.install.rejected": on_install_ended,
        "plugin.install.expired": on_install_ended,
        "rollout.install_declined": on_install_ended,
        "plugin.install.uninstalled": on_uninstalled,
        "rollout.completed": on_completed,
        "rollout.refused": on_withdrawn,
        "rollout.rolled_back": on_withdrawn,
    }


def _payload(envelope: Envelope, cls: type[M]) -> M:
    payload = envelope.payload
    if not isinstance(payload, cls):
        raise InvalidReservationError(f"{envelope.type} carries {type(payload).__name__}")
    return payload


def _tenant(envelope: Envelope, payload: Message) -> str:
    """The tenant, once the header and the payload agree on it."""
    tenant = require_tenant_id(envelope.tenant_id)
    said = getattr(payload, "tenant_id", "")
    if said and said != tenant:
        raise InvalidReservationError(f"payload says tenant {said!r}, header says {tenant!r}")
    return tenant
