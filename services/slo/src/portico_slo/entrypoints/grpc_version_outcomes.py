"""GetVersionOutcomes: the request mapped to `version_outcomes.series`, the series mapped back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portico.slo.v1 import slo_pb2 as pb
from portico_common.timestamps import timestamp_field, to_timestamp
from portico_slo.app import version_outcomes
from portico_slo.app.ports import UnitOfWorkFactory
from portico_slo.domain.version_outcomes import Tally
from portico_slo.errors import InvalidSloDefinitionError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _interval(start: int, tally: Tally) -> pb.OutcomeInterval:
    return pb.OutcomeInterval(
        start=to_timestamp(_EPOCH + timedelta(seconds=start)),
        total=tally.total,
        errors=tally.errors,
        latency_mean_ms=tally.mean_ms,
        latency_p50_ms=tally.percentile_ms(0.50),
        latency_p95_ms=tally.percentile_ms(0.95),
        latency_p99_ms=tally.percentile_ms(0.99),
    )


async def get_version_outcomes(
    uow: UnitOfWorkFactory, request: pb.GetVersionOutcomesRequest
) -> pb.GetVersionOutcomesResponse:
    start = timestamp_field(request, "start")
    end = timestamp_field(request, "end")
    if start is None or end is None:
        raise InvalidSloDefinitionError("start", "a range needs both start and end")
    found = await version_outcomes.series(
        uow,
        tenant_id=request.tenant_id,
        plugin=request.plugin,
        versions=list(request.versions),
        start=start,
        end=end,
        step_seconds=request.step_seconds,
    )
    first = int((start - _EPOCH).total_seconds() // 1)
    return pb.GetVersionOutcomesResponse(
        series=[
            pb.VersionOutcomeSeries(
                version=s.version,
                summary=_interval(first, s.summary),
                intervals=[_interval(i.start, i.tally) for i in s.intervals],
                burn_rate=s.burn_rate,
                slo_id=s.slo_id,
            )
            for s in found
        ]
    )
