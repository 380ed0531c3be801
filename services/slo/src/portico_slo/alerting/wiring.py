"""How the alerting context is put together; slo's bootstrap calls it.

`build_alerting` is pure wiring, like slo's `build`: the outside world in
(`AlertingDependencies`), what `serve` runs out. Unit tests pass the
in-memory store, a fake clock, fake senders and a sleep that returns at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta

from portico.slo.v1 import alerting_pb2, alerting_pb2_grpc
from portico_common.clock import Clock
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.places import PlaceLister
from portico_common.runtime import Background
from portico_slo.alerting.app.delivery import RetryPolicy, Sleep
from portico_slo.alerting.app.ports import (
    AlertingUnitOfWork,
    AlertingUowFactory,
    DeliveryMetrics,
    NoMetrics,
    SecretBox,
    Senders,
)
from portico_slo.alerting.entrypoints.events import ALERTING_DURABLE, AlertingEventHandlers
from portico_slo.alerting.entrypoints.grpc_api import AlertingServicer
from portico_slo.alerting.entrypoints.jobs import delivery_job, notifier_job

ALERTING_SERVICE = alerting_pb2.DESCRIPTOR.services_by_name["AlertingService"]


@dataclass(frozen=True)
class AlertingDependencies:
    """What alerting needs from the outside world."""

    uow: AlertingUowFactory
    # Units of work inside an event consumer's transaction (with its inbox row).
    consumer_uow: Callable[..., AbstractAsyncContextManager[AlertingUnitOfWork]]
    clock: Clock
    box: SecretBox
    senders: Senders
    tick_seconds: float = 1.0
    flush_batch: int = 100
    # Pending notifications a channel may hold before the oldest are dropped.
    queue_limit: int = 100
    workers: int = 8
    lease: timedelta = timedelta(minutes=2)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    metrics: DeliveryMetrics = field(default_factory=NoMetrics)
    # Resolved alerts, history, the notification log and finished deliveries older
    # than this are deleted.
    retention: timedelta = timedelta(days=7)
    # Every place of slo's rows the notifier and deliveries pass over; None: one place.
    places: PlaceLister | None = None


@dataclass(frozen=True)
class AlertingComponents:
    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]


def build_alerting(deps: AlertingDependencies) -> AlertingComponents:
    """Wires alerting's entrypoints to its use cases; no I/O."""
    servicer = AlertingServicer(deps.uow, deps.box)
    return AlertingComponents(
        servicers=[
            Servicer(
                ALERTING_SERVICE, alerting_pb2_grpc.add_AlertingServiceServicer_to_server, servicer
            )
        ],
        subscriptions=[
            Subscription(ALERTING_DURABLE, AlertingEventHandlers(deps.consumer_uow).handlers())
        ],
        background=[
            notifier_job(
                deps.uow,
                tick_seconds=deps.tick_seconds,
                batch=deps.flush_batch,
                max_pending=deps.queue_limit,
                retention=deps.retention,
                places=deps.places,
            ),
            delivery_job(
                deps.uow,
                deps.box,
                deps.senders,
                tick_seconds=deps.tick_seconds,
                workers=deps.workers,
                lease=deps.lease,
                policy=deps.retry,
                sleep=deps.sleep,
                metrics=deps.metrics,
                places=deps.places,
            ),
        ],
    )
