"""Secure install hands over to rollout: plugin.install.approved requests the canary.

When the rollout cannot be requested (another rollout of the plugin runs, or
the tenant's concurrent rollouts are full) rollout.install_declined says so,
and tenancy releases the install's quota hold.

security approves an install (by policy or by its approvers) and emits
plugin.install.approved; this handler requests the rollout in the consumer's
transaction, together with the inbox row, so a redelivery requests nothing
twice. The version's SLO is ensured first, as for any request; while slo is
unreachable the event is retried. The rollout then waits for plugin.artifact.verified and
plugin.compat.checked exactly as one requested over RequestRollout does.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.consumer import Handler
from portico_common.events.envelope import Envelope
from portico_rollout.app import handlers
from portico_rollout.app.handlers import Defaults, RolloutSpec
from portico_rollout.app.ports import RolloutQuota, RolloutUnitOfWork, SloSource
from portico_rollout.entrypoints.events import ConsumerUnitOfWork, payload_of
from portico_rollout.errors import (
    RolloutAlreadyExistsError,
    RolloutQuotaExceededError,
    VersionStillFailingError,
)

INSTALLS_DURABLE = "rollout-installs"

log = logging.getLogger(__name__)


def install_handlers(
    consumer_uow: ConsumerUnitOfWork,
    slo: SloSource,
    defaults: Defaults,
    quota: RolloutQuota | None = None,
) -> dict[str, Handler]:
    """The handler table for an EventConsumer on the install events rollout acts on."""

    async def on_install_approved(envelope: Envelope, conn: Connection) -> None:
        payload = payload_of(envelope, ev.InstallApproved)

        def within(tenant_id: str) -> AbstractAsyncContextManager[RolloutUnitOfWork]:
            # The consumer's transaction, which the header's tenant scopes.
            return consumer_uow(conn, tenant_id)

        try:
            await handlers.request_rollout(
                within,
                slo,
                envelope.tenant_id,
                payload.plugin,
                payload.version,
                spec=RolloutSpec(
                    phases=tuple(payload.rollout_phases),
                    bake_seconds=payload.rollout_bake_seconds,
                ),
                defaults=defaults,
                quota=quota,
            )
        except (
            RolloutAlreadyExistsError,
            RolloutQuotaExceededError,
            VersionStillFailingError,
        ) as exc:
            # Not retryable: another version is rolling out, the tenant runs as
            # many rollouts as its quota allows, or the version is failing now
            # (its SLO burns, a breaker is open). The install stays approved;
            # requesting the rollout again later is the operator's call. Nothing
            # was written, so the decline commits with the inbox row, and tenancy
            # releases the install's hold on the quota from it.
            log.warning(
                "approved install not rolled out",
                extra={"request_id": payload.request_id, "error": str(exc)},
            )
            await handlers.decline_install(
                within,
                envelope.tenant_id,
                payload.request_id,
                payload.plugin,
                payload.version,
                f"rollout not requested: {exc}",
            )

    return {"plugin.install.approved": on_install_approved}
