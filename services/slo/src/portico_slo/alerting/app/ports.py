"""What the alerting use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from portico_common.clock import Clock
from portico_slo.alerting.domain.alerts import Alert, AlertStatus
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.groups import AlertGroup, LogEntry
from portico_slo.alerting.domain.inhibition import InhibitRule
from portico_slo.alerting.domain.notifications import Delivery, Notification
from portico_slo.alerting.domain.routing import RouteConfig
from portico_slo.alerting.domain.silences import Silence


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingRecord:
    """A tenant's routing tree and inhibition rules, as stored."""

    tenant_id: str
    root: RouteConfig
    inhibit_rules: tuple[InhibitRule, ...]
    # When False, a page inhibits the ticket of the same SLO (on top of the rules).
    default_inhibition_disabled: bool
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One change of an alert: it fired, or it resolved."""

    tenant_id: str
    fingerprint: str
    labels: Mapping[str, str]
    status: AlertStatus
    at: datetime
    # The event that caused it (its CloudEvents id).
    event_id: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery taken by a worker, with what it needs to send it."""

    delivery: Delivery
    # None when the channel was deleted after the notification was queued.
    channel: Channel | None
    sealed_secrets: bytes | None


class ChannelRepository(Protocol):
    async def add(self, channel: Channel, sealed_secrets: bytes) -> bool:
        """Stores a new channel; False if the tenant has one with this name already."""

    async def get(self, tenant_id: str, channel_id: str) -> Channel | None: ...

    async def by_name(self, tenant_id: str, name: str) -> Channel | None: ...

    async def for_tenant(self, tenant_id: str) -> list[Channel]: ...

    async def update(self, channel: Channel, sealed_secrets: bytes) -> None: ...

    async def delete(self, tenant_id: str, channel_id: str) -> bool: ...

    async def sealed_secrets(self, tenant_id: str, channel_id: str) -> bytes | None: ...


class RoutingRepository(Protocol):
    async def get(self, tenant_id: str) -> RoutingRecord | None: ...

    async def put(self, record: RoutingRecord) -> None: ...

    async def delete(self, tenant_id: str) -> bool: ...


class SilenceRepository(Protocol):
    async def save(self, silence: Silence) -> None:
        """Stores a new silence, or replaces the one with its id."""

    async def get(self, tenant_id: str, silence_id: str) -> Silence | None: ...

    async def for_tenant(self, tenant_id: str) -> list[Silence]: ...


class AlertStore(Protocol):
    async def get(self, tenant_id: str, fingerprint: str) -> Alert | None: ...

    async def put(self, alert: Alert) -> None:
        """Stores the alert's current state (replacing the one with its labels)."""

    async def for_tenant(self, tenant_id: str) -> list[Alert]: ...

    async def record(self, entry: HistoryEntry) -> None:
        """Appends to the alert history."""

    async def history(self, tenant_id: str, *, limit: int) -> list[HistoryEntry]:
        """The latest entries, newest first."""

    async def prune(self, before: datetime) -> int:
        """Deletes alerts resolved before `before` and older history; returns how many."""


class GroupRepository(Protocol):
    async def get(self, tenant_id: str, key: str) -> AlertGroup | None: ...

    async def save(self, group: AlertGroup) -> None: ...

    async def delete(self, tenant_id: str, key: str) -> None: ...

    async def for_tenant(self, tenant_id: str) -> list[AlertGroup]: ...

    async def claim_due(self, now: datetime, limit: int) -> list[AlertGroup]:
        """Groups due to flush, locked until the transaction ends (others skip them)."""


class NotificationLog(Protocol):
    async def get(self, tenant_id: str, group_key: str, receiver: str) -> LogEntry | None: ...

    async def put(self, entry: LogEntry) -> None: ...

    async def forget(
        self, tenant_id: str, group_key: str, receiver: str, notification_id: str
    ) -> bool:
        """Deletes the entry if `notification_id` made it; True if it did."""

    async def prune(self, before: datetime) -> int:
        """Deletes entries last written before `before` (Alertmanager's nflog retention)."""


class DeliveryQueue(Protocol):
    async def enqueue(self, delivery: Delivery, *, max_pending: int, now: datetime) -> int:
        """Queues a delivery; drops the channel's oldest pending beyond `max_pending`.

        Returns how many were dropped (recorded as DROPPED, with the reason).
        """

    async def claim(
        self, now: datetime, *, limit: int, lease: timedelta, skip_channels: frozenset[str]
    ) -> list[Claimed]:
        """Pending deliveries (or ones whose worker's lease lapsed), marked SENDING."""

    async def finish(self, delivery: Delivery) -> None:
        """Stores a delivery's outcome."""

    async def latest(self, tenant_id: str, *, limit: int, channel_id: str = "") -> list[Delivery]:
        """The latest deliveries, newest first."""


class AlertingUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def channels(self) -> ChannelRepository: ...
    @property
    def routing(self) -> RoutingRepository: ...
    @property
    def silences(self) -> SilenceRepository: ...
    @property
    def alerts(self) -> AlertStore: ...
    @property
    def groups(self) -> GroupRepository: ...
    @property
    def nflog(self) -> NotificationLog: ...
    @property
    def deliveries(self) -> DeliveryQueue: ...
    @property
    def clock(self) -> Clock: ...


AlertingUowFactory = Callable[[str], AbstractAsyncContextManager[AlertingUnitOfWork]]


class SecretBox(Protocol):
    """Seals channel secrets at rest (with the tenant's key) and fingerprints them for reads."""

    @property
    def available(self) -> bool:
        """False when no key source is configured: secrets can be neither sealed nor opened."""

    async def seal(self, tenant_id: str, channel_id: str, secrets: Mapping[str, str]) -> bytes: ...

    async def open(self, tenant_id: str, channel_id: str, sealed: bytes) -> dict[str, str]: ...

    async def fingerprint(self, tenant_id: str, value: str) -> str:
        """A short keyed digest: equal secrets compare equal, the secret stays unknown."""


class ChannelSender(Protocol):
    """Sends one notification to one kind of channel."""

    async def send(
        self, channel: Channel, secrets: Mapping[str, str], notification: Notification
    ) -> int:
        """Returns the receiver's status code (0 for SMTP); raises DeliveryFailedError."""


Senders = Mapping[ChannelKind, ChannelSender]


def secret_values(secrets: Mapping[str, str]) -> Sequence[str]:
    """The values to redact from any text about a channel."""
    return [v for v in secrets.values() if v]


class DeliveryMetrics(Protocol):
    """Where delivery outcomes are counted (Prometheus in production)."""

    def observe(self, kind: str, state: str, attempts: int, seconds: float) -> None: ...


class NoMetrics:
    """Counts nothing (unit tests, and callers that do not care)."""

    def observe(self, kind: str, state: str, attempts: int, seconds: float) -> None:
        """Drops the observation."""
