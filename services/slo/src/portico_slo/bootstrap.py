"""The one place that wires slo's dependencies; nothing connects at import.

`build` is pure wiring: given the outside world (`Dependencies`), it returns
what `serve` runs (`Components`). `run` builds the real dependencies on a
started Runtime; unit tests call `build` with in-memory ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from portico.slo.v1 import breakers_pb2, breakers_pb2_grpc, slo_pb2, slo_pb2_grpc
from portico_common.clock import Clock
from portico_common.crypto.keyring import FieldCipher
from portico_common.crypto.tenancy_client import tenancy_data_keys
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.places import PlaceLister
from portico_common.retention import RetentionRule
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_slo.adapters.alert_feed import DeliveryLogFeed
from portico_slo.adapters.metrics import PrometheusBurnRates
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.adapters.prometheus import PrometheusMetrics
from portico_slo.alerting.adapters.channels import default_senders
from portico_slo.alerting.adapters.metrics import PrometheusDeliveryMetrics
from portico_slo.alerting.adapters.postgres import pg_alerting_consumer_uow, pg_alerting_uow
from portico_slo.alerting.adapters.secrets import AesGcmSecretBox, NoSecretBox, TenantSecretBox
from portico_slo.alerting.app.ports import SecretBox
from portico_slo.alerting.wiring import AlertingDependencies, build_alerting
from portico_slo.app.ports import BurnRateGauge, MetricsSource, UnitOfWorkFactory
from portico_slo.entrypoints.grpc_api import IngestLimits, SloServicer
from portico_slo.entrypoints.grpc_breakers import BreakerServicer
from portico_slo.entrypoints.jobs import pull_job, upkeep_job
from portico_slo.entrypoints.jobs_breakers import breaker_job
from portico_slo.sensitive import SLO_SENSITIVE_FIELDS
from portico_slo.settings import SloSettings

SERVICE = "slo"
MIGRATIONS = "portico_slo.migrations"

SLO_SERVICE = slo_pb2.DESCRIPTOR.services_by_name["SloService"]
BREAKER_SERVICE = breakers_pb2.DESCRIPTOR.services_by_name["BreakerService"]


@dataclass(frozen=True)
class Dependencies:
    """What the outside world provides; unit tests pass in-memory ones."""

    uow: UnitOfWorkFactory
    clock: Clock
    # Where burn rates are published (Prometheus in production).
    gauge: BurnRateGauge
    # The evaluator's tick and the pruning pace; `run` takes both from the settings.
    gauge_refresh_seconds: float = 10.0
    prune_seconds: float = 3600.0
    limits: IngestLimits = field(default_factory=IngestLimits)
    # Where pulled SLIs are read; None: no SLI is pulled.
    metrics: MetricsSource | None = None
    pull_seconds: float = 15.0
    pull_lag_seconds: int = 30
    # Alerting (routes, silences, channels); None leaves it out.
    alerting: AlertingDependencies | None = None
    # How often breakers whose wait ended are moved (automatic transitions).
    breaker_tick_seconds: float = 1.0
    # Every place of slo's rows the background jobs pass over (the shared
    # tables, bridge schemas, silo databases); None: one place.
    places: PlaceLister | None = None


@dataclass(frozen=True)
class Components:
    """What `serve` runs for slo: the APIs, alerting's consumer and the background jobs
    (the evaluator's tick, the Prometheus pull, the breakers' tick, alerting's notifier
    and deliveries)."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]


def build(deps: Dependencies) -> Components:
    """Wires the entrypoints to the use cases; no I/O."""
    # The dashboard's alert history is alerting's delivery log, when alerting runs.
    feed = None if deps.alerting is None else DeliveryLogFeed(deps.alerting.uow)
    servicer = SloServicer(deps.uow, deps.gauge, deps.limits, alert_feed=feed)
    parts = Components(
        servicers=[Servicer(SLO_SERVICE, slo_pb2_grpc.add_SloServiceServicer_to_server, servicer)],
        subscriptions=[],
        background=[
            upkeep_job(
                deps.uow,
                deps.gauge,
                refresh_seconds=deps.gauge_refresh_seconds,
                prune_seconds=deps.prune_seconds,
                places=deps.places,
            )
        ],
    )
    if deps.metrics is not None:
        parts.background.append(
            pull_job(
                deps.uow,
                deps.gauge,
                deps.metrics,
                every_seconds=deps.pull_seconds,
                lag_seconds=deps.pull_lag_seconds,
                places=deps.places,
            )
        )
    # Circuit breakers per plugin version: their API and their tick.
    parts.servicers.append(
        Servicer(
            BREAKER_SERVICE,
            breakers_pb2_grpc.add_BreakerServiceServicer_to_server,
            BreakerServicer(deps.uow, deps.clock),
        )
    )
    parts.background.append(
        breaker_job(deps.uow, every_seconds=deps.breaker_tick_seconds, places=deps.places)
    )
    if deps.alerting is not None:
        alerting = build_alerting(deps.alerting)
        parts.servicers.extend(alerting.servicers)
        parts.subscriptions.extend(alerting.subscriptions)
        parts.background.extend(alerting.background)
    return parts


