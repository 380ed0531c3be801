"""The one place that wires compat's dependencies; nothing connects at import.

`build` is pure wiring: unit tests give it in-memory adapters and fakes and
drive what it returns; `run` gives it the real ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from portico.compat.v1 import (
    compat_pb2,
    compat_pb2_grpc,
    dependencies_pb2,
    dependencies_pb2_grpc,
    packages_pb2,
    packages_pb2_grpc,
)
from portico_common.clock import Clock
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory
from portico_compat.adapters.catalog_file import InMemoryCatalog, load_catalog_file
from portico_compat.adapters.catalog_npm import NpmRegistryCatalog
from portico_compat.adapters.postgres import CompatPgUnitOfWork
from portico_compat.adapters.release_manifests_http import VersionsServiceManifests
from portico_compat.adapters.tenant_resources import PgTenantResourcesRepository
from portico_compat.app.dependencies import DependencySolver, installed_from_host_profiles
from portico_compat.app.packages import PackageChecks
from portico_compat.app.ports import PackageJsonCatalog, ReleaseManifestSource, UnitOfWorkFactory
from portico_compat.domain.installs import DEFAULT_SINGLETONS
from portico_compat.domain.solver import Budget
from portico_compat.entrypoints.dependencies_api import DependencyServicer
from portico_compat.entrypoints.grpc_api import CompatServicer
from portico_compat.entrypoints.packages_api import PackageServicer
from portico_compat.entrypoints.tenancy_events import (
    TENANCY_DURABLE,
    ProjectionOn,
    TenancyEventHandlers,
)
from portico_compat.settings import CompatSettings

SERVICE = "compat"
# Solving and checking walk whole dependency graphs: a tenant runs a few at a time.
HEAVY_METHODS = (
    "/portico.compat.v1.CompatService/CheckCompatibility",
    "/portico.compat.v1.CompatService/CheckCompatibilityStream",
    "/portico.compat.v1.DependencyService/SolveDependencies",
    "/portico.compat.v1.DependencyService/PredictUpgradeImpact",
)
MIGRATIONS = "portico_compat.migrations"


@dataclass(frozen=True)
class Dependencies:
    """What the outside world gives compat; unit tests pass in-memory adapters and fakes."""

    uow: UnitOfWorkFactory
    # compat's projection of tenancy's quotas, inside the event consumer's transaction.
    projection_on: ProjectionOn
    # Where package versions (and a version's package.json) come from: solving
    # dependencies, checking name@version, finding the newest version that fits.
    catalog: PackageJsonCatalog = field(default_factory=lambda: InMemoryCatalog(()))
    # The ceiling on every solve, whatever a caller asks for.
    solver_budget: Budget = field(default_factory=Budget)
    # Backstage's published release manifests; None when they are only uploaded.
    release_manifests: ReleaseManifestSource | None = None
    # Packages an app must run one copy of (a nested duplicate fails the check).
    singletons: frozenset[str] = DEFAULT_SINGLETONS


@dataclass(frozen=True)
class Components:
    """What `serve` runs for compat."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]


def build(deps: Dependencies) -> Components:
    """compat's servicers and event subscriptions on `deps`; no I/O."""
    solver = DependencySolver(
        deps.catalog,
        budget=deps.solver_budget,
        installed_of=installed_from_host_profiles(deps.uow),
    )
    tenancy = TenancyEventHandlers(deps.projection_on)
    return Components(
        servicers=[
            Servicer(
                compat_pb2.DESCRIPTOR.services_by_name["CompatService"],
                compat_pb2_grpc.add_CompatServiceServicer_to_server,
                CompatServicer(
                    deps.uow, manifests=deps.release_manifests, singletons=deps.singletons
                ),
            ),
            Servicer(
                dependencies_pb2.DESCRIPTOR.services_by_name["DependencyService"],
                dependencies_pb2_grpc.add_DependencyServiceServicer_to_server,
                DependencyServicer(solver),
            ),
            Servicer(
                packages_pb2.DESCRIPTOR.services_by_name["PackageService"],
                packages_pb2_grpc.add_PackageServiceServicer_to_server,
                PackageServicer(PackageChecks(deps.uow, deps.catalog, singletons=deps.singletons)),
            ),
        ],
        # compat's projection of tenancy's quotas and usage (the resources dimension).
        subscriptions=[Subscription(TENANCY_DURABLE, tenancy.handlers())],
        background=[],
    )


def load_catalog(settings: CompatSettings) -> PackageJsonCatalog:
    """A local JSON catalog file, else an npm-registry-shaped URL, else an empty catalog."""
    if settings.catalog_file is not None:
        return load_catalog_file(settings.catalog_file)
    if settings.npm_registry_url:
        return NpmRegistryCatalog(
            settings.npm_registry_url, max_packages=settings.npm_registry_max_packages
        )
    return InMemoryCatalog(())


async def run(
    settings: CompatSettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Runs compat until SIGTERM/SIGINT or until `stop` is set.

    `clock`, `ready` (called with the bound gRPC port) and `stop` let tests run
    the real thing in-process.
    """
    catalog = load_catalog(settings)
    manifests = (
        VersionsServiceManifests(
            settings.release_manifests_url, timeout=settings.release_manifests_timeout_seconds
        )
        if settings.release_manifests_url
        else None
    )
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    parts = build(
        Dependencies(
            uow=uow_factory(
                rt.db,
                lambda conn, tenant: CompatPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock),
            ),
            projection_on=PgTenantResourcesRepository,
            catalog=catalog,
            solver_budget=Budget(settings.solver_max_rounds, settings.solver_max_seconds),
            release_manifests=manifests,
            singletons=frozenset(settings.singleton_packages),
        )
    )
    try:
        await serve(
            rt,
            servicers=parts.servicers,
            subscriptions=parts.subscriptions,
            background=parts.background,
            ready=ready,
            stop=stop,
            heavy_methods=HEAVY_METHODS,
        )
    finally:
        if manifests is not None:
            await manifests.aclose()


def main() -> None:
    settings = CompatSettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
