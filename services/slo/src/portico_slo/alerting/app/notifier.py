"""The notifier: flushes the aggregation groups that are due, on the Clock.

One transaction takes a batch of due groups (locked, so replicas share the
work), decides each flush (mutes, deduplication against the notification
log) and queues the notifications. Nothing here waits on a channel: the
delivery job sends what is queued.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from portico_common.tenants import ALL_TENANTS
from portico_slo.alerting.app.ports import AlertingUnitOfWork, AlertingUowFactory
from portico_slo.alerting.app.routing import inhibit_rules
from portico_slo.alerting.domain.channels import Channel
from portico_slo.alerting.domain.groups import flush
from portico_slo.alerting.domain.inhibition import Inhibitor
from portico_slo.alerting.domain.labels import LabelSet
from portico_slo.alerting.domain.notifications import Delivery, DeliveryState
from portico_slo.alerting.domain.silences import SilenceState

log = logging.getLogger(__name__)


@dataclass
class _Tenant:
    """What flushing a tenant's groups reads once per batch."""

    channels: dict[str, Channel]
    mutes: Callable[[LabelSet], bool]


async def _tenant(tx: AlertingUnitOfWork, tenant_id: str, now: datetime) -> _Tenant:
    routing = await tx.routing.get(tenant_id)
    inhibitor = Inhibitor(inhibit_rules(routing), await tx.alerts.for_tenant(tenant_id), now)
    silences = [
        s for s in await tx.silences.for_tenant(tenant_id) if s.state(now) is SilenceState.ACTIVE
    ]

    def mutes(labels: LabelSet) -> bool:
        return inhibitor.mutes(labels) or any(s.mutes(labels, now) for s in silences)

    channels = {c.name: c for c in await tx.channels.for_tenant(tenant_id)}
    return _Tenant(channels=channels, mutes=mutes)


async def flush_due_groups(uow: AlertingUowFactory, *, limit: int, max_pending: int) -> int:
    """Flushes up to `limit` due groups; returns how many it flushed."""
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        groups = await tx.groups.claim_due(now, limit)
        tenants: dict[str, _Tenant] = {}
        for group in groups:
            if group.tenant_id not in tenants:
                tenants[group.tenant_id] = await _tenant(tx, group.tenant_id, now)
            tenant = tenants[group.tenant_id]
            channel = tenant.channels.get(group.receiver)
            entry = await tx.nflog.get(group.tenant_id, group.key, group.receiver)
            result = flush(
                group,
                now,
                entry=entry,
                mutes=tenant.mutes,
                send_resolved=True if channel is None else channel.send_resolved,
                notification_id=str(uuid.uuid4()),
            )
            if result.entry is not None:
                await tx.nflog.put(result.entry)
            if result.notification is not None:
                if channel is None:
                    await tx.deliveries.finish(
                        Delivery(
                            notification=result.notification,
                            channel_id="",
                            state=DeliveryState.DROPPED,
                            error=f"no channel named {group.receiver!r}",
                            finished_at=now,
                        )
                    )
                else:
                    dropped = await tx.deliveries.enqueue(
                        Delivery(notification=result.notification, channel_id=channel.channel_id),
                        max_pending=max_pending,
                        now=now,
                    )
                    if dropped:
                        log.warning(
                            "alert channel queue full",
                            extra={"channel_id": channel.channel_id, "dropped": dropped},
                        )
            if result.group is None:
                await tx.groups.delete(group.tenant_id, group.key)
            else:
                await tx.groups.save(result.group)
    return len(groups)
