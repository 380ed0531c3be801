"""Signals become alerts: stored, recorded in the history, routed into groups.

Runs inside the event consumer's transaction (with its inbox row), so a
redelivered event changes nothing. It never talks to a channel: groups are
flushed by the notifier job, notifications delivered by the delivery job.
"""

from __future__ import annotations

from portico_slo.alerting.app.ports import AlertingUnitOfWork, HistoryEntry
from portico_slo.alerting.app.routing import route_alert, tree_of
from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.signals import SLO_ALERT_NAME, SloSignal, resolve


async def _alerts_of(tx: AlertingUnitOfWork, signal: SloSignal) -> list[Alert]:
    if signal.firing:
        return [signal.alert()]
    # A recovery resolves the firing alerts of its SLO and tier (every tier when it
    # names none), found by those labels: it need not repeat severity or team.
    return [
        resolve(alert, signal.at)
        for alert in await tx.alerts.for_tenant(signal.tenant_id)
        if alert.labels.get("alertname") == SLO_ALERT_NAME
        and alert.labels.get("slo") == signal.slo_id
        and (not signal.tier or alert.labels.get("tier") == signal.tier)
        and not alert.resolved_at(signal.at)
    ]


async def record_signal(tx: AlertingUnitOfWork, signal: SloSignal, *, event_id: str) -> list[Alert]:
    """Stores the alerts a signal fires or resolves and routes them; returns what changed."""
    now = tx.clock.now()
    changed: list[Alert] = []
    for alert in await _alerts_of(tx, signal):
        current = await tx.alerts.get(alert.tenant_id, alert.fingerprint)
        if current is None and alert.ends_at is not None:
            continue  # a recovery of an alert that never fired here
        merged = alert if current is None else current.merge(alert)
        if merged == current:
            continue
        await tx.alerts.put(merged)
        if current is None or (current.ends_at is None) != (merged.ends_at is None):
            await tx.alerts.record(
                HistoryEntry(
                    tenant_id=merged.tenant_id,
                    fingerprint=merged.fingerprint,
                    labels=merged.labels,
                    status=merged.status_at(merged.ends_at or merged.starts_at),
                    at=merged.ends_at or merged.starts_at,
                    event_id=event_id,
                )
            )
        changed.append(merged)
    if changed:
        tree = await tree_of(tx, await tx.routing.get(signal.tenant_id))
        if tree is not None:
            for alert in changed:
                await route_alert(tx, tree, alert, now)
    return changed
