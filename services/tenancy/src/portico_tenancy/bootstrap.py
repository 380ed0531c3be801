"""The one place that wires tenancy's dependencies; nothing connects at import."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import grpc

from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.clock import Clock
from portico_common.runtime import Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory
from portico_tenancy.adapters.postgres import TenancyPgUnitOfWork
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.entrypoints.grpc_api import TenancyServicer
from portico_tenancy.settings import TenancySettings

SERVICE = "tenancy"


def build_uow(rt: Runtime) -> UnitOfWorkFactory:
    return uow_factory(
        rt.db, lambda conn, tenant: TenancyPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )


async def run(
    settings: TenancySettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Runs the service until SIGTERM/SIGINT or until `stop` is set.

    `clock` and `ready` (called with the bound gRPC port) let tests run the
    real thing in-process.
    """
    rt = await Runtime.start(SERVICE, settings, "portico_tenancy.migrations", clock=clock)
    servicer = TenancyServicer(build_uow(rt))

    def register(server: grpc.aio.Server) -> Iterable[str]:
        tenancy_pb2_grpc.add_TenancyServiceServicer_to_server(servicer, server)
        return [tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"].full_name]

    await serve(rt, register=register, ready=ready, stop=stop)


def main() -> None:
    settings = TenancySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
