"""Error budgets over rolling and calendar windows, by events and by slices; history; dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import budgets, handlers
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.durations import Duration
from portico_slo.domain.indicator import BudgetingMethod
from portico_slo.domain.templates import SloSpec
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import InvalidSloDefinitionError

TENANT = "acme"


async def create(
    store: MemoryStore, gauge: MemoryBurnRates, spec: SloSpec, plugin: str = "@acme/p"
) -> SloRecord:
    return await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=plugin, version="1.0.0", spec=spec
    )


async def report(
    store: MemoryStore, gauge: MemoryBurnRates, good: int, bad: int, plugin: str = "@acme/p"
) -> None:
    await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=plugin,
        version="1.0.0",
        outcomes=[ReportedOutcome(True, 1)] * good + [ReportedOutcome(False, 1)] * bad,
    )


async def budget(store: MemoryStore, slo: SloRecord, **kwargs: object) -> budgets.BudgetView:
    return await budgets.error_budget(
        store.uow_factory(),
        tenant_id=TENANT,
        slo_id=slo.slo_id,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_occurrences_budget_on_a_rolling_window(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """5 bad of 1,000 against 99%: half the budget spent; events older than the window drop out."""
    slo = await create(store, gauge, SloSpec(objective=0.99, window=TimeWindow(Duration(1, "d"))))
    await report(store, gauge, good=500, bad=10)
    clock.advance(days=1, minutes=1)
    await report(store, gauge, good=995, bad=5)
    view = await budget(store, slo)

    b = view.budget
    assert (b.summary.events.good, b.summary.events.bad) == (995, 5)
    assert (b.allowed, b.spent) == (pytest.approx(10.0), 5.0)
    assert (b.consumed, b.remaining, b.burn_rate) == (
        pytest.approx(0.5),
        pytest.approx(0.5),
        pytest.approx(0.5),
    )
    assert (b.period_start, b.period_end) == (clock.now() - timedelta(days=1), clock.now())


async def test_calendar_window_starts_at_the_period(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """A calendar month counts from the first of the month: February's failures are forgiven."""
    clock.set(datetime(2026, 2, 28, 23, 58, tzinfo=UTC))
    window = TimeWindow(Duration(1, "M"), rolling=False, calendar_start=datetime(2026, 1, 1))  # noqa: DTZ001
    slo = await create(store, gauge, SloSpec(objective=0.99, window=window))
    await report(store, gauge, good=0, bad=50)
    clock.advance(minutes=12)
    await report(store, gauge, good=198, bad=2)
    b = (await budget(store, slo)).budget

    assert b.period_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert b.period_end == datetime(2026, 4, 1, tzinfo=UTC)
    assert (b.summary.events.total, b.spent, b.consumed) == (200, 2.0, pytest.approx(1.0))


async def test_timeslices_budget_counts_bad_minutes_of_the_whole_period(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """A day of 1-minute slices at 99% allows 14.4 bad minutes; three bad ones spend 3/14.4."""
    spec = SloSpec(
        objective=0.99,
        window=TimeWindow(Duration(1, "d")),
        budgeting=BudgetingMethod.TIMESLICES,
        timeslice_target=0.9,
        timeslice_seconds=60,
    )
    slo = await create(store, gauge, spec)
    assert slo.bucket_seconds == 60
    for minute in range(10):
        bad = 2 if minute in (2, 5, 7) else 0  # 2 of 10 is under the 90% slice target
        await report(store, gauge, good=10 - bad, bad=bad)
        clock.advance(minutes=1)
    b = (await budget(store, slo)).budget

    assert (b.summary.good_slices, b.summary.bad_slices) == (7, 3)
    assert b.allowed == pytest.approx(14.4)
    assert b.consumed == pytest.approx(3 / 14.4)


async def test_ratio_timeslices_budget_averages_the_slices(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """RatioTimeslices spends the slices' average shortfall: slices at 100%, 100%, 70% spend 0.3."""
    spec = SloSpec(
        objective=0.9,
        window=TimeWindow(Duration(1, "d")),
        budgeting=BudgetingMethod.RATIO_TIMESLICES,
        timeslice_seconds=60,
        disabled_tiers=frozenset({"page-1h"}),
    )
    slo = await create(store, gauge, spec)
    for good, bad in ((10, 0), (50, 0), (7, 3)):
        await report(store, gauge, good=good, bad=bad)
        clock.advance(minutes=1)
    b = (await budget(store, slo)).budget

    assert b.spent == pytest.approx(0.3)
    assert b.allowed == pytest.approx(0.3)  # 10% of 3 slices
    assert b.burn_rate == pytest.approx(1.0)


async def test_burn_rate_over_any_window_and_history(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Burn over chosen windows, and the budget's history at hourly points."""
    slo = await create(store, gauge, SloSpec(objective=0.99, window=TimeWindow(Duration(1, "d"))))
    for hour in range(4):
        await report(store, gauge, good=100 - hour, bad=hour)  # 0%, 1%, 2%, 3% errors
        clock.advance(hours=1)
    view = await budget(
        store,
        slo,
        burn_windows=[3600, 2 * 3600, 4 * 3600],
        history_points=4,
        history_step_seconds=3600,
    )

    # A window ending now excludes the bucket exactly its length ago (the first, clean, hour).
    assert [round(b.burn_rate, 6) for b in view.burns] == [0.0, 3.0, 2.0]
    assert [round(h.spent) for h in view.history] == [0, 1, 3, 6]
    assert [round(h.consumed, 4) for h in view.history] == [0.0, round(1 / 2, 4), 1.0, 1.5]
    with pytest.raises(InvalidSloDefinitionError, match="history_step_seconds"):
        await budget(store, slo, history_points=2, history_step_seconds=1000)


async def test_dashboard_scores_plugins(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Health is 100 x the lowest remaining budget, 0 while a page fires; violations come along."""
    healthy = await create(store, gauge, SloSpec(objective=0.99), plugin="@acme/ok")
    failing = await create(store, gauge, SloSpec(objective=0.99), plugin="@acme/broken")
    await report(store, gauge, good=998, bad=2, plugin="@acme/ok")
    await report(store, gauge, good=10, bad=40, plugin="@acme/broken")
    board = await budgets.dashboard(store.uow_factory(), tenant_id=TENANT)

    assert [(p.plugin, p.slos, p.violated) for p in board.plugins] == [
        ("@acme/broken", 1, 1),
        ("@acme/ok", 1, 0),
    ]
    broken, ok = board.plugins
    assert broken.health_score == 0.0
    assert ok.health_score == pytest.approx(80.0)  # 2 bad of the 10 allowed
    panels = {p.slo.slo_id: p for p in board.panels}
    assert [v.violation.tier for v in panels[failing.slo_id].violations] == ["page-1h"]
    assert panels[healthy.slo_id].violations == []
    assert [t.tier.name for t in panels[failing.slo_id].evaluation.tiers] == [
        "page-1h",
        "page-6h",
        "ticket-1d",
        "ticket-3d",
    ]
    only = await budgets.dashboard(store.uow_factory(), tenant_id=TENANT, plugin="@acme/ok")
    assert [p.plugin for p in only.plugins] == ["@acme/ok"]