def dependencies(rt: Runtime, settings: SloSettings) -> Dependencies:
    """The real dependencies: PostgreSQL units of work, the Prometheus gauge and pull source."""
    return Dependencies(
        uow=pg_uow_factory(rt.db, rt.clock),
        clock=rt.clock,
        gauge=PrometheusBurnRates(),
        gauge_refresh_seconds=settings.slo_gauge_refresh_seconds,
        prune_seconds=settings.slo_prune_seconds,
        limits=IngestLimits(settings.slo_max_lateness_seconds, settings.slo_max_skew_seconds),
        metrics=PrometheusMetrics(settings.slo_prometheus_url)
        if settings.slo_prometheus_url
        else None,
        pull_seconds=settings.slo_pull_seconds,
        pull_lag_seconds=settings.slo_pull_lag_seconds,
        alerting=alerting_dependencies(rt, settings),
        breaker_tick_seconds=settings.slo_breaker_tick_seconds,
        places=rt.db.places,
    )


def secret_box(rt: Runtime, settings: SloSettings) -> SecretBox:
    """Channel secrets sealed with tenants' data keys from tenancy; old rows under the old key."""
    if not settings.tenancy_target:
        return NoSecretBox()
    key = settings.slo_channel_secret_key
    keys = tenancy_data_keys(
        settings.tenancy_target,
        rt.service_tokens,
        cache_seconds=settings.data_key_cache_seconds,
        tls=rt.grpc_tls,
    )
    return TenantSecretBox(
        FieldCipher(SLO_SENSITIVE_FIELDS, keys),
        legacy=None if key is None else AesGcmSecretBox(key.get_secret_value()),
    )


def alerting_dependencies(rt: Runtime, settings: SloSettings) -> AlertingDependencies:
    """Alerting on PostgreSQL, real channels, secrets sealed with the tenants' keys."""
    box = secret_box(rt, settings)
    return AlertingDependencies(
        uow=pg_alerting_uow(rt.db, rt.clock),
        consumer_uow=pg_alerting_consumer_uow(rt.clock),
        clock=rt.clock,
        box=box,
        senders=default_senders(timeout_seconds=settings.slo_alerting_send_timeout_seconds),
        tick_seconds=settings.slo_alerting_tick_seconds,
        queue_limit=settings.slo_alerting_queue_limit,
        workers=settings.slo_alerting_workers,
        metrics=PrometheusDeliveryMetrics(),
        retention=timedelta(seconds=settings.slo_alerting_retention_seconds),
        places=rt.db.places,
    )


async def run(
    settings: SloSettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Runs the service until SIGTERM/SIGINT, or until `stop` is set.

    `clock`, `ready` (called with the bound gRPC port) and `stop` let tests
    run the real thing in-process.
    """
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    parts = build(dependencies(rt, settings))
    await serve(
        rt,
        servicers=parts.servicers,
        subscriptions=parts.subscriptions,
        background=parts.background,
        ready=ready,
        stop=stop,
        retention=retention_rules(settings),
    )


def retention_rules(settings: SloSettings) -> list[RetentionRule]:
    """slo's logs the kernel purges in batches with its own tables.

    The delivery log (finished deliveries) grows with every notification; the
    alerting prune keeps handling the alerts and the notification log.
    """
    return [
        RetentionRule(
            "alert_deliveries",
            "finished_at",
            settings.slo_alerting_retention_seconds,
            only="state IN ('delivered', 'failed', 'dropped')",
        )
    ]


def main() -> None:
    settings = SloSettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
