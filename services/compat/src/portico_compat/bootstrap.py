"""The one place that wires compat's dependencies; nothing connects at import."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import grpc

from portico.compat.v1 import compat_pb2, compat_pb2_grpc
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.grpc.tokens import TokenVerifier
from portico_common.runtime import Runtime, bootstrap_process, jwks_fetcher, serve
from portico_common.uow import uow_factory
from portico_compat.adapters.catalog_file import InMemoryCatalog, load_catalog_file
from portico_compat.adapters.catalog_npm import NpmRegistryCatalog
from portico_compat.adapters.postgres import CompatPgUnitOfWork
from portico_compat.app.dependencies import DependencySolver, installed_from_host_profiles
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.domain.solver import Budget, PackageCatalog
from portico_compat.entrypoints.dependencies_api import register_dependency_service
from portico_compat.entrypoints.grpc_api import CompatServicer
from portico_compat.entrypoints.tenancy_events import TENANCY_DURABLE, TenancyEventHandlers
from portico_compat.settings import CompatSettings

SERVICE = "compat"


def build_uow(rt: Runtime) -> UnitOfWorkFactory:
    return uow_factory(
        rt.db, lambda conn, tenant: CompatPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )


def build_solver(settings: CompatSettings, uow: UnitOfWorkFactory) -> DependencySolver:
    catalog: PackageCatalog
    if settings.catalog_file is not None:
        catalog = load_catalog_file(settings.catalog_file)
    elif settings.npm_registry_url:
        catalog = NpmRegistryCatalog(
            settings.npm_registry_url, max_packages=settings.npm_registry_max_packages
        )
    else:
        catalog = InMemoryCatalog(())
    budget = Budget(settings.solver_max_rounds, settings.solver_max_seconds)
    return DependencySolver(catalog, budget=budget, installed_of=installed_from_host_profiles(uow))


async def run(settings: CompatSettings) -> None:
    rt = await Runtime.start(SERVICE, settings, "portico_compat.migrations")
    # Built here rather than in serve: the streaming RPC checks tokens itself
    # (the kernel interceptor wraps unary RPCs only).
    verifier = TokenVerifier(jwks_fetcher(settings.auth_target)) if settings.auth_target else None
    servicer = CompatServicer(build_uow(rt), verifier)
    solver = build_solver(settings, build_uow(rt))

    def register(server: grpc.aio.Server) -> Iterable[str]:
        compat_pb2_grpc.add_CompatServiceServicer_to_server(servicer, server)
        return [
            compat_pb2.DESCRIPTOR.services_by_name["CompatService"].full_name,
            register_dependency_service(server, solver),
        ]

    # compat's projection of tenancy's quotas and usage (the resources dimension).
    tenancy_events = EventConsumer(
        rt.js,
        rt.db,
        TENANCY_DURABLE,
        TenancyEventHandlers().handlers(),
        ConsumerSettings(max_deliver=settings.max_deliver),
    )
    await serve(rt, register=register, verifier=verifier, consumers=[tenancy_events])


def main() -> None:
    settings = CompatSettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
