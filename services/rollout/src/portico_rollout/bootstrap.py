"""The one place that wires rollout's dependencies; nothing connects at import.

`build` is pure wiring: given the outside world (`Dependencies`), it returns
what `serve` runs (`Components`). `run` builds the real dependencies on a
started Runtime; unit tests call `build` with in-memory ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from portico.rollout.v1 import assignments_pb2, assignments_pb2_grpc, rollout_pb2, rollout_pb2_grpc
from portico_common.clock import Clock
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.grpc.service_tokens import service_channel
from portico_common.places import PlaceLister
from portico_common.runtime import Background, Readiness, Runtime, bootstrap_process, serve
from portico_common.tls import grpc_channel
from portico_rollout.adapters.advisories_grpc import GrpcAdvisorySource
from portico_rollout.adapters.compat_grpc import GrpcDependencyGraph
from portico_rollout.adapters.httproute import HttpRouteRouter, RouteLayout
from portico_rollout.adapters.kube_apply import KubernetesApplier
from portico_rollout.adapters.postgres import pg_consumer_uow, pg_uow_factory
from portico_rollout.adapters.slo_grpc import GrpcSloSource, NoSloSource
from portico_rollout.adapters.tenancy_quota import TenancyRolloutQuota
from portico_rollout.adapters.view import AssignmentView
from portico_rollout.adapters.view_feed import NatsChangeFeed
from portico_rollout.adapters.view_postgres import PgAssignmentReader
from portico_rollout.app.assignment_sync import AssignmentSync
from portico_rollout.app.assignments import AssignmentReader, ChangeFeed, TrafficRouter
from portico_rollout.app.evaluation import SchedulerLimits
from portico_rollout.app.handlers import Defaults
from portico_rollout.app.ports import (
    AdvisorySource,
    DependencyGraph,
    RolloutQuota,
    SloSource,
    UnitOfWorkFactory,
)
from portico_rollout.app.saga_limits import SagaLimits
from portico_rollout.entrypoints.events import (
    CHECKS_DURABLE,
    SLO_DURABLE,
    ConsumerUnitOfWork,
    RolloutEventHandlers,
)
from portico_rollout.entrypoints.grpc_api import RolloutServicer
from portico_rollout.entrypoints.grpc_assignments import AssignmentServicer
from portico_rollout.entrypoints.install_events import INSTALLS_DURABLE, install_handlers
from portico_rollout.entrypoints.saga_runner import make_saga_runner
from portico_rollout.entrypoints.scheduler import make_scheduler
from portico_rollout.entrypoints.tenant_events import (
    TENANT_STATES_DURABLE,
    tenant_state_handlers,
)
from portico_rollout.settings import RolloutSettings

SERVICE = "rollout"
MIGRATIONS = "portico_rollout.migrations"

ROLLOUT_SERVICE = rollout_pb2.DESCRIPTOR.services_by_name["RolloutService"]
ASSIGNMENT_SERVICE = assignments_pb2.DESCRIPTOR.services_by_name["AssignmentService"]


@dataclass(frozen=True)
class Dependencies:
    """What the outside world provides; unit tests pass in-memory ones."""

    # Units of work that open their own transaction (RPCs, the scheduler).
    uow: UnitOfWorkFactory
    # Units of work inside an event consumer's transaction (with its inbox row).
    consumer_uow: ConsumerUnitOfWork
    clock: Clock
    # The slo service: the version's SLO, and the outcomes phases are judged on.
    slo: SloSource
    defaults: Defaults = field(default_factory=Defaults)
    # The scheduler's pace and limits; `run` takes them from the settings.
    tick_seconds: float = 0.2
    limits: SchedulerLimits = field(default_factory=SchedulerLimits)
    # The saga runner's pass bounds and step backoff.
    saga_limits: SagaLimits = field(default_factory=SagaLimits)
    # The read path: assignments as the database has them, the events that say
    # one changed, and where traffic goes besides the in-memory resolve view.
    assignments: AssignmentReader | None = None
    changes: ChangeFeed | None = None
    routers: Sequence[TrafficRouter] = ()
    view_resync_seconds: float = 60.0
    # Room for each rollout in the tenant's quota, reserved at tenancy; None: no quota.
    quota: RolloutQuota | None = None
    # compat's dependency graph, for the rollback saga's dependents; None: not looked for.
    graph: DependencyGraph | None = None
    # security's advisories on stable versions, for the rollback safety check; None: unchecked.
    advisories: AdvisorySource | None = None
    # Every place of rollout's rows the scheduler and the saga runner pass over
    # (the shared tables, bridge schemas, silo databases); None: one place.
    places: PlaceLister | None = None


@dataclass(frozen=True)
class Components:
    """What `serve` runs for rollout."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]
    # Health turns SERVING once these are done: the resolve view is built.
    readiness: list[Readiness]
    # What ResolveVersion and WatchAssignments answer from.
    view: AssignmentView
    # What keeps the view (and every other router) in step; None without a reader.
    sync: AssignmentSync | None


