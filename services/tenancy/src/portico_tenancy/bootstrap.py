"""The one place that wires tenancy's dependencies; nothing connects at import.

`build` is pure wiring: given the outside world (`Dependencies`), it returns
what `serve` runs (`Components`). `run` builds the real dependencies on a
started Runtime; unit tests call `build` with in-memory ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

from portico.tenancy.v1 import (
    jobs_pb2,
    jobs_pb2_grpc,
    keys_pb2,
    keys_pb2_grpc,
    lifecycle_pb2,
    lifecycle_pb2_grpc,
    quotas_pb2,
    quotas_pb2_grpc,
    tenancy_pb2,
    tenancy_pb2_grpc,
)
from portico_common.clock import Clock
from portico_common.crypto.kms import KeyEncryptionKey
from portico_common.crypto.kms_local import LocalKeyFileError, LocalKms
from portico_common.crypto.kms_vault import VaultTransitKms
from portico_common.events.consumer import Subscription
from portico_common.events.topology import tenant_data_services
from portico_common.grpc.registration import Servicer
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_tenancy.adapters.appliers import applier_for
from portico_tenancy.adapters.postgres import pg_consumer_uow, pg_uow_factory
from portico_tenancy.adapters.queue_worker import QueueWorker, WorkerSettings
from portico_tenancy.app.job_ports import ClusterApplier, JobHandler
from portico_tenancy.app.lifecycle import refused_states
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.app.provisioning import (
    Provisioner,
    Teardown,
    provision_job,
    teardown_job,
)
from portico_tenancy.app.worker import JobRunner
from portico_tenancy.domain.jobs import RetryPolicy
from portico_tenancy.domain.provisioning import (
    CLUSTER_PARTICIPANT,
    PROVISION_JOB,
    TEARDOWN_JOB,
    ProvisioningSpec,
)
from portico_tenancy.domain.quota import Resources
from portico_tenancy.entrypoints.deletions import DeletionScheduler
from portico_tenancy.entrypoints.grpc_api import TenancyServicer
from portico_tenancy.entrypoints.grpc_jobs import JobServicer
from portico_tenancy.entrypoints.grpc_keys import TenantKeysServicer
from portico_tenancy.entrypoints.grpc_lifecycle import LifecycleServicer
from portico_tenancy.entrypoints.grpc_quotas import QuotaReservationServicer
from portico_tenancy.entrypoints.holds import HoldSweeper
from portico_tenancy.entrypoints.placements import PlacementWatcher
from portico_tenancy.entrypoints.usage_events import (
    USAGE_DURABLE,
    ConsumerUnitOfWork,
    usage_handlers,
)
from portico_tenancy.settings import TenancySettings

SERVICE = "tenancy"
MIGRATIONS = "portico_tenancy.migrations"

TENANCY_SERVICE = tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"]
JOB_SERVICE = jobs_pb2.DESCRIPTOR.services_by_name["JobService"]
KEYS_SERVICE = keys_pb2.DESCRIPTOR.services_by_name["TenantKeysService"]
LIFECYCLE_SERVICE = lifecycle_pb2.DESCRIPTOR.services_by_name["TenantLifecycleService"]
RESERVATION_SERVICE = quotas_pb2.DESCRIPTOR.services_by_name["QuotaReservationService"]


@dataclass(frozen=True)
class Dependencies:
    """What the outside world provides; unit tests pass in-memory ones."""

    uow: UnitOfWorkFactory
    clock: Clock
    # Where tenants are provisioned; None: nowhere, and no provisioning job is enqueued.
    applier: ClusterApplier | None = None
    provisioning: ProvisioningSpec = field(default_factory=ProvisioningSpec)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_attempts: int = 8
    # The loop that runs queued jobs with the runner; None: this process runs none.
    worker: Callable[[JobRunner], Background] | None = None
    # The KMS that wraps tenants' data keys; None: the data-key RPCs refuse.
    kek: KeyEncryptionKey | None = None
    # The lifecycle: how long a deletion can be cancelled, which services the
    # deletion saga waits for, how often ended grace periods are looked for.
    deletion_grace: timedelta = timedelta(days=30)
    data_services: tuple[str, ...] = field(default_factory=tenant_data_services)
    deletion_poll: timedelta | None = None
    # Units of work on an event consumer's transaction (install and rollout
    # events settle quota reservations); None: tenancy consumes no events.
    consumer_uow: ConsumerUnitOfWork | None = None
    # Quota holds never confirmed by their owner expire after hold_ttl; the sweep
    # runs every hold_sweep (None: no background sweep, tests call `holds.tick`).
    hold_ttl: timedelta = timedelta(minutes=15)
    hold_sweep: timedelta | None = None
    hold_sweep_batch: int = 500
    # How often tenants the placer reported placed are activated (None: no
    # background loop, tests call `placements.tick`).
    placement_poll: timedelta | None = None


@dataclass(frozen=True)
class Components:
    """What `serve` runs for tenancy: the APIs and the job worker."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]
    # What runs one attempt of a job (the worker's, and tests' to drive by hand).
    job_runner: JobRunner | None = None
    # What ends grace periods (a background loop when deletion_poll is set).
    deletions: DeletionScheduler | None = None
    # What expires unconfirmed quota holds (a background loop when hold_sweep is set).
    holds: HoldSweeper | None = None
    # What activates placed bridge and silo tenants (a loop when placement_poll is set).
    placements: PlacementWatcher | None = None


