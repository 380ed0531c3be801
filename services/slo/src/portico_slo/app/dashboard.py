"""The tenant's whole dashboard: its SLOs (from budgets), breaker states and alert history.

The alert history comes from alerting's delivery log through the `AlertFeed`
port, so this use case needs no part of the alerting context; a service run
without alerting passes no feed and shows an empty history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from portico_common.tenants import require_tenant_id
from portico_slo.app.breakers_ports import BreakerFilter, breaker_name
from portico_slo.app.budgets import Dashboard, Panel, dashboard
from portico_slo.app.ports import UnitOfWorkFactory
from portico_slo.domain.breakers_config import BreakerState

# Notifications on the dashboard: the latest ones, each with the alerts it carried.
ALERT_HISTORY_NOTIFICATIONS = 50
_BREAKER_PAGE = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPanel:
    """A plugin version's breaker as the dashboard shows it."""

    breaker_id: str
    plugin: str
    version: str
    state: BreakerState
    since: datetime
    # Percent of the current window; -1 while fewer than the minimum calls were seen.
    failure_rate: float
    slow_call_rate: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEntry:
    """One alert of one notification, with the notification's delivery outcome."""

    notification_id: str
    # The alert's fingerprint: the same for every notification about one SLO tier.
    alert_id: str
    slo_id: str
    plugin: str
    version: str
    tier: str
    severity: str
    # firing or resolved, as the notification said.
    status: str
    receiver: str
    at: datetime
    # pending, sending, delivered, failed or dropped.
    delivery: str
    attempts: int


class AlertFeed(Protocol):
    """Where the alert history is read (alerting's delivery log)."""

    async def recent(self, tenant_id: str, *, notifications: int) -> list[AlertEntry]:
        """The SLO alerts of the latest `notifications` notifications, newest first."""


@dataclass(frozen=True, slots=True)
class TenantDashboard:
    """The SLO dashboard with the breakers and the alert history beside it."""

    board: Dashboard
    breakers: list[BreakerPanel]
    alert_history: list[AlertEntry]

    def breakers_of(self, panel: Panel) -> list[BreakerPanel]:
        """The breakers of the panel's plugin version (every version for a plugin-wide SLO)."""
        d = panel.slo.definition
        return [b for b in self.breakers if b.plugin == d.plugin and d.version in ("", b.version)]

    def alerts_of(self, panel: Panel) -> list[AlertEntry]:
        return [a for a in self.alert_history if a.slo_id == panel.slo.slo_id]


async def tenant_dashboard(
    uow: UnitOfWorkFactory, feed: AlertFeed | None, *, tenant_id: str, plugin: str = ""
) -> TenantDashboard:
    """Every SLO of the tenant (or of one plugin), every breaker, the latest alerts."""
    require_tenant_id(tenant_id)
    board = await dashboard(uow, tenant_id=tenant_id, plugin=plugin)
    breakers: list[BreakerPanel] = []
    async with uow(tenant_id) as tx:
        now = tx.clock.now()
        after = ""
        while True:
            page = await tx.breakers.page(
                tenant_id, BreakerFilter(plugin=plugin), after=after, limit=_BREAKER_PAGE
            )
            for record in page:
                b = record.breaker
                metrics = b.metrics(now)
                breakers.append(
                    BreakerPanel(
                        breaker_id=b.breaker_id,
                        plugin=b.plugin,
                        version=b.version,
                        state=b.state,
                        since=b.since,
                        failure_rate=metrics.failure_rate,
                        slow_call_rate=metrics.slow_call_rate,
                    )
                )
            if len(page) < _BREAKER_PAGE:
                break
            after = breaker_name(page[-1].breaker.plugin, page[-1].breaker.version)
    history: list[AlertEntry] = []
    if feed is not None:
        history = await feed.recent(tenant_id, notifications=ALERT_HISTORY_NOTIFICATIONS)
        if plugin:
            history = [a for a in history if a.plugin == plugin]
    return TenantDashboard(board, breakers, history)
