"""Durable pull consumers with an inbox: effects happen once, poison is parked.

For each message: decode, then in ONE transaction record (consumer, ce-id) in
the inbox and run the handler; ack only after commit. A redelivery finds the
inbox row and changes nothing. A handler failure naks with backoff; after
`max_deliver` attempts (or at once for undecodable messages) the message goes
to `portico-dlq.<durable>.<type>` with the reason, and is terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from portico_common.db import Connection, Database
from portico_common.errors import EventError
from portico_common.events.catalog import DLQ_PREFIX, STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_of, source_of
from portico_common.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_PENDING,
    EVENT_AGE,
    EVENT_HANDLE_DURATION,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_REDELIVERED,
    observe_latency,
)
from portico_common.outages import unreachable_dependency
from portico_common.tracing import span_from

log = logging.getLogger(__name__)

Handler = Callable[[Envelope, Connection], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSettings:
    """Delivery policy of one durable consumer."""

    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    batch_size: int = 32
    fetch_timeout_seconds: float = 1.0
    # How long a batch fetch lingers when the stream has nothing more: nats-py's
    # batch fetch, finding nothing waiting, waits for the batch to fill or this
    # to pass, and an event landing meanwhile waits with it. Short, so a lone
    # event after a busy spell is handled at once (a rollback's reaction time).
    busy_linger_seconds: float = 0.005
    # Delay before redelivery after the n-th failure (last value repeats).
    nak_backoff_seconds: tuple[float, ...] = (0.1, 0.5, 2.0, 5.0)
    # False when a provisioner created the consumer: the service only binds to
    # it, and may not change what it reads.
    create: bool = True
    # How often the consumer's lag (pending, ack pending) is read from the server.
    lag_seconds: float = 5.0


@dataclass(frozen=True)
class Subscription:
    """A durable consumer to run: its name and its handlers by event type.

    Services list these from `build`, with no connection in sight; `serve`
    turns each into an EventConsumer on the runtime's JetStream and database.
    """

    durable: str
    handlers: Mapping[str, Handler]


def consumer_config(
    durable: str, event_types: Iterable[str], ack_wait_seconds: float = 30.0
) -> ConsumerConfig:
    """The durable consumer's configuration: the service and the provisioner agree on it."""
    return ConsumerConfig(
        durable_name=durable,
        filter_subjects=sorted(subject_for(t) for t in event_types),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        # Counted in process(), not by the server: once the server's limit is
        # reached it never redelivers, so a failed dead-letter publish would
        # lose the message instead of being retried.
        max_deliver=-1,
        ack_wait=ack_wait_seconds,
    )