def build(deps: Dependencies) -> Components:
    """Wires the entrypoints to the use cases; no I/O."""
    handlers: dict[str, JobHandler] = {}
    provision = teardown = None
    # Who the deletion saga waits for: the services holding tenant data and, when
    # tenants are provisioned, the job that removes the tenant's namespace.
    saga = deps.data_services
    if deps.applier is not None:
        saga = (*deps.data_services, CLUSTER_PARTICIPANT)
        provision = partial(provision_job, max_attempts=deps.max_attempts)
        teardown = partial(teardown_job, max_attempts=deps.max_attempts)
        handlers[PROVISION_JOB] = Provisioner(deps.uow, deps.applier, deps.provisioning)
        handlers[TEARDOWN_JOB] = Teardown(deps.uow, deps.applier, deps.provisioning, saga)
    runner = JobRunner(deps.uow, handlers, deps.retry_policy)
    deletions = DeletionScheduler(
        deps.uow, saga, deps.deletion_poll or timedelta(seconds=30), teardown=teardown
    )
    background: list[Background] = [] if deps.worker is None else [deps.worker(runner)]
    if deps.deletion_poll is not None:
        background.append(deletions)
    holds = HoldSweeper(
        deps.uow,
        deps.hold_ttl,
        deps.hold_sweep or timedelta(minutes=1),
        batch=deps.hold_sweep_batch,
    )
    if deps.hold_sweep is not None:
        background.append(holds)
    placements = PlacementWatcher(deps.uow, deps.placement_poll or timedelta(seconds=1))
    if deps.placement_poll is not None:
        background.append(placements)
    return Components(
        servicers=[
            Servicer(
                TENANCY_SERVICE,
                tenancy_pb2_grpc.add_TenancyServiceServicer_to_server,
                TenancyServicer(deps.uow, provision, saga),
            ),
            Servicer(
                JOB_SERVICE, jobs_pb2_grpc.add_JobServiceServicer_to_server, JobServicer(deps.uow)
            ),
            Servicer(
                KEYS_SERVICE,
                keys_pb2_grpc.add_TenantKeysServiceServicer_to_server,
                TenantKeysServicer(deps.uow, deps.kek),
            ),
            Servicer(
                LIFECYCLE_SERVICE,
                lifecycle_pb2_grpc.add_TenantLifecycleServiceServicer_to_server,
                LifecycleServicer(deps.uow, deps.deletion_grace, saga),
            ),
            Servicer(
                RESERVATION_SERVICE,
                quotas_pb2_grpc.add_QuotaReservationServiceServicer_to_server,
                QuotaReservationServicer(deps.uow),
            ),
        ],
        subscriptions=(
            []
            if deps.consumer_uow is None
            else [Subscription(USAGE_DURABLE, usage_handlers(deps.consumer_uow))]
        ),
        background=background,
        job_runner=runner,
        deletions=deletions,
        holds=holds,
        placements=placements,
    )


