"""Retention: resolved alerts, old history and the notification log go.

Alertmanager keeps its notification log and resolved alerts for a retention
period (5 days by default); here one period covers them all. A group's log
entry is rewritten at least every repeat interval while its alerts fire, so a
retention longer than the longest repeat interval never forgets one in use.
The delivery log, which grows with every notification, is not purged here but
by the kernel's batched retention (`bootstrap.retention_rules`).
"""

from __future__ import annotations

from datetime import timedelta

from portico_common.tenants import ALL_TENANTS
from portico_slo.alerting.app.ports import AlertingUowFactory


async def prune_alerting(uow: AlertingUowFactory, *, retention: timedelta) -> int:
    """Deletes what is older than `retention`, for every tenant; returns how many rows."""
    async with uow(ALL_TENANTS) as tx:
        before = tx.clock.now() - retention
        return await tx.alerts.prune(before) + await tx.nflog.prune(before)