class EventConsumer:
    """Runs one durable consumer and dispatches events to handlers by type."""

    def __init__(
        self,
        js: JetStreamContext,
        db: Database,
        durable: str,
        handlers: Mapping[str, Handler],
        settings: ConsumerSettings | None = None,
    ) -> None:
        if not handlers:
            raise ValueError("a consumer needs at least one handler")
        self._js = js
        self._db = db
        self.durable = durable
        self._handlers = dict(handlers)
        self._settings = settings or ConsumerSettings()
        self._sub: JetStreamContext.PullSubscription | None = None

    async def setup(self) -> None:
        """Creates or updates the durable consumer (unless provisioned); safe on every start."""
        if self._settings.create:
            await self._js.add_consumer(
                STREAM,
                consumer_config(self.durable, self._handlers, self._settings.ack_wait_seconds),
            )
        self._sub = await self._js.pull_subscribe_bind(durable=self.durable, stream=STREAM)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetches and handles messages until `stop` is set (then drains the batch)."""
        if self._sub is None:
            await self.setup()
        assert self._sub is not None  # noqa: S101 - set by setup()
        busy = False
        lag_due = 0.0
        while not stop.is_set():
            if time.monotonic() >= lag_due:
                lag_due = time.monotonic() + self._settings.lag_seconds
                await self.record_lag()
            # nats-py returns a batch>1 lingering fetch only when the batch fills or
            # the timeout ends, which would delay a lone event by up to the timeout.
            # So: when idle, wait for ONE message (returned the moment it lands);
            # when busy, take whatever is already there in one batch, lingering
            # only briefly when nothing is.
            batch, wait = (
                (self._settings.batch_size, self._settings.busy_linger_seconds)
                if busy
                else (1, self._settings.fetch_timeout_seconds)
            )
            try:
                messages = await self._sub.fetch(batch, timeout=wait)
            except (TimeoutError, nats.errors.TimeoutError):
                busy = False
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
                await _sleep_or_stop(stop, 0.25)
                continue
            except Exception as exc:  # noqa: BLE001 - keep consuming through outages
                log.warning("fetch failed", extra={"consumer": self.durable, "error": str(exc)})
                await _sleep_or_stop(stop, 0.5)
                continue
            busy = bool(messages)
            for msg in messages:
                await self.process(msg)
        # nats-py's fetch leaves the subscription's queue unbalanced, so draining
        # the connection would wait out its 30 s drain_timeout on it. Every
        # fetched message has been handled by now; unfetched ones are redelivered.
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()
        self._sub = None

    async def record_lag(self) -> None:
        """Sets the lag gauges from the server's view of the durable (best effort)."""
        if self._sub is None:
            return
        try:
            info = await self._sub.consumer_info()
        except Exception as exc:  # noqa: BLE001 - a gauge left stale never stops consuming
            log.debug("consumer info unavailable", extra={"consumer": self.durable, "error": exc})
            return
        CONSUMER_PENDING.labels(self._db.schema, self.durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(self._db.schema, self.durable).set(info.num_ack_pending or 0)

    async def process(self, msg: Msg) -> None:
        """Handles one message: ack, nak with backoff, or dead-letter."""
        deliveries = msg.metadata.num_delivered or 1
        try:
            envelope = Envelope.decode(msg.headers, msg.data)
        except EventError as exc:
            await self._dead_letter(msg, "undecodable", str(exc))
            return
        owner = source_of(owner_of(envelope.type))
        if envelope.source != owner:
            # Only the owner of an event type may speak for it; anything else is
            # a forgery (or a bug) and is parked, never applied.
            await self._dead_letter(
                msg,
                "forged-source",
                f"{envelope.type} is published by {owner}, not {envelope.source!r}",
            )
            return
        handler = self._handlers.get(envelope.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self._db.schema, envelope.type, "ignored").inc()
            await msg.ack()
            return
        if deliveries > 1:
            EVENTS_REDELIVERED.labels(self._db.schema, self.durable, envelope.type).inc()
        started = time.perf_counter()
        try:
            with span_from(envelope.trace, f"consume {envelope.type}", link=True):
                duplicate = await self._handle(envelope, handler)
                observe_latency(
                    EVENT_HANDLE_DURATION.labels(self._db.schema, envelope.type),
                    time.perf_counter() - started,
                )
                if not duplicate:
                    age = time.time() - envelope.time.timestamp()
                    observe_latency(EVENT_AGE.labels(self._db.schema, envelope.type), max(0.0, age))
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then parked
            # An unreachable database or NATS is no fault of the message: it is
            # retried until the dependency is back, never parked.
            outage = unreachable_dependency(exc) is not None
            if deliveries >= self._settings.max_deliver and not outage:
                await self._dead_letter(msg, envelope.type, f"{type(exc).__name__}: {exc}")
                return
            backoff = self._settings.nak_backoff_seconds
            delay = backoff[min(deliveries, len(backoff)) - 1]
            log.warning(
                "handler failed; will retry",
                extra={
                    "consumer": self.durable,
                    "type": envelope.type,
                    "id": envelope.id,
                    "delivery": deliveries,
                    "error": str(exc),
                },
            )
            EVENTS_CONSUMED.labels(self._db.schema, envelope.type, "retry").inc()
            await msg.nak(delay=delay)
            return
        outcome = "duplicate" if duplicate else "ok"
        EVENTS_CONSUMED.labels(self._db.schema, envelope.type, outcome).inc()
        await msg.ack()

    async def redeliver(self, headers: Mapping[str, str], data: bytes) -> bool:
        """Handles a dead letter again, as a delivery would; True if it had already taken effect.

        Raises what decoding or the handler raised: the caller keeps the dead letter then.
        """
        envelope = Envelope.decode(dict(headers), data)
        owner = source_of(owner_of(envelope.type))
        if envelope.source != owner:
            raise EventError(f"{envelope.type} is published by {owner}, not {envelope.source!r}")
        handler = self._handlers.get(envelope.type)
        if handler is None:
            raise EventError(f"consumer {self.durable} has no handler for {envelope.type}")
        with span_from(envelope.trace, f"redrive {envelope.type}", link=True):
            duplicate = await self._handle(envelope, handler)
        EVENTS_CONSUMED.labels(
            self._db.schema, envelope.type, "duplicate" if duplicate else "ok"
        ).inc()
        return duplicate

    async def _handle(self, envelope: Envelope, handler: Handler) -> bool:
        async with self._db.transaction(envelope.tenant_id) as conn:
            inserted = await conn.fetchval(
                """INSERT INTO inbox (consumer, event_id, event_type, tenant_id)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
                self.durable,
                envelope.id,
                envelope.type,
                envelope.tenant_id,
            )
            if not inserted:
                return True
            await handler(envelope, conn)
        return False

    async def _dead_letter(self, msg: Msg, kind: str, reason: str) -> None:
        # NATS control headers (an expected sequence, a message TTL, ...) of the
        # original would make JetStream refuse or drop the copy: they stay behind.
        headers = {
            k: v for k, v in (msg.headers or {}).items() if not k.lower().startswith("nats-")
        }
        original_id = headers.get("ce-id", "")
        headers.update(
            {
                "portico-dlq-reason": reason[:1000],
                "portico-dlq-consumer": self.durable,
                "portico-dlq-subject": msg.subject,
                "portico-dlq-deliveries": str(msg.metadata.num_delivered or 1),
                # Distinct from the original id so the DLQ stream keeps it.
                "Nats-Msg-Id": f"{original_id or msg.reply}:dlq:{self.durable}",
            }
        )
        subject = f"{DLQ_PREFIX}{self.durable}.{kind}"
        try:
            await self._js.publish(subject, msg.data, headers=headers)
        except Exception as exc:  # noqa: BLE001 - never drop a poison message silently
            log.warning(
                "dead-lettering failed; will retry",
                extra={"consumer": self.durable, "subject": subject, "error": str(exc)},
            )
            await msg.nak(delay=self._settings.nak_backoff_seconds[-1])
            return
        log.error(
            "event dead-lettered",
            extra={"consumer": self.durable, "subject": subject, "reason": reason},
        )
        EVENTS_CONSUMED.labels(self._db.schema, kind, "dead_letter").inc()
        EVENTS_DEAD_LETTERED.labels(self._db.schema, self.durable, kind).inc()
        await msg.term()


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
