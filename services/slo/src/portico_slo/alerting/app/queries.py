"""Reads: the tenant's alerts as they stand now, their history, and the delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portico_common.tenants import require_tenant_id
from portico_slo.alerting.app.ports import AlertingUowFactory, HistoryEntry
from portico_slo.alerting.app.routing import inhibit_rules
from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.inhibition import Inhibitor
from portico_slo.alerting.domain.notifications import Delivery

MAX_PAGE = 500


class AlertState(StrEnum):
    """Alertmanager's alert states, as its API reports them."""

    ACTIVE = "active"
    SUPPRESSED = "suppressed"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert with what mutes it now."""

    alert: Alert
    state: AlertState
    silenced_by: tuple[str, ...]
    inhibited: bool


def _limit(limit: int) -> int:
    return MAX_PAGE if limit <= 0 else min(limit, MAX_PAGE)


async def list_alerts(uow: AlertingUowFactory, *, tenant_id: str) -> list[AlertView]:
    """Every stored alert, firing first, with the silences and inhibition muting it now."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        now = tx.clock.now()
        alerts = await tx.alerts.for_tenant(tenant_id)
        silences = await tx.silences.for_tenant(tenant_id)
        inhibitor = Inhibitor(inhibit_rules(await tx.routing.get(tenant_id)), alerts, now)
    views = []
    for alert in alerts:
        if alert.resolved_at(now):
            views.append(AlertView(alert, AlertState.RESOLVED, (), inhibited=False))
            continue
        silenced_by = tuple(sorted(s.silence_id for s in silences if s.mutes(alert.labels, now)))
        inhibited = inhibitor.mutes(alert.labels)
        state = AlertState.SUPPRESSED if silenced_by or inhibited else AlertState.ACTIVE
        views.append(AlertView(alert, state, silenced_by, inhibited=inhibited))
    views.sort(key=lambda v: (v.state is AlertState.RESOLVED, -v.alert.starts_at.timestamp()))
    return views


async def alert_history(
    uow: AlertingUowFactory, *, tenant_id: str, limit: int = 0
) -> list[HistoryEntry]:
    """The latest firings and resolutions, newest first."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return await tx.alerts.history(tenant_id, limit=_limit(limit))


async def list_deliveries(
    uow: AlertingUowFactory, *, tenant_id: str, channel_id: str = "", limit: int = 0
) -> list[Delivery]:
    """The latest notifications with their delivery outcome, newest first."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return await tx.deliveries.latest(tenant_id, limit=_limit(limit), channel_id=channel_id)