def dependencies(
    rt: Runtime, settings: TenancySettings, kek: KeyEncryptionKey | None = None
) -> Dependencies:
    """The real dependencies: PostgreSQL units of work, the chosen applier, the pgqueuer worker."""
    worker_settings = WorkerSettings(
        concurrency=settings.jobs_concurrency,
        heartbeat=timedelta(seconds=settings.jobs_heartbeat_seconds),
        poll=timedelta(seconds=settings.jobs_poll_seconds),
    )
    return Dependencies(
        uow=pg_uow_factory(rt.db, rt.clock),
        consumer_uow=pg_consumer_uow(rt.clock),
        clock=rt.clock,
        applier=applier_for(settings),
        provisioning=ProvisioningSpec(
            namespace_prefix=settings.k8s_namespace_prefix,
            portal_namespace=settings.k8s_portal_namespace,
            group_prefix=settings.k8s_group_prefix,
            default_limits=Resources(
                settings.k8s_default_cpu_millicores,
                settings.k8s_default_memory_mib,
                settings.k8s_default_storage_mib,
            ),
        ),
        retry_policy=RetryPolicy(
            base=timedelta(seconds=settings.jobs_backoff_seconds),
            cap=timedelta(seconds=settings.jobs_backoff_cap_seconds),
        ),
        max_attempts=settings.jobs_max_attempts,
        kek=kek,
        deletion_grace=timedelta(seconds=settings.deletion_grace_seconds),
        deletion_poll=timedelta(seconds=settings.deletion_poll_seconds),
        hold_ttl=timedelta(seconds=settings.reservation_hold_ttl_seconds),
        hold_sweep=timedelta(seconds=settings.reservation_sweep_seconds),
        hold_sweep_batch=settings.reservation_sweep_batch,
        placement_poll=timedelta(seconds=settings.placement_poll_seconds),
        # Without provisioning no job is ever enqueued: no worker holds a connection for none.
        worker=(
            (lambda runner: QueueWorker(rt.pool, runner, worker_settings))
            if settings.jobs_worker and settings.provisioning != "none"
            else None
        ),
    )


async def key_encryption_key(settings: TenancySettings) -> KeyEncryptionKey | None:
    """The KMS the settings name (its transit key made sure of), or None."""
    if settings.tenancy_kms == "local":
        if settings.tenancy_kms_key_file:
            return LocalKms(Path(settings.tenancy_kms_key_file))
        if not settings.tenancy_kms_key.get_secret_value():
            raise LocalKeyFileError(
                "PORTICO_TENANCY_KMS=local needs PORTICO_TENANCY_KMS_KEY_FILE or"
                " PORTICO_TENANCY_KMS_KEY"
            )
        return LocalKms.from_setting(settings.tenancy_kms_key.get_secret_value())
    if settings.tenancy_kms == "vault-transit":
        vault = VaultTransitKms(
            settings.tenancy_kms_vault_url,
            settings.tenancy_kms_vault_token.get_secret_value(),
            key_name=settings.tenancy_kms_vault_key,
            mount_point=settings.tenancy_kms_vault_mount,
        )
        await vault.ensure_key()
        return vault
    return None


async def run(
    settings: TenancySettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Runs the service until SIGTERM/SIGINT, or until `stop` is set.

    `clock`, `ready` (called with the bound gRPC port) and `stop` let tests
    run the real thing in-process.
    """
    kek = await key_encryption_key(settings)
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    deps = dependencies(rt, settings, kek)
    parts = build(deps)
    await serve(
        rt,
        servicers=parts.servicers,
        subscriptions=parts.subscriptions,
        background=parts.background,
        ready=ready,
        stop=stop,
        # Tenancy knows the refused tenants itself: from its own database.
        tenant_snapshot=partial(refused_states, deps.uow),
    )


def main() -> None:
    settings = TenancySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
