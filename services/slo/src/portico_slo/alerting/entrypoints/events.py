"""Event handlers: slo's own violations and recoveries become alerts.

The durable consumer "slo-alerting" reads them apart from rollout's, so a
slow notification path never delays a rollback. Each handler runs inside the
consumer's transaction, with the inbox row: a redelivered event changes
nothing; an exception naks it for a retry.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Connection
from portico_common.events.consumer import Handler
from portico_common.events.envelope import Envelope
from portico_common.tenants import require_tenant_id
from portico_common.timestamps import timestamp_field
from portico_slo.alerting.app.ingest import record_signal
from portico_slo.alerting.app.ports import AlertingUnitOfWork
from portico_slo.alerting.domain.signals import Severity, SloSignal
from portico_slo.alerting.errors import InvalidAlertingError

ALERTING_DURABLE = "slo-alerting"

# A unit of work inside the consumer's transaction, for the event's tenant.
ConsumerUowFactory = Callable[[Connection, str], AbstractAsyncContextManager[AlertingUnitOfWork]]

M = TypeVar("M", bound=Message)


def payload_of(envelope: Envelope, cls: type[M]) -> M:
    """The payload, after checking the tenant header and the payload agree."""
    require_tenant_id(envelope.tenant_id)
    payload = envelope.payload
    if not isinstance(payload, cls):
        raise InvalidAlertingError("event", f"{envelope.type} carries {type(payload).__name__}")
    tenant = getattr(payload, "tenant_id", "")
    if tenant and tenant != envelope.tenant_id:
        raise InvalidAlertingError(
            "tenant_id", f"payload says {tenant!r}, header says {envelope.tenant_id!r}"
        )
    return payload


def severity(value: str) -> Severity:
    # An unknown severity pages: waking someone needlessly beats missing an outage.
    return Severity(value) if value in Severity.__members__.values() else Severity.PAGE


def violation_signal(envelope: Envelope, payload: ev.SloViolated) -> SloSignal:
    at: datetime = timestamp_field(payload, "detected_at") or envelope.time
    return SloSignal(
        tenant_id=envelope.tenant_id,
        slo_id=payload.slo_id,
        plugin=payload.plugin,
        version=payload.version,
        firing=True,
        at=at,
        tier=payload.tier or payload.rule,
        severity=severity(payload.severity),
        team=payload.team,
        annotations={
            "summary": (
                f"{payload.plugin}@{payload.version} burns its error budget"
                f" {payload.short_window_burn_rate:.1f}x (short window) and"
                f" {payload.long_window_burn_rate:.1f}x (long window);"
                f" the threshold is {payload.threshold:g}x"
            ),
            "rule": payload.rule,
            "short_window_burn_rate": f"{payload.short_window_burn_rate:.6g}",
            "long_window_burn_rate": f"{payload.long_window_burn_rate:.6g}",
            "threshold": f"{payload.threshold:g}",
        },
    )


def recovery_signal(envelope: Envelope, payload: ev.SloRecovered) -> SloSignal:
    at: datetime = timestamp_field(payload, "recovered_at") or envelope.time
    return SloSignal(
        tenant_id=envelope.tenant_id,
        slo_id=payload.slo_id,
        plugin=payload.plugin,
        version=payload.version,
        firing=False,
        at=at,
        tier=payload.tier,
    )


class AlertingEventHandlers:
    """The handlers, bound to how a unit of work is opened on the consumer's connection."""

    def __init__(self, consumer_uow: ConsumerUowFactory) -> None:
        self._uow = consumer_uow

    def handlers(self) -> dict[str, Handler]:
        return {"slo.violated": self.on_slo_violated, "slo.recovered": self.on_slo_recovered}

    async def on_slo_violated(self, envelope: Envelope, conn: Connection) -> None:
        signal = violation_signal(envelope, payload_of(envelope, ev.SloViolated))
        async with self._uow(conn, envelope.tenant_id) as tx:
            await record_signal(tx, signal, event_id=envelope.id)

    async def on_slo_recovered(self, envelope: Envelope, conn: Connection) -> None:
        signal = recovery_signal(envelope, payload_of(envelope, ev.SloRecovered))
        async with self._uow(conn, envelope.tenant_id) as tx:
            await record_signal(tx, signal, event_id=envelope.id)
