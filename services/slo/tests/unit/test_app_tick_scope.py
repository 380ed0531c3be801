"""The evaluator's tick judges only the SLOs it can change, with the outcomes of judging all."""

from __future__ import annotations

from portico.events.v1 import events_pb2
from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers
from portico_slo.app.evaluation import Tick
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.slo import SloState
from portico_slo.domain.templates import SloSpec

PLUGIN = "@acme/plugin-cost-insights"


async def create(store: MemoryStore, gauge: MemoryBurnRates, tenant_id: str) -> SloRecord:
    """An SLO with the default tiers (windows up to 3 days)."""
    return await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id=tenant_id,
        plugin=PLUGIN,
        version="2.3.0",
        spec=SloSpec(objective=0.99),
    )


async def report(
    store: MemoryStore, gauge: MemoryBurnRates, tenant_id: str, *, good: int, bad: int
) -> handlers.ReportResult:
    return await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=tenant_id,
        plugin=PLUGIN,
        version="2.3.0",
        outcomes=[ReportedOutcome(True, 5)] * good + [ReportedOutcome(False, 5)] * bad,
    )


async def tick(store: MemoryStore, gauge: MemoryBurnRates) -> Tick:
    return await handlers.refresh_burn_rates(store.uow_factory(), gauge)


def slo_events(store: MemoryStore) -> list[tuple[str, str]]:
    return [
        (type(e).__name__, e.tier)
        for e, _ in store.sink.events
        if isinstance(e, events_pb2.SloViolated | events_pb2.SloRecovered)
    ]


async def test_an_idle_slo_is_not_judged(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """SLOs with no outcome in their windows, OK and at 0 are left alone; the busy one is judged."""
    never = await create(store, gauge, "never-used")
    stale = await create(store, gauge, "stale")
    await report(store, gauge, "stale", good=100, bad=0)
    clock.advance(days=4)  # past the longest window (3 days)
    busy = await create(store, gauge, "busy")
    await report(store, gauge, "busy", good=100, bad=0)
    gauge.values.clear()

    assert await tick(store, gauge) == Tick(evaluated=1, total=3)

    assert set(gauge.values) == {busy.slo_id}
    assert never.slo_id not in gauge.values
    assert stale.slo_id not in gauge.values


async def test_a_gauge_falls_to_0_once_after_the_last_outcome_leaves_the_windows(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """The tick left the gauge above 0: it judges the SLO once more to set 0, then skips it."""
    slo = await create(store, gauge, "acme")
    await report(store, gauge, "acme", good=995, bad=5)  # 0.5% errors: burns, fires no tier
    clock.advance(minutes=1)
    assert await tick(store, gauge) == Tick(1, 1)
    assert gauge.values[slo.slo_id] != (0.0, 0.0)
    assert gauge.burning() == {slo.slo_id}

    clock.advance(days=4)  # every window is empty now
    assert await tick(store, gauge) == Tick(1, 1)
    assert gauge.values[slo.slo_id] == (0.0, 0.0)
    assert gauge.burning() == frozenset()

    gauge.values.clear()
    assert await tick(store, gauge) == Tick(0, 1)
    assert gauge.values == {}
    assert slo_events(store) == []


async def test_a_violated_slo_without_new_outcomes_recovers_as_its_windows_slide(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Firing tiers are judged with no outcome left in any window and no gauge memory (a
    fresh process): the SLO recovers and is re-armed, and is idle from then on."""
    reporting = MemoryBurnRates()
    slo = await create(store, reporting, "acme")
    await report(store, reporting, "acme", good=20, bad=20)
    assert store.state.slos[slo.slo_id].status.state is SloState.VIOLATED

    clock.advance(days=4)
    gauge = MemoryBurnRates()  # a restarted process: nothing is known to burn
    assert await tick(store, gauge) == Tick(1, 1)

    recovered = store.state.slos[slo.slo_id]
    assert recovered.status.state is SloState.OK
    assert recovered.status.tiers == {}
    assert gauge.values == {slo.slo_id: (0.0, 0.0)}
    assert slo_events(store) == [("SloViolated", "page-1h"), ("SloRecovered", "page-1h")]
    assert await tick(store, gauge) == Tick(0, 1)

    again = await report(store, gauge, "acme", good=0, bad=30)
    assert again.violated
    assert slo_events(store)[-1] == ("SloViolated", "page-1h")
