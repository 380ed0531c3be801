"""Upkeep: burn-rate gauges recomputed for every SLO, old buckets pruned, the loop survives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY

from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore, MemoryUnitOfWork
from portico_slo.app import evaluation, handlers
from portico_slo.app.evaluation import Tick
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.bootstrap import Dependencies, build
from portico_slo.domain.objective import SloDefinition

PLUGIN = "@acme/plugin-cost-insights"


class SignallingBurnRates(MemoryBurnRates):
    """Records burn rates and says when the first arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.updated = asyncio.Event()

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None:
        super().set(definition, short_burn, long_burn)
        self.updated.set()


async def slo_with_traffic(
    store: MemoryStore, gauge: MemoryBurnRates, tenant_id: str, bad: int
) -> SloRecord:
    slo = await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id=tenant_id,
        plugin=PLUGIN,
        version="2.3.0",
        objective=0.99,
        min_events=10_000,
    )
    await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=tenant_id,
        plugin=PLUGIN,
        version="2.3.0",
        outcomes=[ReportedOutcome(False, 1)] * bad + [ReportedOutcome(True, 1)] * (100 - bad),
    )
    return slo


async def test_refresh_decays_every_tenants_gauges(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Refreshing recomputes each tenant's SLO now, so gauges fall once traffic stops."""
    ours = await slo_with_traffic(store, gauge, "acme", bad=10)
    theirs = await slo_with_traffic(store, gauge, "globex", bad=20)

    clock.advance(minutes=10)
    assert await handlers.refresh_burn_rates(store.uow_factory(), gauge) == Tick(2, 2)
    midway = (gauge.values[ours.slo_id], gauge.values[theirs.slo_id])
    clock.advance(hours=1)
    await handlers.refresh_burn_rates(store.uow_factory(), gauge)

    assert [(round(s, 6), round(lg, 6)) for s, lg in midway] == [(0.0, 10.0), (0.0, 20.0)]
    assert gauge.values == {ours.slo_id: (0.0, 0.0), theirs.slo_id: (0.0, 0.0)}


async def test_prune_keeps_only_what_the_budget_reads(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Pruning deletes buckets older than two budget periods and a day, keeping newer ones.

    The SLOs have a 30-day window: buckets are kept 61 days, for the budget
    and its history a period back.
    """
    slo = await slo_with_traffic(store, gauge, "acme", bad=1)
    clock.advance(days=61, minutes=-1)
    await slo_with_traffic(store, gauge, "globex", bad=1)
    clock.advance(minutes=2)

    deleted = await handlers.prune_buckets(store.uow_factory())

    assert deleted == 1
    assert store.bucket_counts(slo.slo_id) == {}
    assert sum(len(b) for b in store.state.buckets.values()) == 1


async def test_upkeep_loop_survives_failures_and_stops(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """A failing transaction is logged and retried next tick; the stop event ends the loop."""
    slo = await slo_with_traffic(store, gauge, "acme", bad=10)
    signalling = SignallingBurnRates()
    failures = 3

    @asynccontextmanager
    async def flaky(tenant_id: str) -> AsyncIterator[MemoryUnitOfWork]:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("database unavailable")
        async with store.transaction(tenant_id) as tx:
            yield tx

    stop = asyncio.Event()
    [job, breaker_tick] = build(
        Dependencies(uow=flaky, clock=clock, gauge=signalling, gauge_refresh_seconds=0.01)
    ).background
    assert (job.__name__, breaker_tick.__name__) == ("slo_upkeep", "slo_breakers")
    task = asyncio.create_task(job(stop))
    await asyncio.wait_for(signalling.updated.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(task, timeout=1)

    assert failures == 0
    assert round(signalling.values[slo.slo_id][0], 6) == 10.0


class CountingBurnRates(MemoryBurnRates):
    """Counts the burn rates set, so a probe can see how far a tick has got."""

    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None:
        super().set(definition, short_burn, long_burn)
        self.sets += 1


async def test_a_tick_over_many_slos_lets_other_work_run_before_it_ends(
    store: MemoryStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The evaluator hands the event loop back while judging thousands of SLOs, so a tenant's
    read served by the same process is not held until the whole tick ends."""
    monkeypatch.setattr(evaluation, "EVALUATIONS_PER_YIELD", 2)
    gauge = CountingBurnRates()
    total = 7
    for i in range(total):
        await slo_with_traffic(store, gauge, f"t{i}", bad=0)  # traffic: the tick judges them
    gauge.sets = 0
    seen: list[int] = []
    tick = asyncio.ensure_future(handlers.refresh_burn_rates(store.uow_factory(), gauge))
    while not tick.done():
        seen.append(gauge.sets)
        await asyncio.sleep(0)
    assert await tick == Tick(total, total)
    assert any(0 < n < total for n in seen), seen


async def _tick_metrics_once_settled(job_gauge: SignallingBurnRates, job: Any) -> list[float]:
    """Runs the upkeep job until a tick after the first has been exported; the judged counts."""
    stop = asyncio.Event()
    task = asyncio.create_task(job(stop))
    judged: list[float] = []
    try:
        await asyncio.wait_for(job_gauge.updated.wait(), timeout=5)
        async with asyncio.timeout(5):
            while len(judged) < 2:
                value = REGISTRY.get_sample_value("portico_slo_tick_evaluated")
                if value is not None and (not judged or value != judged[-1]):
                    judged.append(value)
                await asyncio.sleep(0.001)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=1)
    return judged


async def test_upkeep_exports_how_many_slos_each_tick_judged(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """The tick's gauges: the first judges every SLO, later ones the one with outcomes,
    of all of them."""
    await slo_with_traffic(store, gauge, "acme", bad=10)
    await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id="globex", plugin=PLUGIN, version="1.0.0",
        objective=0.99,
    )  # fmt: skip
    signalling = SignallingBurnRates()
    [job, _] = build(
        Dependencies(
            uow=store.uow_factory(), clock=clock, gauge=signalling, gauge_refresh_seconds=0.01
        )
    ).background

    assert await _tick_metrics_once_settled(signalling, job) == [2, 1]
    assert REGISTRY.get_sample_value("portico_slo_tick_slos") == 2


async def test_a_restarted_process_shows_idle_slos_at_zero_after_its_first_tick(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """A new process's gauge has no series; its first tick gives every SLO one, the idle
    ones (no outcomes, OK) at 0, which later ticks, judging only the active, leave as is."""
    busy = await slo_with_traffic(store, gauge, "acme", bad=10)
    idle = [
        await handlers.create_slo(
            store.uow_factory(), gauge, tenant_id=tenant, plugin=PLUGIN, version="1.0.0",
            objective=0.99,
        )
        for tenant in ("globex", "initech")
    ]  # fmt: skip
    restarted = SignallingBurnRates()
    [job, _] = build(
        Dependencies(
            uow=store.uow_factory(), clock=clock, gauge=restarted, gauge_refresh_seconds=0.01
        )
    ).background

    await _tick_metrics_once_settled(restarted, job)

    assert {slo.slo_id: restarted.values.get(slo.slo_id) for slo in idle} == {
        slo.slo_id: (0.0, 0.0) for slo in idle
    }
    assert round(restarted.values[busy.slo_id][1], 6) == 10.0
