"""The one place that wires compat's dependencies; nothing connects at import."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import grpc

from portico.compat.v1 import compat_pb2, compat_pb2_grpc
from portico_common.runtime import Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory
from portico_compat.adapters.postgres import CompatPgUnitOfWork
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.entrypoints.grpc_api import CompatServicer
from portico_compat.settings import CompatSettings

SERVICE = "compat"


def build_uow(rt: Runtime) -> UnitOfWorkFactory:
    return uow_factory(
        rt.db, lambda conn, tenant: CompatPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )


async def run(settings: CompatSettings) -> None:
    rt = await Runtime.start(SERVICE, settings, "portico_compat.migrations")
    servicer = CompatServicer(build_uow(rt))

    def register(server: grpc.aio.Server) -> Iterable[str]:
        compat_pb2_grpc.add_CompatServiceServicer_to_server(servicer, server)
        return [compat_pb2.DESCRIPTOR.services_by_name["CompatService"].full_name]

    await serve(rt, register=register)


def main() -> None:
    settings = CompatSettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