def build(deps: Dependencies) -> Components:
    """Wires the entrypoints to the use cases; no I/O."""
    events = RolloutEventHandlers(
        deps.consumer_uow,
        deps.clock,
        watch_seconds=deps.defaults.watch_after_completion_seconds,
    )
    view = AssignmentView()
    servicer = RolloutServicer(
        deps.uow, deps.slo, deps.defaults, view, quota=deps.quota, advisories=deps.advisories
    )
    background = [
        make_scheduler(
            deps.uow,
            deps.slo,
            deps.clock,
            tick_seconds=deps.tick_seconds,
            defaults=deps.defaults,
            limits=deps.limits,
            advisories=deps.advisories,
            places=deps.places,
        ),
        view.run,
        make_saga_runner(
            deps.uow,
            deps.graph,
            deps.clock,
            tick_seconds=deps.tick_seconds,
            limits=deps.saga_limits,
            advisories=deps.advisories,
            places=deps.places,
        ),
    ]
    readiness: list[Readiness] = []
    sync = None
    if deps.assignments is not None and deps.changes is not None:
        sync = AssignmentSync(
            deps.assignments,
            deps.changes,
            [view, *deps.routers],
            resync_seconds=deps.view_resync_seconds,
        )
        background.append(sync.run)
        readiness.append(sync.built.wait)
    return Components(
        servicers=[
            Servicer(
                ROLLOUT_SERVICE, rollout_pb2_grpc.add_RolloutServiceServicer_to_server, servicer
            ),
            Servicer(
                ASSIGNMENT_SERVICE,
                assignments_pb2_grpc.add_AssignmentServiceServicer_to_server,
                AssignmentServicer(view),
            ),
        ],
        subscriptions=[
            Subscription(CHECKS_DURABLE, events.checks()),
            Subscription(SLO_DURABLE, events.slo()),
            Subscription(
                INSTALLS_DURABLE,
                install_handlers(deps.consumer_uow, deps.slo, deps.defaults, deps.quota),
            ),
            Subscription(
                TENANT_STATES_DURABLE, tenant_state_handlers(deps.consumer_uow, deps.clock)
            ),
        ],
        background=background,
        readiness=readiness,
        view=view,
        sync=sync,
    )


def dependencies(
    rt: Runtime,
    settings: RolloutSettings,
    slo: SloSource,
    graph: DependencyGraph | None = None,
    advisories: AdvisorySource | None = None,
) -> Dependencies:
    """The real dependencies: PostgreSQL units of work on the runtime's database."""
    return Dependencies(
        uow=pg_uow_factory(rt.db, rt.clock),
        consumer_uow=pg_consumer_uow(rt.clock),
        clock=rt.clock,
        slo=slo,
        defaults=Defaults(
            bake_seconds=settings.rollout_default_bake_seconds,
            hold_timeout_seconds=settings.rollout_hold_timeout_seconds,
            recheck_seconds=settings.rollout_recheck_seconds,
            sample_recheck_seconds=settings.rollout_sample_recheck_seconds,
            watch_after_completion_seconds=settings.rollout_watch_after_completion_seconds,
        ),
        tick_seconds=settings.rollout_tick_seconds,
        limits=SchedulerLimits(
            batch=settings.rollout_scheduler_batch,
            per_tenant=settings.rollout_scheduler_per_tenant,
            retry_seconds=settings.rollout_retry_seconds,
        ),
        saga_limits=SagaLimits(
            batch=settings.rollout_saga_batch,
            per_tenant=settings.rollout_saga_per_tenant,
            steps_per_saga=settings.rollout_saga_steps_per_pass,
            retry_initial_seconds=settings.rollout_saga_retry_initial_seconds,
            retry_max_seconds=settings.rollout_saga_retry_max_seconds,
        ),
        assignments=PgAssignmentReader(rt.db),
        changes=NatsChangeFeed(rt.nc),
        routers=http_routes(settings),
        view_resync_seconds=settings.rollout_view_resync_seconds,
        quota=tenancy_quota(rt, settings),
        graph=graph,
        advisories=advisories,
        places=rt.db.places,
    )


