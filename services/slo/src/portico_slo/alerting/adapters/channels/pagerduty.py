"""PagerDuty Events API v2: trigger and resolve, one event per alert.

The `dedup_key` is stable per SLO and tier (`portico/<tenant>/<slo>/<tier>`),
so every notification about the same SLO tier lands on the same incident,
and its resolution resolves it; an alert that is not an SLO's falls back to
its fingerprint. A resolve carries only routing key, action and dedup key,
as the API allows. Severity: a page is `critical`, a ticket `warning`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from portico_slo.alerting.adapters.channels.http import HttpPoster
from portico_slo.alerting.adapters.channels.render import alert_line
from portico_slo.alerting.domain.alerts import AlertStatus
from portico_slo.alerting.domain.channels import PAGERDUTY_EVENTS_URL, Channel
from portico_slo.alerting.domain.notifications import Notification, NotifiedAlert

MAX_SUMMARY = 1024
_SEVERITIES = {"page": "critical", "ticket": "warning"}


def dedup_key(tenant_id: str, alert: NotifiedAlert) -> str:
    """One key per SLO and tier, whatever the notification or group."""
    labels = alert.labels
    if "slo" in labels:
        return f"portico/{tenant_id}/{labels['slo']}/{labels.get('tier', '')}"
    return f"portico/{tenant_id}/{alert.fingerprint}"


def event(routing_key: str, tenant_id: str, alert: NotifiedAlert) -> dict[str, Any]:
    """The Events API v2 body for one alert."""
    key = dedup_key(tenant_id, alert)
    if alert.status is AlertStatus.RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    labels = alert.labels
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "client": "Portico",
        "payload": {
            "summary": alert_line(alert)[:MAX_SUMMARY],
            "source": f"portico/{tenant_id}",
            "severity": _SEVERITIES.get(labels.get("severity", ""), "error"),
            "timestamp": alert.starts_at.astimezone(UTC).isoformat(),
            "component": labels.get("plugin", ""),
            "group": labels.get("team", "") or tenant_id,
            "class": labels.get("tier", "") or labels.get("alertname", ""),
            "custom_details": {"labels": dict(labels), "annotations": dict(alert.annotations)},
        },
    }


class PagerDutySender:
    def __init__(self, http: HttpPoster) -> None:
        self._http = http

    async def send(
        self, channel: Channel, secrets: Mapping[str, str], notification: Notification
    ) -> int:
        routing_key = secrets["routing_key"]
        url = channel.settings.get("url", PAGERDUTY_EVENTS_URL)
        status = 0
        for alert in notification.alerts:
            body = json.dumps(event(routing_key, notification.tenant_id, alert)).encode()
            status = await self._http.post(url, body, what="PagerDuty", secrets=(routing_key,))
        return status
