"""The demo's on-call: a local PagerDuty receiver, and the tenant's alerting pointed at it.

The receiver speaks PagerDuty's Events API v2 (`portico_embedded.receivers`)
and refuses an event that does not match the API's format. The tenant gets a
PagerDuty channel to it and a routing tree that pages at once, one incident
per SLO and burn-rate tier.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

from portico_cli.api import TenantApi
from portico_cli.timeline import Timeline
from portico_embedded.receivers import HttpReceiver, pagerduty_receiver

CHANNEL = "demo-oncall"


@dataclass(frozen=True)
class Page:
    """A trigger the receiver accepted."""

    dedup_key: str
    summary: str
    tier: str


class OnCall:
    """The local receiver and what the demo reads from it."""

    def __init__(self) -> None:
        self.receiver: HttpReceiver | None = None
        self.routing_key = secrets.token_hex(16)

    @property
    def url(self) -> str:
        return self.receiver.url + "/v2/enqueue" if self.receiver is not None else ""

    async def prepare(self, api: TenantApi, t: Timeline) -> None:
        """Starts the receiver; creates the channel and a routing tree that pages at once."""
        self.receiver = pagerduty_receiver()
        await api.call(
            "POST",
            "/alerting/channels",
            {"name": CHANNEL, "pagerduty": {"url": self.url, "routingKey": self.routing_key}},
        )
        await api.call(
            "PUT",
            "/alerting/routing",
            {
                "route": {
                    "receiver": CHANNEL,
                    "groupBy": {"labels": ["slo", "tier"]},
                    "groupWait": "0s",
                    "groupInterval": "1s",
                }
            },
        )
        t.step(
            f"on-call: PagerDuty Events API v2 receiver at {self.url}; channel {CHANNEL}"
            " pages at once, one incident per SLO and tier"
        )

    def triggers(self) -> list[dict[str, Any]]:
        """Every trigger the receiver took (it answers 202 only to valid ones)."""
        if self.receiver is None:
            return []
        events = [request.json() for request in list(self.receiver.requests)]
        return [e for e in events if e.get("event_action") == "trigger"]

    async def wait_for_page(self, slo_id: str, within: float) -> Page | None:
        """The first trigger about the SLO, or None when none came within `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            for event in self.triggers():
                if f"/{slo_id}/" in str(event.get("dedup_key", "")):
                    payload = event.get("payload") or {}
                    return Page(
                        str(event["dedup_key"]),
                        str(payload.get("summary", "")),
                        str(payload.get("class", "")),
                    )
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
