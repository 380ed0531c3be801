"""In-memory adapters of the alerting ports: the fakes unit tests wire in through `build`.

Built on the kernel's in-memory unit of work, they keep the promises the
PostgreSQL adapters keep (the contract suite runs against both): all or
nothing, a tenant sees only its rows (ALL_TENANTS every row), transactions
one at a time (so claiming is locking).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from portico_common import memory_uow
from portico_common.clock import Clock
from portico_slo.alerting.app.ports import (
    AlertingUnitOfWork,
    AlertingUowFactory,
    Claimed,
    HistoryEntry,
    RoutingRecord,
)
from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.channels import Channel
from portico_slo.alerting.domain.groups import AlertGroup, LogEntry
from portico_slo.alerting.domain.notifications import Delivery, DeliveryState
from portico_slo.alerting.domain.silences import Silence


@dataclass
class AlertingTables:
    """Every alerting table, as plain containers."""

    channels: dict[tuple[str, str], tuple[Channel, bytes]] = field(default_factory=dict)
    routing: dict[str, RoutingRecord] = field(default_factory=dict)
    silences: dict[tuple[str, str], Silence] = field(default_factory=dict)
    alerts: dict[tuple[str, str], Alert] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    groups: dict[tuple[str, str], AlertGroup] = field(default_factory=dict)
    nflog: dict[tuple[str, str, str], LogEntry] = field(default_factory=dict)
    # By notification id, in the order queued.
    deliveries: dict[str, Delivery] = field(default_factory=dict)


class MemoryAlertingUnitOfWork(memory_uow.MemoryUnitOfWork[AlertingTables]):
    """One in-memory transaction with the alerting repositories."""

    def __init__(self, state: AlertingTables, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.channels = MemoryChannels(self)
        self.routing = MemoryRouting(self)
        self.silences = MemorySilences(self)
        self.alerts = MemoryAlerts(self)
        self.groups = MemoryGroups(self)
        self.nflog = MemoryNotificationLog(self)
        self.deliveries = MemoryDeliveries(self)


class MemoryAlertingStore(memory_uow.MemoryStore[AlertingTables, MemoryAlertingUnitOfWork]):
    """Alerting's committed tables, shared by every unit of work opened on it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(
            AlertingTables(), lambda state, tenant: MemoryAlertingUnitOfWork(state, tenant, clock)
        )
        self.clock = clock

    def uow_factory(self) -> AlertingUowFactory:
        return self.open

    def consumer_uow(
        self,
    ) -> Callable[[object, str], AbstractAsyncContextManager[AlertingUnitOfWork]]:
        """Units of work for event handlers: the consumer's connection plays no part here."""

        def within(
            _conn: object, tenant_id: str
        ) -> AbstractAsyncContextManager[AlertingUnitOfWork]:
            return self.open(tenant_id)

        return within


class _Repo:
    def __init__(self, uow: MemoryAlertingUnitOfWork) -> None:
        self._uow = uow
        self._t = uow.state


class MemoryChannels(_Repo):
    async def add(self, channel: Channel, sealed_secrets: bytes) -> bool:
        self._uow.check_write(channel.tenant_id)
        if any(
            c.tenant_id == channel.tenant_id and c.name == channel.name
            for c, _ in self._t.channels.values()
        ):
            return False
        self._t.channels[channel.tenant_id, channel.channel_id] = (channel, sealed_secrets)
        return True

    async def get(self, tenant_id: str, channel_id: str) -> Channel | None:
        found = self._t.channels.get((tenant_id, channel_id))
        return found[0] if found and self._uow.sees(tenant_id) else None

    async def by_name(self, tenant_id: str, name: str) -> Channel | None:
        for channel in await self.for_tenant(tenant_id):
            if channel.name == name:
                return channel
        return None

    async def for_tenant(self, tenant_id: str) -> list[Channel]:
        if not self._uow.sees(tenant_id):
            return []
        return [c for (t, _), (c, _) in self._t.channels.items() if t == tenant_id]

    async def update(self, channel: Channel, sealed_secrets: bytes) -> None:
        key = (channel.tenant_id, channel.channel_id)
        if key in self._t.channels and self._uow.sees(channel.tenant_id):
            self._t.channels[key] = (channel, sealed_secrets)

    async def delete(self, tenant_id: str, channel_id: str) -> bool:
        if not self._uow.sees(tenant_id):
            return False
        return self._t.channels.pop((tenant_id, channel_id), None) is not None

    async def sealed_secrets(self, tenant_id: str, channel_id: str) -> bytes | None:
        found = self._t.channels.get((tenant_id, channel_id))
        return found[1] if found and self._uow.sees(tenant_id) else None


class MemoryRouting(_Repo):
    async def get(self, tenant_id: str) -> RoutingRecord | None:
        return self._t.routing.get(tenant_id) if self._uow.sees(tenant_id) else None

    async def put(self, record: RoutingRecord) -> None:
        self._uow.check_write(record.tenant_id)
        self._t.routing[record.tenant_id] = record

    async def delete(self, tenant_id: str) -> bool:
        if not self._uow.sees(tenant_id):
            return False
        return self._t.routing.pop(tenant_id, None) is not None


class MemorySilences(_Repo):
    async def save(self, silence: Silence) -> None:
        self._uow.check_write(silence.tenant_id)
        self._t.silences[silence.tenant_id, silence.silence_id] = silence

    async def get(self, tenant_id: str, silence_id: str) -> Silence | None:
        return self._t.silences.get((tenant_id, silence_id)) if self._uow.sees(tenant_id) else None

    async def for_tenant(self, tenant_id: str) -> list[Silence]:
        if not self._uow.sees(tenant_id):
            return []
        return [s for (t, _), s in self._t.silences.items() if t == tenant_id]


