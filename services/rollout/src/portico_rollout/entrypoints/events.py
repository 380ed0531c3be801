"""Event handlers for the kernel's EventConsumer: map the CloudEvent, call the use case.

Two durable consumers, so a backlog of check verdicts never queues in front
of a rollback: "rollout-checks" takes the verdicts, "rollout-slo" takes
what makes a rollback alone (slo.violated, and slo.breaker.opened: a plugin
version's circuit breaker opening). Each handler runs inside the consumer's transaction,
with the inbox row, so a redelivered event changes nothing; an exception
naks it for a retry (and, after max_deliver, parks it in the dead-letter subject).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.events.consumer import Handler
from portico_common.events.envelope import Envelope
from portico_common.metrics import ROLLOUT_REACTION
from portico_common.tenants import require_tenant_id
from portico_common.timestamps import timestamp_field
from portico_rollout.app import handlers
from portico_rollout.app.ports import RolloutUnitOfWork
from portico_rollout.domain.verdicts import CheckKind, CheckVerdict
from portico_rollout.errors import InvalidRolloutError

CHECKS_DURABLE = "rollout-checks"
SLO_DURABLE = "rollout-slo"

# A unit of work inside the consumer's transaction (the one holding the inbox
# row), for the tenant of the event; it neither begins nor commits anything.
ConsumerUnitOfWork = Callable[[Connection, str], AbstractAsyncContextManager[RolloutUnitOfWork]]


class RolloutEventHandlers:
    """The handlers, bound to how a unit of work is opened on the consumer's connection."""

    def __init__(
        self, consumer_uow: ConsumerUnitOfWork, clock: Clock, *, watch_seconds: int = 0
    ) -> None:
        self._consumer_uow = consumer_uow
        self._clock = clock
        # How long a completed rollout stays watched for violations.
        self._watch_seconds = watch_seconds

    def checks(self) -> dict[str, Handler]:
        return {
            "plugin.artifact.verified": self.on_artifact_verified,
            "plugin.artifact.rejected": self.on_artifact_rejected,
            "plugin.compat.checked": self.on_compat_checked,
        }

    def slo(self) -> dict[str, Handler]:
        return {
            "slo.violated": self.on_slo_violated,
            "slo.breaker.opened": self.on_breaker_opened,
        }

    async def on_artifact_verified(self, envelope: Envelope, conn: Connection) -> None:
        payload = payload_of(envelope, ev.ArtifactVerified)
        await self._verdict(
            envelope,
            conn,
            plugin=payload.plugin,
            version=payload.version,
            kind="security",
            passed=True,
            reasons=(),
        )

    async def on_artifact_rejected(self, envelope: Envelope, conn: Connection) -> None:
        payload = payload_of(envelope, ev.ArtifactRejected)
        reasons = tuple(payload.reasons) or ("artifact rejected",)
        await self._verdict(
            envelope,
            conn,
            plugin=payload.plugin,
            version=payload.version,
            kind="security",
            passed=False,
            reasons=reasons,
        )

    async def on_compat_checked(self, envelope: Envelope, conn: Connection) -> None:
        payload = payload_of(envelope, ev.CompatChecked)
        reasons = tuple(
            f"{f.dimension} {f.name}: {f.reason or f'needs {f.required_range}'}"
            for f in payload.findings
            if not f.satisfied
        )
        await self._verdict(
            envelope,
            conn,
            plugin=payload.plugin,
            version=payload.version,
            kind="compat",
            passed=payload.compatible,
            reasons=reasons,
        )

    async def on_slo_violated(self, envelope: Envelope, conn: Connection) -> None:
        payload = payload_of(envelope, ev.SloViolated)
        detected_at = timestamp_field(payload, "detected_at") or envelope.time
        violation = handlers.SloViolation(
            tenant_id=envelope.tenant_id,
            plugin=payload.plugin,
            version=payload.version,
            slo_id=payload.slo_id,
            rule=payload.rule,
            event_id=envelope.id,
            detected_at=detected_at,
        )
        await self._roll_back(conn, violation)

    async def on_breaker_opened(self, envelope: Envelope, conn: Connection) -> None:
        """A breaker opening rolls back like a violation, with the breaker as the reason."""
        change = payload_of(envelope, ev.BreakerOpened).change
        violation = handlers.SloViolation(
            tenant_id=envelope.tenant_id,
            plugin=change.plugin,
            version=change.version,
            slo_id=change.slo_id,
            rule=change.summary or change.reason,
            event_id=envelope.id,
            detected_at=timestamp_field(change, "at") or envelope.time,
            breaker_id=change.breaker_id or "?",
        )
        await self._roll_back(conn, violation)

    async def _roll_back(self, conn: Connection, violation: handlers.SloViolation) -> None:
        async with self._consumer_uow(conn, violation.tenant_id) as tx:
            rolled_back = await handlers.roll_back_on_violation(
                tx, violation, watch_seconds=self._watch_seconds
            )
        if rolled_back is not None:
            reaction = (self._clock.now() - violation.detected_at).total_seconds()
            ROLLOUT_REACTION.observe(max(0.0, reaction))

    async def _verdict(
        self,
        envelope: Envelope,
        conn: Connection,
        *,
        plugin: str,
        version: str,
        kind: CheckKind,
        passed: bool,
        reasons: tuple[str, ...],
    ) -> None:
        verdict = CheckVerdict(
            tenant_id=envelope.tenant_id,
            plugin=plugin,
            version=version,
            kind=kind,
            passed=passed,
            reasons=reasons,
            event_id=envelope.id,
            at=envelope.time,
        )
        async with self._consumer_uow(conn, envelope.tenant_id) as tx:
            await handlers.record_verdict(tx, verdict)


M = TypeVar("M", bound=Message)


def payload_of(envelope: Envelope, cls: type[M]) -> M:
    """The payload, after checking the tenant header and the payload agree."""
    require_tenant_id(envelope.tenant_id)
    payload = envelope.payload
    if not isinstance(payload, cls):
        raise InvalidRolloutError("event", f"{envelope.type} carries {type(payload).__name__}")
    tenant = getattr(payload, "tenant_id", "")
    if tenant and tenant != envelope.tenant_id:
        raise InvalidRolloutError(
            "tenant_id", f"payload says {tenant!r}, header says {envelope.tenant_id!r}"
        )
    return payload
