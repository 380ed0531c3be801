"""The one place that wires tenancy's dependencies; nothing connects at import.

`build` is pure wiring: given the outside world (`Dependencies`), it returns
what `serve` runs (`Components`). `run` builds the real dependencies on a
started Runtime; unit tests call `build` with in-memory ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.clock import Clock
from portico_common.events.consumer import Subscription
from portico_common.grpc.registration import Servicer
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_tenancy.adapters.postgres import pg_uow_factory
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.entrypoints.grpc_api import TenancyServicer
from portico_tenancy.settings import TenancySettings

SERVICE = "tenancy"
MIGRATIONS = "portico_tenancy.migrations"

TENANCY_SERVICE = tenancy_pb2.DESCRIPTOR.services_by_name["TenancyService"]


@dataclass(frozen=True)
class Dependencies:
    """What the outside world provides; unit tests pass in-memory ones."""

    uow: UnitOfWorkFactory
    clock: Clock


@dataclass(frozen=True)
class Components:
    """What `serve` runs for tenancy: the API (no consumers or jobs yet)."""

    servicers: list[Servicer]
    subscriptions: list[Subscription]
    background: list[Background]


def build(deps: Dependencies) -> Components:
    """Wires the entrypoints to the use cases; no I/O."""
    servicer = TenancyServicer(deps.uow)
    return Components(
        servicers=[
            Servicer(
                TENANCY_SERVICE, tenancy_pb2_grpc.add_TenancyServiceServicer_to_server, servicer
            )
        ],
        subscriptions=[],
        background=[],
    )


def dependencies(rt: Runtime) -> Dependencies:
    """The real dependencies: PostgreSQL units of work on the runtime's database."""
    return Dependencies(uow=pg_uow_factory(rt.db, rt.clock), clock=rt.clock)


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
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    parts = build(dependencies(rt))
    await serve(
        rt,
        servicers=parts.servicers,
        subscriptions=parts.subscriptions,
        background=parts.background,
        ready=ready,
        stop=stop,
    )


def main() -> None:
    settings = TenancySettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
