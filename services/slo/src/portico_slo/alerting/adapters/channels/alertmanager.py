"""An Alertmanager of the team's own: alerts POSTed to its API v2 (`/api/v2/alerts`).

Each alert is a postable alert: labels, annotations, startsAt, endsAt. A
resolved alert carries the time it resolved. A firing one carries an end
twice the route's repeat interval ahead, as Prometheus sends an end a few
resend intervals ahead: the notifier repeats a firing alert within that
time, and if it stops (the alert went away unnoticed), Alertmanager lets the
alert resolve by itself instead of firing forever.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from portico_slo.alerting.adapters.channels.http import HttpPoster
from portico_slo.alerting.domain.channels import Channel
from portico_slo.alerting.domain.notifications import Notification


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def postable_alerts(notification: Notification) -> list[dict[str, Any]]:
    """The body of `POST /api/v2/alerts` for a notification."""
    keep_alive = notification.created_at + 2 * notification.repeat_interval
    return [
        {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": _time(alert.starts_at),
            "endsAt": _time(alert.ends_at or keep_alive),
        }
        for alert in notification.alerts
    ]


class AlertmanagerSender:
    def __init__(self, http: HttpPoster) -> None:
        self._http = http

    async def send(
        self,
        channel: Channel,  # noqa: ARG002 - the sender port's signature; this kind needs only secrets
        secrets: Mapping[str, str],
        notification: Notification,
    ) -> int:
        url = secrets["url"].rstrip("/") + "/api/v2/alerts"
        body = json.dumps(postable_alerts(notification)).encode()
        return await self._http.post(url, body, what="Alertmanager", secrets=(secrets["url"],))
