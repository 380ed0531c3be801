"""Secure install hands over to rollout: plugin.install.approved requests the canary.

security approves an install (by policy or by its approvers) and emits
plugin.install.approved; this handler requests the rollout in the consumer's
transaction, together with the inbox row, so a redelivery requests nothing
twice. The rollout then waits for plugin.artifact.verified and
plugin.compat.checked exactly as one requested over RequestRollout does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.consumer import Handler
from portico_common.events.envelope import Envelope
from portico_rollout.app import handlers
from portico_rollout.app.ports import RolloutUnitOfWork
from portico_rollout.domain.naming import validate_tenant_id
from portico_rollout.errors import InvalidRolloutError, RolloutAlreadyExistsError

INSTALLS_DURABLE = "rollout-installs"

log = logging.getLogger(__name__)

MakeUnitOfWork = Callable[[Connection, str], RolloutUnitOfWork]


def install_handlers(make_uow: MakeUnitOfWork, *, default_bake_seconds: int) -> dict[str, Handler]:
    """The handler table for an EventConsumer on the install events rollout acts on."""

    async def on_install_approved(envelope: Envelope, conn: Connection) -> None:
        validate_tenant_id(envelope.tenant_id)
        payload = envelope.payload
        if not isinstance(payload, ev.InstallApproved):
            raise InvalidRolloutError("event", f"{envelope.type} carries {type(payload).__name__}")
        if payload.tenant_id and payload.tenant_id != envelope.tenant_id:
            raise InvalidRolloutError(
                "tenant_id",
                f"payload says {payload.tenant_id!r}, header says {envelope.tenant_id!r}",
            )
        tx = make_uow(conn, envelope.tenant_id)

        @asynccontextmanager
        async def within(tenant_id: str) -> AsyncIterator[RolloutUnitOfWork]:
            del tenant_id  # the consumer's transaction is already this tenant's
            yield tx

        try:
            await handlers.request_rollout(
                within,
                envelope.tenant_id,
                payload.plugin,
                payload.version,
                phases=tuple(payload.rollout_phases),
                bake_seconds=payload.rollout_bake_seconds,
                default_bake_seconds=default_bake_seconds,
            )
        except RolloutAlreadyExistsError as exc:
            # Not retryable: another version is rolling out. The install stays
            # approved; requesting the rollout again later is the operator's call.
            log.warning(
                "approved install not rolled out",
                extra={"request_id": payload.request_id, "error": str(exc)},
            )

    return {"plugin.install.approved": on_install_approved}
