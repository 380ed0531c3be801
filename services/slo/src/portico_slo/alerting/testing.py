"""Test helpers shipped with the alerting context: a world over the in-memory adapters.

Unit tests drive alerting through slo's `build` with these: a ManualClock,
the in-memory store, the real AES-GCM box under a test key, a sender that
records (and can fail or hang), and a sleep that returns at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.crypto.keyring import FieldCipher, StaticDataKeys
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_common.timestamps import to_timestamp
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.alerting.adapters.memory import MemoryAlertingStore
from portico_slo.alerting.adapters.secrets import AesGcmSecretBox, TenantSecretBox
from portico_slo.alerting.app import delivery as delivery_app
from portico_slo.alerting.app.delivery import RetryPolicy
from portico_slo.alerting.app.notifier import flush_due_groups
from portico_slo.alerting.app.ports import AlertingUowFactory, Senders
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.notifications import Delivery, Notification
from portico_slo.alerting.errors import DeliveryFailedError
from portico_slo.alerting.wiring import AlertingDependencies
from portico_slo.bootstrap import Components, Dependencies, build
from portico_slo.sensitive import SLO_SENSITIVE_FIELDS

# A key for tests only: 32+ characters, as the setting requires.
TEST_SECRET_KEY = "test-only channel key, 32+ chars, never used in production"  # noqa: S105 - a test key
TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"
# In memory a handler's unit of work needs no connection of the consumer's.
NO_CONNECTION: Any = None


@dataclass
class Sent:
    """One notification a sender took, with what it was given."""

    channel: Channel
    secrets: dict[str, str]
    notification: Notification


@dataclass
class RecordingSender:
    """A sender that records; `failures` are raised first, one per attempt."""

    sent: list[Sent] = field(default_factory=list)
    failures: list[DeliveryFailedError] = field(default_factory=list)
    # While set, a send waits for it to clear (a receiver that hangs).
    hang: asyncio.Event | None = None
    attempts: int = 0

    async def send(
        self, channel: Channel, secrets: Mapping[str, str], notification: Notification
    ) -> int:
        self.attempts += 1
        if self.hang is not None:
            await self.hang.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(Sent(channel, dict(secrets), notification))
        return 200


@dataclass
class RecordedSleeps:
    """A sleep that returns at once and remembers how long it was asked to wait."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class RecordedMetrics:
    """Delivery outcomes as (kind, state, attempts), in order."""

    outcomes: list[tuple[str, str, int]] = field(default_factory=list)

    def observe(self, kind: str, state: str, attempts: int, seconds: float) -> None:
        assert seconds >= 0  # noqa: S101 - a test stand-in checking what it is given
        self.outcomes.append((kind, state, attempts))


@dataclass
class AlertingWorld:
    """slo's alerting over in-memory adapters, with a clock the test moves."""

    clock: ManualClock
    store: MemoryAlertingStore = field(init=False)
    sender: RecordingSender = field(default_factory=RecordingSender)
    sleeps: RecordedSleeps = field(default_factory=RecordedSleeps)
    metrics: RecordedMetrics = field(default_factory=RecordedMetrics)
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=3))
    queue_limit: int = 100
    # Senders for some kinds of channel; the others use `sender`.
    by_kind: dict[ChannelKind, RecordingSender] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = MemoryAlertingStore(self.clock)
        # Tenants' data keys held in memory; rows sealed the old way open with the old key.
        self.keys = StaticDataKeys()
        self.legacy_box = AesGcmSecretBox(TEST_SECRET_KEY)
        self.box = TenantSecretBox(FieldCipher(SLO_SENSITIVE_FIELDS, self.keys), self.legacy_box)

    @property
    def uow(self) -> AlertingUowFactory:
        return self.store.uow_factory()

    @property
    def senders(self) -> Senders:
        return {kind: self.by_kind.get(kind, self.sender) for kind in ChannelKind}

    def dependencies(self) -> AlertingDependencies:
        return AlertingDependencies(
            uow=self.uow,
            consumer_uow=self.store.consumer_uow(),
            clock=self.clock,
            box=self.box,
            senders=self.senders,
            tick_seconds=0.01,
            queue_limit=self.queue_limit,
            workers=4,
            retry=self.retry,
            sleep=self.sleeps,
            metrics=self.metrics,
        )

    def components(self) -> Components:
        """What slo runs, built with this world's alerting and an in-memory SLO store."""
        return build(
            Dependencies(
                uow=MemoryStore(self.clock).uow_factory(),
                clock=self.clock,
                gauge=MemoryBurnRates(),
                alerting=self.dependencies(),
            )
        )

    def servicer(self) -> Any:
        """The AlertingService implementation `build` registers."""
        for servicer in self.components().servicers:
            if servicer.name == "portico.slo.v1.AlertingService":
                return servicer.implementation
        raise LookupError("build registered no AlertingService")

    async def deliver_event(self, payload: Message, *, tenant: str = TENANT) -> Envelope:
        """Hands a CloudEvent to the handler slo subscribes for its type, as slo publishes it."""
        envelope = Envelope.of(
            payload, source=owner_source(type_of(payload)), tenant_id=tenant, time=self.clock.now()
        )
        for subscription in self.components().subscriptions:
            handler = subscription.handlers.get(envelope.type)
            if handler is not None:
                await handler(envelope, NO_CONNECTION)
                return envelope
        raise LookupError(f"nothing subscribes to {envelope.type}")

    async def violated(
        self,
        *,
        slo_id: str = "slo-1",
        tier: str = "1h/5m",
        severity: str = "page",
        team: str = "",
        tenant: str = TENANT,
        plugin: str = PLUGIN,
        version: str = VERSION,
        at: datetime | None = None,
    ) -> Envelope:
        """slo.violated for one SLO tier, detected now (or at `at`)."""
        return await self.deliver_event(
            ev.SloViolated(
                tenant_id=tenant,
                slo_id=slo_id,
                plugin=plugin,
                version=version,
                rule="burn-rate",
                short_window_burn_rate=20.0,
                long_window_burn_rate=15.0,
                threshold=14.4,
                detected_at=to_timestamp(at or self.clock.now()),
                tier=tier,
                severity=severity,
                team=team,
            ),
            tenant=tenant,
        )

    async def recovered(
        self, *, slo_id: str = "slo-1", tier: str = "1h/5m", tenant: str = TENANT
    ) -> Envelope:
        """slo.recovered for one SLO tier ("" for every tier), now."""
        return await self.deliver_event(
            ev.SloRecovered(
                tenant_id=tenant,
                slo_id=slo_id,
                plugin=PLUGIN,
                version=VERSION,
                tier=tier,
                recovered_at=to_timestamp(self.clock.now()),
            ),
            tenant=tenant,
        )

    async def flush(self) -> int:
        """One notifier tick: flushes every group due now."""
        return await flush_due_groups(self.uow, limit=1000, max_pending=self.queue_limit)

    async def send_queued(self) -> list[Delivery]:
        """One delivery pass: claims every queued notification and sends it."""
        claimed = await delivery_app.claim_deliveries(
            self.uow, limit=1000, lease=timedelta(minutes=2), skip_channels=frozenset()
        )
        return [
            await delivery_app.deliver(
                self.uow,
                self.box,
                self.senders,
                c,
                policy=self.retry,
                sleep=self.sleeps,
                metrics=self.metrics,
            )
            for c in claimed
        ]

    async def tick(self, seconds: float = 0.0) -> list[Delivery]:
        """Moves the clock, flushes what is due and sends what was queued."""
        self.clock.advance(seconds)
        await self.flush()
        return await self.send_queued()
