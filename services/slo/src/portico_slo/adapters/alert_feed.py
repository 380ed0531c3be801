"""The dashboard's alert history, read from alerting's delivery log."""

from __future__ import annotations

from portico_slo.alerting.app.ports import AlertingUowFactory
from portico_slo.alerting.app.queries import list_deliveries
from portico_slo.app.dashboard import AlertEntry


class DeliveryLogFeed:
    """Each alert of each recent notification, with that notification's delivery outcome."""

    def __init__(self, uow: AlertingUowFactory) -> None:
        self._uow = uow

    async def recent(self, tenant_id: str, *, notifications: int) -> list[AlertEntry]:
        deliveries = await list_deliveries(self._uow, tenant_id=tenant_id, limit=notifications)
        return [
            AlertEntry(
                notification_id=d.notification_id,
                alert_id=alert.fingerprint,
                slo_id=alert.labels.get("slo", ""),
                plugin=alert.labels.get("plugin", ""),
                version=alert.labels.get("version", ""),
                tier=alert.labels.get("tier", ""),
                severity=alert.labels.get("severity", ""),
                status=alert.status.value,
                receiver=d.notification.receiver,
                at=d.notification.created_at,
                delivery=d.state.value,
                attempts=d.attempts,
            )
            for d in deliveries
            for alert in d.notification.alerts
        ]