class MemoryAlerts(_Repo):
    async def get(self, tenant_id: str, fingerprint: str) -> Alert | None:
        return self._t.alerts.get((tenant_id, fingerprint)) if self._uow.sees(tenant_id) else None

    async def put(self, alert: Alert) -> None:
        self._uow.check_write(alert.tenant_id)
        self._t.alerts[alert.tenant_id, alert.fingerprint] = alert

    async def for_tenant(self, tenant_id: str) -> list[Alert]:
        if not self._uow.sees(tenant_id):
            return []
        return [a for (t, _), a in self._t.alerts.items() if t == tenant_id]

    async def record(self, entry: HistoryEntry) -> None:
        self._uow.check_write(entry.tenant_id)
        self._t.history.append(entry)

    async def history(self, tenant_id: str, *, limit: int) -> list[HistoryEntry]:
        if not self._uow.sees(tenant_id):
            return []
        mine = [e for e in self._t.history if e.tenant_id == tenant_id]
        return list(reversed(mine))[:limit]

    async def prune(self, before: datetime) -> int:
        gone = [
            key
            for key, a in self._t.alerts.items()
            if self._uow.sees(a.tenant_id) and a.ends_at is not None and a.ends_at < before
        ]
        for key in gone:
            del self._t.alerts[key]
        kept = [e for e in self._t.history if not (self._uow.sees(e.tenant_id) and e.at < before)]
        removed = len(gone) + len(self._t.history) - len(kept)
        self._t.history = kept
        return removed


class MemoryGroups(_Repo):
    async def get(self, tenant_id: str, key: str) -> AlertGroup | None:
        return self._t.groups.get((tenant_id, key)) if self._uow.sees(tenant_id) else None

    async def save(self, group: AlertGroup) -> None:
        self._uow.check_write(group.tenant_id)
        self._t.groups[group.tenant_id, group.key] = group

    async def delete(self, tenant_id: str, key: str) -> None:
        if self._uow.sees(tenant_id):
            self._t.groups.pop((tenant_id, key), None)

    async def for_tenant(self, tenant_id: str) -> list[AlertGroup]:
        if not self._uow.sees(tenant_id):
            return []
        return [g for (t, _), g in self._t.groups.items() if t == tenant_id]

    async def claim_due(self, now: datetime, limit: int) -> list[AlertGroup]:
        due = [g for g in self._t.groups.values() if self._uow.sees(g.tenant_id) and g.due(now)]
        due.sort(key=lambda g: (g.next_flush_at, g.tenant_id, g.key))
        return due[:limit]


class MemoryNotificationLog(_Repo):
    async def get(self, tenant_id: str, group_key: str, receiver: str) -> LogEntry | None:
        if not self._uow.sees(tenant_id):
            return None
        return self._t.nflog.get((tenant_id, group_key, receiver))

    async def put(self, entry: LogEntry) -> None:
        self._uow.check_write(entry.tenant_id)
        self._t.nflog[entry.tenant_id, entry.group_key, entry.receiver] = entry

    async def forget(
        self, tenant_id: str, group_key: str, receiver: str, notification_id: str
    ) -> bool:
        entry = await self.get(tenant_id, group_key, receiver)
        if entry is None or entry.notification_id != notification_id:
            return False
        del self._t.nflog[tenant_id, group_key, receiver]
        return True

    async def prune(self, before: datetime) -> int:
        gone = [
            key
            for key, e in self._t.nflog.items()
            if self._uow.sees(e.tenant_id) and e.notified_at < before
        ]
        for key in gone:
            del self._t.nflog[key]
        return len(gone)


class MemoryDeliveries(_Repo):
    async def enqueue(self, delivery: Delivery, *, max_pending: int, now: datetime) -> int:
        self._uow.check_write(delivery.tenant_id)
        self._t.deliveries[delivery.notification_id] = delivery
        pending = [
            d
            for d in self._t.deliveries.values()
            if d.channel_id == delivery.channel_id and d.state is DeliveryState.PENDING
        ]
        excess = pending[: max(0, len(pending) - max_pending)]
        for old in excess:
            self._t.deliveries[old.notification_id] = replace(
                old, state=DeliveryState.DROPPED, error="queue full", finished_at=now
            )
        return len(excess)

    async def claim(
        self, now: datetime, *, limit: int, lease: timedelta, skip_channels: frozenset[str]
    ) -> list[Claimed]:
        claimed: list[Claimed] = []
        for delivery in list(self._t.deliveries.values()):
            if len(claimed) >= limit:
                break
            if not self._uow.sees(delivery.tenant_id) or delivery.channel_id in skip_channels:
                continue
            lapsed = (
                delivery.state is DeliveryState.SENDING
                and delivery.lease_until is not None
                and delivery.lease_until <= now
            )
            if delivery.state is not DeliveryState.PENDING and not lapsed:
                continue
            taken = replace(delivery, state=DeliveryState.SENDING, lease_until=now + lease)
            self._t.deliveries[delivery.notification_id] = taken
            found = self._t.channels.get((delivery.tenant_id, delivery.channel_id))
            claimed.append(Claimed(taken, found[0] if found else None, found[1] if found else None))
        return claimed

    async def finish(self, delivery: Delivery) -> None:
        self._uow.check_write(delivery.tenant_id)
        self._t.deliveries[delivery.notification_id] = delivery

    async def latest(self, tenant_id: str, *, limit: int, channel_id: str = "") -> list[Delivery]:
        if not self._uow.sees(tenant_id):
            return []
        mine = [
            d
            for d in self._t.deliveries.values()
            if d.tenant_id == tenant_id and (not channel_id or d.channel_id == channel_id)
        ]
        mine.sort(key=lambda d: d.notification.created_at, reverse=True)
        return mine[:limit]
