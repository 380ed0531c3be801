"""Background jobs: the notifier flushes due groups; the delivery job sends what is queued.

Two separate loops, so a channel that is down (slow to time out, retried
with backoff) never holds up the flushing of groups, and neither ever
touches the evaluation of SLOs or the events that roll versions back. The
delivery job keeps at most `workers` sends in flight and one per channel,
so one receiver that hangs occupies one worker, not all of them. Failures
are logged and retried on the next tick: a background task that raised
would take the service down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from portico_common.places import PlaceLister, each_place
from portico_common.runtime import Background
from portico_slo.alerting.app.delivery import RetryPolicy, Sleep, claim_deliveries, deliver
from portico_slo.alerting.app.notifier import flush_due_groups
from portico_slo.alerting.app.ports import (
    AlertingUowFactory,
    Claimed,
    DeliveryMetrics,
    SecretBox,
    Senders,
)
from portico_slo.alerting.app.retention import prune_alerting

log = logging.getLogger(__name__)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def notifier_job(
    uow: AlertingUowFactory,
    *,
    tick_seconds: float,
    batch: int,
    max_pending: int,
    retention: timedelta,
    prune_seconds: float = 3600.0,
    places: PlaceLister | None = None,
) -> Background:
    """`alert_notifier(stop)`: flushes due groups every tick, batch after batch.

    Now and then (every `prune_seconds`) it also deletes what is older than
    `retention`.
    """

    async def alert_notifier(stop: asyncio.Event) -> None:
        async def flush() -> None:
            while (
                await flush_due_groups(uow, limit=batch, max_pending=max_pending) >= batch
                and not stop.is_set()
            ):
                pass

        last_prune: float | None = None
        while not stop.is_set():
            # Pacing uses the event loop's monotonic time; what is old reads the Clock.
            if last_prune is None or time.monotonic() - last_prune >= prune_seconds:
                try:
                    pruned = sum(
                        await each_place(places, lambda: prune_alerting(uow, retention=retention))
                    )
                    last_prune = time.monotonic()
                    log.info("alerting history pruned", extra={"deleted": pruned})
                except Exception as exc:  # noqa: BLE001 - retried next tick
                    log.warning("pruning alerting history failed", extra={"error": str(exc)})
            try:
                await each_place(places, flush)
            except Exception as exc:  # noqa: BLE001 - an outage must not end the loop
                log.warning("alert notifier tick failed", extra={"error": str(exc)})
            await _pause(stop, tick_seconds)

    return alert_notifier


def delivery_job(
    uow: AlertingUowFactory,
    box: SecretBox,
    senders: Senders,
    *,
    tick_seconds: float,
    workers: int,
    lease: timedelta,
    policy: RetryPolicy,
    sleep: Sleep,
    metrics: DeliveryMetrics,
    places: PlaceLister | None = None,
) -> Background:
    """`alert_delivery(stop)`: claims queued notifications and sends them concurrently."""

    async def alert_delivery(stop: asyncio.Event) -> None:
        in_flight: dict[asyncio.Task[object], str] = {}

        async def send(claimed: Claimed) -> object:
            return await deliver(
                uow, box, senders, claimed, policy=policy, sleep=sleep, metrics=metrics
            )

        async def claim() -> None:
            # Runs in one place's pass: each send's task keeps that place.
            free = workers - len(in_flight)
            if free <= 0:
                return
            claimed = await claim_deliveries(
                uow,
                limit=free,
                lease=lease,
                skip_channels=frozenset(in_flight.values()),
            )
            for item in claimed:
                task = asyncio.create_task(send(item), name="alert-delivery")
                in_flight[task] = item.delivery.channel_id

        while not stop.is_set():
            if workers - len(in_flight) > 0:
                try:
                    await each_place(places, claim)
                except Exception as exc:  # noqa: BLE001 - an outage must not end the loop
                    log.warning("claiming alert deliveries failed", extra={"error": str(exc)})
            waiters: list[asyncio.Future[object]] = [*in_flight, asyncio.ensure_future(stop.wait())]
            done, _ = await asyncio.wait(
                waiters, timeout=tick_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            waiters[-1].cancel()
            for task in [t for t in in_flight if t in done]:
                del in_flight[task]
                if not task.cancelled() and task.exception() is not None:
                    log.warning(
                        "alert delivery failed to record",
                        extra={"error": str(task.exception())},
                    )
        # Sends in flight get a moment to record their outcome; the rest are
        # retaken by any replica once their lease lapses.
        if in_flight:
            await asyncio.wait(list(in_flight), timeout=tick_seconds)
            for task in in_flight:
                task.cancel()

    return alert_delivery
