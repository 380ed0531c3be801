"""Generic webhooks, signed per the Standard Webhooks specification.

The body is Alertmanager's webhook message (version 4); the headers are
`webhook-id` (the notification id, the same on every retry so receivers can
deduplicate), `webhook-timestamp` and `webhook-signature`, made by the
`standardwebhooks` library with the channel's `whsec_` secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from portico_common.clock import Clock
from portico_slo.alerting.adapters.channels.http import HttpPoster
from portico_slo.alerting.domain.channels import Channel
from portico_slo.alerting.domain.notifications import Notification, NotifiedAlert

# What Alertmanager writes for "no end yet".
ZERO_TIME = "0001-01-01T00:00:00Z"


def _time(value: datetime | None) -> str:
    return ZERO_TIME if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _alert(alert: NotifiedAlert) -> dict[str, Any]:
    return {
        "status": alert.status.value,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": _time(alert.starts_at),
        "endsAt": _time(alert.ends_at),
        "generatorURL": "",
        "fingerprint": alert.fingerprint,
    }


def message(notification: Notification) -> dict[str, Any]:
    """Alertmanager's webhook message for a notification."""
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": notification.status.value,
        "receiver": notification.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": notification.common_labels,
        "commonAnnotations": notification.common_annotations,
        "externalURL": "",
        "alerts": [_alert(a) for a in notification.alerts],
    }


class StandardWebhookSender:
    def __init__(self, http: HttpPoster, wall_clock: Clock) -> None:
        self._http = http
        self._clock = wall_clock

    async def send(
        self,
        channel: Channel,  # noqa: ARG002 - the sender port's signature; this kind needs only secrets
        secrets: Mapping[str, str],
        notification: Notification,
    ) -> int:
        body = json.dumps(message(notification))
        msg_id = notification.notification_id
        now = self._clock.now()
        signature = Webhook(secrets["signing_secret"]).sign(msg_id, now, body)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        return await self._http.post(secrets["url"], body.encode(), what="webhook", headers=headers)
