"""gRPC entrypoint of slo: map the request, call the use case, map back."""

from __future__ import annotations

from portico.slo.v1 import slo_pb2 as pb
from portico.slo.v1 import slo_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import optional_timestamp
from portico_slo.app import handlers
from portico_slo.app.ports import BurnRateGauge, SloRecord, UnitOfWorkFactory
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.slo import SloState

_STATES = {SloState.OK: pb.SLO_STATE_OK, SloState.VIOLATED: pb.SLO_STATE_VIOLATED}


def to_proto(slo: SloRecord) -> pb.Slo:
    d = slo.definition
    return pb.Slo(
        slo_id=d.slo_id,
        tenant_id=d.tenant_id,
        plugin=d.plugin,
        version=d.version,
        objective=d.objective,
        window_seconds=d.window_seconds,
        latency_threshold_ms=d.latency_threshold_ms,
        burn_rate_threshold=d.burn_rate_threshold,
        short_window_seconds=d.short_window_seconds,
        long_window_seconds=d.long_window_seconds,
        min_events=d.min_events,
        state=_STATES[slo.status.state],
        short_window_burn_rate=slo.short_window_burn_rate,
        long_window_burn_rate=slo.long_window_burn_rate,
        violated_at=optional_timestamp(slo.status.violated_at),
    )


class SloServicer(pb_grpc.SloServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, gauge: BurnRateGauge) -> None:
        self._uow = uow
        self._gauge = gauge

    async def CreateSlo(
        self, request: pb.CreateSloRequest, context: Context
    ) -> pb.CreateSloResponse:
        slo = await handlers.create_slo(
            self._uow,
            self._gauge,
            tenant_id=request.tenant_id,
            plugin=request.plugin,
            version=request.version,
            objective=request.objective,
            window_seconds=request.window_seconds,
            latency_threshold_ms=request.latency_threshold_ms,
            burn_rate_threshold=request.burn_rate_threshold,
            short_window_seconds=request.short_window_seconds,
            long_window_seconds=request.long_window_seconds,
            min_events=request.min_events,
        )
        return pb.CreateSloResponse(slo=to_proto(slo))

    async def GetSlo(self, request: pb.GetSloRequest, context: Context) -> pb.GetSloResponse:
        slo = await handlers.get_slo(
            self._uow, self._gauge, tenant_id=request.tenant_id, slo_id=request.slo_id
        )
        return pb.GetSloResponse(slo=to_proto(slo))

    async def ReportOutcomes(
        self, request: pb.ReportOutcomesRequest, context: Context
    ) -> pb.ReportOutcomesResponse:
        result = await handlers.report_outcomes(
            self._uow,
            self._gauge,
            tenant_id=request.tenant_id,
            plugin=request.plugin,
            version=request.version,
            outcomes=[ReportedOutcome(o.success, o.latency_ms) for o in request.outcomes],
        )
        return pb.ReportOutcomesResponse(
            slo_id=result.slo_id,
            accepted=result.accepted,
            short_window_burn_rate=result.short_window_burn_rate,
            long_window_burn_rate=result.long_window_burn_rate,
            violated=result.violated,
        )
