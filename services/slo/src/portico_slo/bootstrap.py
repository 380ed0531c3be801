"""The one place that wires slo's dependencies; nothing connects at import."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import grpc

from portico.slo.v1 import slo_pb2, slo_pb2_grpc
from portico_common.clock import Clock
from portico_common.runtime import Runtime, bootstrap_process, serve
from portico_common.uow import uow_factory
from portico_slo.adapters.metrics import PrometheusBurnRates
from portico_slo.adapters.postgres import SloPgUnitOfWork
from portico_slo.app.ports import UnitOfWorkFactory
from portico_slo.entrypoints.grpc_api import SloServicer
from portico_slo.entrypoints.jobs import upkeep_job
from portico_slo.settings import SloSettings

SERVICE = "slo"


def build_uow(rt: Runtime) -> UnitOfWorkFactory:
    return uow_factory(
        rt.db, lambda conn, tenant: SloPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )


async def run(settings: SloSettings, *, clock: Clock | None = None) -> None:
    rt = await Runtime.start(SERVICE, settings, "portico_slo.migrations", clock=clock)
    uow = build_uow(rt)
    gauge = PrometheusBurnRates()
    servicer = SloServicer(uow, gauge)

    def register(server: grpc.aio.Server) -> Iterable[str]:
        slo_pb2_grpc.add_SloServiceServicer_to_server(servicer, server)
        return [slo_pb2.DESCRIPTOR.services_by_name["SloService"].full_name]

    upkeep = upkeep_job(
        uow,
        gauge,
        refresh_seconds=settings.slo_gauge_refresh_seconds,
        prune_seconds=settings.slo_prune_seconds,
    )
    await serve(rt, register=register, background=[upkeep])


def main() -> None:
    settings = SloSettings()
    bootstrap_process(SERVICE, settings)
    asyncio.run(run(settings))
