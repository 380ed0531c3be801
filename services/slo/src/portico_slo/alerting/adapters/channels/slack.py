"""Slack incoming webhooks: a Block Kit message (with `text` as the notification fallback).

Blocks follow Slack's limits: a header's plain text up to 150 characters, a
section's text up to 3000, at most 10 fields and 10 context elements, 50
blocks. Text is escaped as Slack's mrkdwn requires (&, <, >).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from portico_slo.alerting.adapters.channels.http import HttpPoster
from portico_slo.alerting.adapters.channels.render import alert_line, title
from portico_slo.alerting.domain.channels import Channel
from portico_slo.alerting.domain.notifications import Notification

MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELDS = 10
_FIELD_LABELS = ("tenant", "plugin", "version", "slo", "tier", "severity", "team")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blocks(notification: Notification) -> dict[str, Any]:
    """The message body Slack's incoming webhook takes."""
    heading = title(notification)
    lines = [f"• {escape(alert_line(a))}" for a in notification.alerts]
    common = notification.common_labels
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{name}*\n{escape(common[name])}", 2000)}
        for name in _FIELD_LABELS
        if name in common
    ][:MAX_FIELDS]
    message_blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(heading, MAX_HEADER), "emoji": True},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip("\n".join(lines), MAX_SECTION)},
        },
    ]
    if fields:
        message_blocks.append({"type": "section", "fields": fields})
    message_blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(
                        f"{escape(notification.reason.value)} · receiver"
                        f" {escape(notification.receiver)} · Portico",
                        MAX_SECTION,
                    ),
                }
            ],
        }
    )
    return {"text": _clip(heading, MAX_SECTION), "blocks": message_blocks}


class SlackSender:
    def __init__(self, http: HttpPoster) -> None:
        self._http = http

    async def send(
        self,
        channel: Channel,  # noqa: ARG002 - the sender port's signature; this kind needs only secrets
        secrets: Mapping[str, str],
        notification: Notification,
    ) -> int:
        body = json.dumps(blocks(notification)).encode()
        return await self._http.post(secrets["webhook_url"], body, what="Slack")
