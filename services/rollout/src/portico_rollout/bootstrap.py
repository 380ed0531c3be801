"""The one place that wires rollout's dependencies; nothing connects at import."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import grpc

from portico.rollout.v1 import rollout_pb2, rollout_pb2_grpc
from portico_common.clock import Clock
from portico_common.db import Connection
from portico_common.events.consumer import ConsumerSettings, EventConsumer
from portico_common.runtime import Background, Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory
from portico_rollout.adapters.postgres import RolloutPgUnitOfWork
from portico_rollout.app.ports import RolloutUnitOfWork, UnitOfWorkFactory
from portico_rollout.entrypoints.events import CHECKS_DURABLE, SLO_DURABLE, RolloutEventHandlers
from portico_rollout.entrypoints.grpc_api import RolloutServicer
from portico_rollout.entrypoints.install_events import INSTALLS_DURABLE, install_handlers
from portico_rollout.entrypoints.scheduler import make_scheduler
from portico_rollout.settings import RolloutSettings

SERVICE = "rollout"
MIGRATIONS = "portico_rollout.migrations"


@dataclass(frozen=True)
class Components:
    """Everything `serve` runs for rollout, built on a started Runtime."""

    servicer: RolloutServicer
    consumers: list[EventConsumer]
    scheduler: Background

    def register(self, server: grpc.aio.Server) -> Iterable[str]:
        rollout_pb2_grpc.add_RolloutServiceServicer_to_server(self.servicer, server)
        return [rollout_pb2.DESCRIPTOR.services_by_name["RolloutService"].full_name]


def build_uow(rt: Runtime) -> UnitOfWorkFactory:
    return uow_factory(
        rt.db, lambda conn, tenant: RolloutPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )


def build(rt: Runtime, settings: RolloutSettings) -> Components:
    uow = build_uow(rt)

    def make_uow(conn: Connection, tenant: str) -> RolloutUnitOfWork:
        return RolloutPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)

    events = RolloutEventHandlers(make_uow, rt.clock)
    delivery = ConsumerSettings(max_deliver=settings.max_deliver)
    bake = settings.rollout_default_bake_seconds
    installs = install_handlers(make_uow, default_bake_seconds=bake)
    return Components(
        servicer=RolloutServicer(uow, default_bake_seconds=settings.rollout_default_bake_seconds),
        consumers=[
            EventConsumer(rt.js, rt.db, CHECKS_DURABLE, events.checks(), delivery),
            EventConsumer(rt.js, rt.db, SLO_DURABLE, events.slo(), delivery),
            EventConsumer(rt.js, rt.db, INSTALLS_DURABLE, installs, delivery),
        ],
        scheduler=make_scheduler(
            uow,
            rt.clock,
            tick_seconds=settings.rollout_tick_seconds,
            batch=settings.rollout_scheduler_batch,
        ),
    )


async def run(
    settings: RolloutSettings,
    *,
    clock: Clock | None = None,
    ready: Callable[[int], None] | None = None,
    background: Sequence[Background] = (),
) -> None:
    """Runs the service until SIGTERM/SIGINT (or until a `background` job returns).

    `clock`, `ready` (called with the bound gRPC port) and the extra jobs let
    tests run the real thing in-process on a ManualClock.
    """
    rt = await Runtime.start(SERVICE, settings, MIGRATIONS, clock=clock)
    parts = build(rt, settings)
    await serve(
        rt,
        register=parts.register,
        consumers=parts.consumers,
        background=[parts.scheduler, *background],
        ready=ready,
    )


def main() -> None:
    settings = RolloutSettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
