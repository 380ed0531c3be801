"""Burn-rate tiers in the app layer: pushed at once, recovered on the tick, canaries in seconds."""

from __future__ import annotations

from portico.events.v1 import events_pb2
from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import budgets, handlers
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.scope import Scope
from portico_slo.domain.slo import SloState
from portico_slo.domain.templates import SloSpec

TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"


async def create(
    store: MemoryStore,
    gauge: MemoryBurnRates,
    *,
    objective: float = 0.999,
    rollout_id: str = "",
    disabled: frozenset[str] = frozenset(),
) -> SloRecord:
    return await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="2.3.0",
        rollout_id=rollout_id,
        spec=SloSpec(objective=objective, disabled_tiers=disabled),
    )


async def prefill(store: MemoryStore, slo: SloRecord, seconds: int, per_second: int) -> None:
    """`seconds` of clean traffic before now, written straight into the buckets."""
    now = store.clock.now()
    b = slo.bucket_seconds
    high = bucket_key(now, b)
    async with store.transaction(TENANT) as tx:
        await tx.buckets.add(
            TENANT,
            slo.slo_id,
            {high - k: Counts(good=per_second * b) for k in range(b, seconds + b, b)},
        )


async def report(
    store: MemoryStore, gauge: MemoryBurnRates, good: int, bad: int, rollout_id: str = ""
) -> handlers.ReportResult:
    return await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="2.3.0",
        rollout_id=rollout_id,
        outcomes=[ReportedOutcome(True, 5)] * good + [ReportedOutcome(False, 5)] * bad,
    )


def events_of(store: MemoryStore) -> list[tuple[str, str]]:
    """The SLO's events; the version's breaker's own are asserted apart (breaker_events)."""
    found = []
    for event, _ in store.sink.events:
        if isinstance(event, events_pb2.BreakerOpened):
            continue
        assert isinstance(event, events_pb2.SloViolated | events_pb2.SloRecovered)
        found.append((type(event).__name__, event.tier))
    return found


def breaker_events(store: MemoryStore) -> list[events_pb2.BreakerOpened]:
    return [e for e, _ in store.sink.events if isinstance(e, events_pb2.BreakerOpened)]


async def test_total_failure_pages_after_52_seconds(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """On a 99.9% SLO with a clean hour behind it, 100% errors page 51.84 s in (one 1 s step).

    Only the page tier is on: with an hour of history the slower tiers' windows
    are not full yet (test_detection_table covers them with full windows).
    """
    slo = await create(store, gauge, disabled=frozenset({"page-6h", "ticket-1d", "ticket-3d"}))
    await prefill(store, slo, 3600, per_second=10)
    start = clock.now()
    detected = None
    for _ in range(70):
        result = await report(store, gauge, good=0, bad=10)
        clock.advance(seconds=1)
        if result.violated and detected is None:
            detected = (clock.now() - start).total_seconds()

    assert detected is not None
    assert abs(detected - 51.84) <= 1
    assert events_of(store) == [("SloViolated", "page-1h")]
    [event] = [e for e, _ in store.sink.events if isinstance(e, events_pb2.SloViolated)]
    assert event.long_window_burn_rate >= 14.4
    # The version's breaker (resilience4j's defaults) opened once, on its first 100 calls.
    [opened] = breaker_events(store)
    assert (opened.change.calls, opened.change.failure_rate) == (100, 100.0)
    assert len(store.sink.events) == 2


async def test_tick_recovers_a_burn_that_stopped_and_rearms(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Traffic stops after a violation: the tick emits slo.recovered; a new burn violates again."""
    slo = await create(store, gauge, objective=0.99)
    await report(store, gauge, good=20, bad=20)
    assert store.state.slos[slo.slo_id].status.state is SloState.VIOLATED

    clock.advance(minutes=2)
    await handlers.refresh_burn_rates(store.uow_factory(), gauge)  # the 5m window still burns
    clock.advance(minutes=4)
    assert (await handlers.refresh_burn_rates(store.uow_factory(), gauge)).evaluated == 1
    recovered_at = clock.now()
    clock.advance(hours=2)
    again = await report(store, gauge, good=0, bad=30)

    assert events_of(store) == [
        ("SloViolated", "page-1h"),
        ("SloRecovered", "page-1h"),
        ("SloViolated", "page-1h"),
    ]
    recovered = store.sink.events[1][0]
    assert isinstance(recovered, events_pb2.SloRecovered)
    assert recovered.slo_ok
    assert again.violated
    history = await budgets.list_violations(store.uow_factory(), tenant_id=TENANT)
    assert [r.recovered_at for r in history] == [None, recovered_at]
    first = history[1].violation
    assert (first.short_good, first.short_bad, first.long_good, first.long_bad) == (20, 20, 20, 20)


async def test_a_quiet_tick_changes_nothing(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """A tick over healthy SLOs opens no tenant transaction and emits nothing."""
    await create(store, gauge, objective=0.99)
    await report(store, gauge, good=100, bad=0)
    before = store.transactions
    clock.advance(minutes=1)

    await handlers.refresh_burn_rates(store.uow_factory(), gauge)

    assert store.transactions == before + 1  # the one read across tenants
    assert store.sink.events == []


async def test_bad_canary_is_caught_in_seconds(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """A canary cohort's SLO (5 s and 1 min windows, 20 samples) fires 2 s into total failure."""
    canary = await create(store, gauge, objective=0.99, rollout_id="r-1")
    assert [
        (t.name, t.short_window_seconds, t.long_window_seconds)
        for t in canary.definition.alerting.tiers
    ] == [("canary", 5, 60)]
    assert canary.bucket_seconds == 1
    seconds = 0
    result = await report(store, gauge, good=0, bad=10, rollout_id="r-1")
    while not result.violated:
        clock.advance(seconds=1)
        seconds += 1
        result = await report(store, gauge, good=0, bad=10, rollout_id="r-1")

    # The first 10 samples are under the 20-sample minimum; the second second's are not.
    assert seconds == 1
    [(event, _)] = store.sink.events
    assert isinstance(event, events_pb2.SloViolated)
    assert (event.tier, event.scope, event.rollout_id) == ("canary", "canary", "r-1")


async def test_too_little_traffic_never_pages(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Below min_events per short window, even 100% errors fire no tier."""
    await create(store, gauge, objective=0.99)
    for _ in range(12):
        await report(store, gauge, good=0, bad=1)
        clock.advance(minutes=1)

    assert store.sink.events == []


def test_each_tier_guards_its_own_short_window() -> None:
    """The traffic guard is a rate: a slower tier needs more events, as its window is longer."""
    policy = SloSpec(objective=0.99).policy_for(Scope.of(PLUGIN, "2.3.0"))
    assert [policy.min_events_for(t) for t in policy.tiers] == [10, 60, 240, 720]
    quieter = SloSpec(objective=0.99, min_events=20, disabled_tiers=frozenset({"page-1h"}))
    policy = quieter.policy_for(Scope.of(PLUGIN, "2.3.0"))
    # Measured against the fastest tier that is still enabled.
    assert [policy.min_events_for(t) for t in policy.enabled] == [20, 80, 240]
