"""The change feed on NATS: a core subscription to rollout's own events, on every replica.

Not a JetStream consumer: every replica must see every event (a durable
would share them out), nothing needs replaying (the database is read back),
and the subscription costs the server no consumer state. What core NATS does
not promise, delivery across a reconnect, is covered by reporting a gap on
every reconnect, after which the whole view is read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from google.protobuf.message import Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from portico.events.v1 import events_pb2 as ev
from portico_common.errors import EventError
from portico_common.events.catalog import subject_for
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_rollout.app.assignments import Ended, OnChange, OnGap

log = logging.getLogger(__name__)

# Every event rollout publishes (the topology's watch of rollout on itself).
SUBJECT = subject_for("rollout.>")


def ended_by(payload: Message) -> Ended | None:
    """The rollout an event ended and what serves everyone after it; None for other events."""
    match payload:
        case ev.RolloutRolledBack():
            return Ended(payload.rollout_id, payload.stable_version)
        case ev.RolloutCompleted():
            return Ended(payload.rollout_id, payload.version)
        case ev.RolloutRefused():
            # It never served anyone: the stable version stays what it was.
            return Ended(payload.rollout_id, None)
    return None


class NatsChangeFeed:
    """The ChangeFeed on the runtime's NATS connection."""

    def __init__(
        self, nc: NatsClient, *, subject: str = SUBJECT, reconnect_check_seconds: float = 0.1
    ) -> None:
        self._nc = nc
        self._subject = subject
        self._check = reconnect_check_seconds

    @asynccontextmanager
    async def subscribe(self, on_change: OnChange, on_gap: OnGap) -> AsyncIterator[None]:
        async def on_message(msg: Msg) -> None:
            try:
                envelope = Envelope.decode(msg.headers, msg.data)
            except EventError as exc:
                log.warning("undecodable rollout event ignored", extra={"error": str(exc)})
                return
            if envelope.source != owner_source(envelope.type):
                # Only rollout speaks for rollout.*; the view reads the database
                # anyway, so this only spares a read.
                return
            plugin = getattr(envelope.payload, "plugin", "")
            if plugin:
                on_change(envelope.tenant_id, plugin, ended_by(envelope.payload))

        subscription = await self._nc.subscribe(self._subject, cb=on_message)
        watcher = asyncio.create_task(self._watch_reconnects(on_gap), name="view-reconnects")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _watch_reconnects(self, on_gap: OnGap) -> None:
        # nats-py counts reconnects in `stats`; a callback could only be set at
        # connect time, on a connection the kernel opens for the whole service.
        seen = self._nc.stats["reconnects"]
        while True:
            await asyncio.sleep(self._check)
            now = self._nc.stats["reconnects"]
            if now != seen and self._nc.is_connected:
                seen = now
                on_gap()