def tenancy_quota(rt: Runtime, settings: RolloutSettings) -> RolloutQuota | None:
    """Rollout quotas at tenancy, with rollout's own token, when tenancy is set."""
    target = settings.tenancy_target
    if not target:
        return None
    if rt.service_tokens is not None:
        return TenancyRolloutQuota(service_channel(target, rt.service_tokens, rt.grpc_tls))
    return TenancyRolloutQuota(grpc_channel(target, rt.grpc_tls))


def slo_channel(rt: Runtime, settings: RolloutSettings) -> grpc.aio.Channel | None:
    """A channel to slo carrying rollout's own token (when it has an identity).

    Over TLS when the runtime has it: slo serves mutual TLS then, and the token
    is shown only to a server whose certificate checks out.
    """
    return own_channel(rt, settings.rollout_slo_target)


def own_channel(rt: Runtime, target: str) -> grpc.aio.Channel | None:
    """A channel to `target` carrying rollout's own token; None when `target` is empty."""
    if not target:
        return None
    if rt.service_tokens is not None:
        return service_channel(target, rt.service_tokens, rt.grpc_tls)
    return grpc_channel(target, rt.grpc_tls)


def http_routes(settings: RolloutSettings) -> list[TrafficRouter]:
    """The HTTPRoute router, when routes are to be written or applied anywhere."""
    directory = Path(settings.rollout_httproute_dir) if settings.rollout_httproute_dir else None
    applier = None
    if settings.rollout_kube_api_url:
        applier = KubernetesApplier(
            settings.rollout_kube_api_url,
            token_file=Path(settings.rollout_kube_token_file),
            ca_file=Path(settings.rollout_kube_ca_file),
        )
    if directory is None and applier is None:
        return []
    layout = RouteLayout(
        gateway_name=settings.rollout_httproute_gateway,
        gateway_namespace=settings.rollout_httproute_gateway_namespace,
        namespace_prefix=settings.rollout_httproute_namespace_prefix,
    )
    return [HttpRouteRouter(layout, directory=directory, applier=applier)]


async def run(
    settings: RolloutSettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
    slo: SloSource | None = None,
    graph: DependencyGraph | None = None,
    advisories: AdvisorySource | None = None,
) -> None:
    """Runs the service until SIGTERM/SIGINT, or until `stop` is set.

    `clock`, `ready` (called with the bound gRPC port), `stop`, `slo` (an
    slo in place of the one at PORTICO_ROLLOUT_SLO_TARGET), `graph` (a
    dependency graph in place of compat's) and `advisories` (in place of
    security's) let tests run the real thing in-process on a ManualClock.
    """
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    channel = None if slo is not None else slo_channel(rt, settings)
    if slo is None:
        slo = (
            GrpcSloSource(channel, timeout_seconds=settings.rollout_slo_timeout_seconds)
            if channel is not None
            else NoSloSource()
        )
    compat = None if graph is not None else own_channel(rt, settings.rollout_compat_target)
    if compat is not None:
        graph = GrpcDependencyGraph(compat, timeout_seconds=settings.rollout_compat_timeout_seconds)
    security = None if advisories is not None else own_channel(rt, settings.rollout_security_target)
    if security is not None:
        advisories = GrpcAdvisorySource(
            security, timeout_seconds=settings.rollout_security_timeout_seconds
        )
    parts = build(dependencies(rt, settings, slo, graph, advisories))
    try:
        await serve(
            rt,
            servicers=parts.servicers,
            subscriptions=parts.subscriptions,
            background=parts.background,
            readiness=parts.readiness,
            ready=ready,
            stop=stop,
        )
    finally:
        for opened in (channel, compat, security):
            if opened is not None:
                await opened.close(grace=None)


def main() -> None:
    settings = RolloutSettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
