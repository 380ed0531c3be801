"""The one place that wires security's dependencies; nothing connects at import."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import grpc
from portico.security.v1 import security_pb2, security_pb2_grpc
from portico_common.runtime import Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory

from portico_security.adapters.postgres import SecurityPgUnitOfWork
from portico_security.app.ports import UnitOfWorkFactory
from portico_security.entrypoints.grpc_api import SecurityServicer
from portico_security.settings import SecuritySettings

SERVICE = "security"


def build_uow(rt: Runtime) -> UnitOfWorkFactory:
    return uow_factory(
        rt.db, lambda conn, tenant: SecurityPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )


async def run(settings: SecuritySettings) -> None:
    rt = await Runtime.start(SERVICE, settings, "portico_security.migrations")
    servicer = SecurityServicer(build_uow(rt), max_artifact_bytes=settings.max_artifact_bytes)

    def register(server: grpc.aio.Server) -> Iterable[str]:
        security_pb2_grpc.add_SecurityServiceServicer_to_server(servicer, server)
        return [security_pb2.DESCRIPTOR.services_by_name["SecurityService"].full_name]

    # The kernel's serve() builds the server with gRPC's default 4 MiB receive
    # limit and takes no options, so until it does, uploads above 4 MiB fail
    # with RESOURCE_EXHAUSTED before max_artifact_bytes is consulted.
    await serve(rt, register=register)


def main() -> None:
    settings = SecuritySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
