"""The gRPC servicer maps requests to use cases and results to messages, nothing more."""

from __future__ import annotations

from typing import Any

from portico.slo.v1 import slo_pb2 as pb
from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.bootstrap import Dependencies, build
from portico_slo.entrypoints.grpc_api import SloServicer

# The servicer never touches its context; the interceptor owns metadata and errors.
NO_CONTEXT: Any = None


async def test_create_report_get_round_trip(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Create with defaults, a failing report, then Get: each response carries the SLO's state."""
    [registered, breaker_api] = build(
        Dependencies(uow=store.uow_factory(), clock=clock, gauge=gauge)
    ).servicers
    assert breaker_api.name == "portico.slo.v1.BreakerService"
    assert registered.name == "portico.slo.v1.SloService"
    servicer = registered.implementation
    assert isinstance(servicer, SloServicer)

    created = await servicer.CreateSlo(
        pb.CreateSloRequest(
            tenant_id="acme",
            plugin="@acme/p",
            version="1.0.0",
            objective=0.99,
            latency_threshold_ms=250,
        ),
        NO_CONTEXT,
    )
    reported = await servicer.ReportOutcomes(
        pb.ReportOutcomesRequest(
            tenant_id="acme",
            plugin="@acme/p",
            version="1.0.0",
            outcomes=[pb.Outcome(success=True, latency_ms=251)] * 12,
        ),
        NO_CONTEXT,
    )
    got = await servicer.GetSlo(
        pb.GetSloRequest(tenant_id="acme", slo_id=created.slo.slo_id), NO_CONTEXT
    )

    assert created.slo.state == pb.SLO_STATE_OK
    assert not created.slo.HasField("violated_at")
    assert (created.slo.short_window_seconds, created.slo.min_events) == (300, 10)
    assert reported == pb.ReportOutcomesResponse(
        slo_id=created.slo.slo_id,
        accepted=12,
        short_window_burn_rate=reported.short_window_burn_rate,
        long_window_burn_rate=reported.long_window_burn_rate,
        violated=True,
    )
    assert round(reported.short_window_burn_rate, 6) == 100.0
    assert got.slo.state == pb.SLO_STATE_VIOLATED
    assert got.slo.violated_at.ToDatetime().replace(tzinfo=clock.now().tzinfo) == clock.now()
    assert got.slo.latency_threshold_ms == 250
    assert got.slo.short_window_burn_rate == reported.short_window_burn_rate
