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
# Room for the rest of a VerifyArtifact request (names, integrity, signature,
# key id: each bounded far below this) next to a tarball of the maximum size.
REQUEST_OVERHEAD_BYTES = 64 * 1024


def max_message_bytes(settings: SecuritySettings) -> int:
    """The gRPC message limit: a largest-allowed tarball plus the rest of its request.

    A tarball a little over max_artifact_bytes still arrives and is REJECTED by
    the size check (recorded, announced); one far over it is refused by gRPC
    with RESOURCE_EXHAUSTED and never reaches the use case.
    """
    return settings.max_artifact_bytes + REQUEST_OVERHEAD_BYTES


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

    await serve(rt, register=register, max_message_bytes=max_message_bytes(settings))


def main() -> None:
    settings = SecuritySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
